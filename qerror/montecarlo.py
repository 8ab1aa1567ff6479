r"""Monte-Carlo estimate of the quantization error, with its standard error.

:func:`simulate_mse` draws :math:`W_1, \dots, W_n` from a law (scipy.stats frozen laws
and clamped laws alike), quantizes them with :func:`qerror.quantize` and returns

.. math::

    \hat E = \frac1n \sum_{j=1}^n \bigl(W_j - Q(W_j)\bigr)^2,
    \qquad \widehat{\mathrm{se}} = \frac{s}{\sqrt n},

where :math:`s` is the sample standard deviation of the squared errors, split into the
truncation part (:math:`W_j` outside the range) and the rounding part (inside), each a
mean over all :math:`n` draws so that the two add up to :math:`\hat E`.

The samples are drawn and reduced in chunks (``chunk_size`` values at a time; sums
merged with Chan's pairwise update, so no precision is lost over :math:`10^8` or more
draws), so memory stays bounded whatever `n` is.  Randomness comes only from
``numpy.random.default_rng(seed)`` and the law's ``rvs(size=..., random_state=rng)``.

Common random numbers: :meth:`qerror.laws.ClampedDistribution.rvs` clips the draws of its
base law, so ``simulate_mse(W, ..., seed=s)`` and ``simulate_mse(clamp(W, d), ...,
seed=s)`` (same `n` and `chunk_size`) see the *same* draws, clipped in the second
case; differences between the two are then free of sampling noise between laws.  All
boundaries and bit-widths of one call (they broadcast) also share one set of draws.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike

from ._dispatch import law_or_data
from ._validation import (
    broadcast_alpha_bits,
    check_alpha,
    check_count,
    check_model,
)
from .formats import get_format

__all__ = ["simulate_mse", "MonteCarloMSE"]

#: default number of draws per chunk: 2**16 float64 values (512 KiB per array, which
#: keeps the dozen temporaries of one chunk in cache; larger chunks run slower)
DEFAULT_CHUNK = 1 << 16
#: largest `n` accepted (every count below is exact in float64)
MAX_N = 1 << 53


@dataclass(frozen=True, repr=False)
class MonteCarloMSE:
    r"""Result of :func:`simulate_mse` (frozen).

    The numeric fields are Python floats for scalar `alpha` and `bits`, and arrays of
    their broadcast shape otherwise.

    Attributes
    ----------
    mse : float or ndarray
        :math:`\hat E`, the mean of :math:`(W_j - Q(W_j))^2` over the `n` draws
        (``truncation + rounding``).  ``inf`` for an unclamped law of infinite
        variance, whose error is infinite (the sample mean does not converge).
    stderr : float or ndarray
        Standard error of `mse`: sample standard deviation over :math:`\sqrt n`.
    truncation, truncation_stderr : float or ndarray
        Part of `mse` from draws outside the range (:math:`|W_j| > \alpha`; below 0 or
        above :math:`\alpha` on the unsigned grid), and its standard error.
    rounding, rounding_stderr : float or ndarray
        Part of `mse` from draws inside the range, and its standard error.  In the
        ACIQ model this is the constant :math:`\Delta^2/12` with standard error 0.
    n : int
        Number of draws.
    alpha, bits : float or ndarray
        The boundaries and bit-widths (broadcast).
    model, grid : str
        As passed.
    seed : int or None
        The seed actually used: the integer given, or the entropy that
        ``numpy.random.SeedSequence()`` drew when `seed` was None, so that every run
        can be repeated; None when a ``Generator`` was passed.
    chunk_size : int
        Draws per chunk (the stream of draws depends on it for some laws).
    """

    mse: object
    stderr: object
    truncation: object
    truncation_stderr: object
    rounding: object
    rounding_stderr: object
    n: int
    alpha: object
    bits: object
    model: str
    grid: str
    seed: object
    chunk_size: int

    def zscore(self, value):
        r"""Standardized distance :math:`(\text{value} - \hat E)/\widehat{\mathrm{se}}`.

        Where the standard error is 0 (a deterministic estimate, e.g. the ACIQ model
        with nothing clipped) the two must agree to rounding: ``0.0`` if
        :math:`|\text{value} - \hat E| \le 16\,\epsilon\,|\hat E|`, else
        :math:`\pm\infty`.
        """
        v = np.asarray(value, dtype=np.float64)
        m = np.asarray(self.mse, dtype=np.float64)
        s = np.asarray(self.stderr, dtype=np.float64)
        tiny = 16 * np.finfo(float).eps * np.abs(m)
        same = (v == m) | ((s == 0) & (np.abs(v - m) <= tiny))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(same, 0.0, (v - m) / s)
        return float(z) if z.ndim == 0 else z

    def __repr__(self) -> str:
        lines = [f"{f.name:>17}: {getattr(self, f.name)!r}" for f in fields(self)]
        return "MonteCarloMSE(\n" + "\n".join(lines) + "\n)"


def _make_rng(seed):
    """(Generator, recorded seed) from an int, None, SeedSequence or Generator."""
    if isinstance(seed, np.random.Generator):
        return seed, None
    if seed is None:
        ss = np.random.SeedSequence()
        return np.random.default_rng(ss), int(ss.entropy)
    if isinstance(seed, np.random.SeedSequence):
        ent = seed.entropy if isinstance(seed.entropy, int) else None
        return np.random.default_rng(seed), ent
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError("seed must be None, a non-negative integer, a "
                        f"numpy.random.SeedSequence or a Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed!r}")
    return np.random.default_rng(int(seed)), int(seed)


# ------------------------------------------------------------------ accumulation
class _Moments:
    """Count, mean and centred sum of squares of K series, merged chunk by chunk.

    Chan et al.'s pairwise update: merging (n_a, m_a, M_a) with a chunk's
    (n_b, m_b, M_b) gives M = M_a + M_b + (m_b - m_a)^2 n_a n_b / n, so no large sums
    of squares are subtracted.
    """

    def __init__(self, k: int):
        self.n = 0
        self.mean = np.zeros(k)
        self.m2 = np.zeros(k)

    def add(self, j: int, nb: int, mb: float, m2b: float) -> None:
        if not (math.isfinite(mb) and math.isfinite(self.mean[j])):
            # squared errors that overflow: the mean is inf, and so is its spread
            self.mean[j] = self.m2[j] = math.inf
            return
        na = self.n
        if na == 0:
            self.mean[j], self.m2[j] = mb, m2b
            return
        n = na + nb
        delta = mb - self.mean[j]
        self.mean[j] += delta * nb / n
        self.m2[j] += m2b + delta * delta * (na * nb / n)

    @staticmethod
    def chunk(v: np.ndarray):
        """(mean, centred sum of squares) of one chunk, in two passes.

        No ``np.dot``: it calls a multithreaded BLAS, which is many times slower than a
        plain loop on a machine whose cores are busy.
        """
        m = float(v.mean())
        if not math.isfinite(m):
            return math.inf, math.inf
        d = v - m
        d *= d
        return m, float(d.sum())


def simulate_mse(dist, alpha: ArrayLike, bits: ArrayLike = None, *, n: int = 1_000_000,
                 seed=None, grid=None, model: str = "exact",
                 chunk_size: int = DEFAULT_CHUNK) -> MonteCarloMSE:
    r"""Monte-Carlo estimate of the quantization MSE of `dist`, with standard error.

    .. math::

        \hat E(\alpha) = \frac1n\sum_{j=1}^n \bigl(W_j - Q(W_j)\bigr)^2,
        \qquad W_j \sim \text{dist} \text{ i.i.d.},

    where :math:`\alpha` is `alpha` and :math:`Q` the `bits`-bit quantizer of `grid`
    (:func:`qerror.quantize`).  It estimates :func:`qerror.mse` with
    ``model="exact"``; with ``model="aciq"`` it estimates the supplement's Eq. 3
    (clipped draws measured against the range, plus the constant :math:`\Delta^2/12`).

    Parameters
    ----------
    dist : scipy.stats frozen continuous distribution or ClampedDistribution
        The law of :math:`W` (data arrays are not sampled: their error is computed
        exactly by :func:`qerror.mse`).
    alpha : array_like
        Clipping boundary, finite and > 0.
    bits : array_like of int
        Bit-width, 1 to 64 (2 to 64 on the midtread grid).  `alpha` and `bits`
        broadcast; every combination is evaluated on the same draws.
    n : int, optional
        Number of draws, at least 2 (default :math:`10^6`).  Whole floats such as
        ``1e8`` are accepted.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Passed to :func:`numpy.random.default_rng`.  The seed used is recorded in the
        result.
    grid : str or qerror.formats.Format, optional
        Quantizer format (:mod:`qerror.formats`, default ``"midrise"``); ``"pow2"`` is
        the power-of-two grid of :func:`qerror.nonuniform.pow2_quantize`
        (levels :math:`\pm\alpha 2^{-k}`, at most 10 bits, ``model="exact"`` only);
        it estimates :func:`qerror.nonuniform.pow2_mse`.
    model : {"exact", "aciq"}
    chunk_size : int, optional
        Draws per chunk; memory use is a few arrays of this length (default
        :math:`2^{16}`).

    Returns
    -------
    MonteCarloMSE
        ``mse``, ``stderr``, ``n`` and the split ``truncation`` / ``rounding`` with
        their standard errors.

    Raises
    ------
    TypeError
        If `dist` is not a frozen continuous law (or a clamped one), or an argument
        has the wrong type.
    ValueError
        If `alpha`, `bits`, `n`, `chunk_size`, `grid`, `model` or `seed` are out of
        range.

    Notes
    -----
    The standard error is that of a mean of i.i.d. squared errors, so the estimate is
    within a few standard errors of :func:`qerror.mse` when the squared error has a
    finite variance (a finite fourth moment of :math:`W`).  For a law with infinite
    variance the true error is infinite; the result then reports ``mse``,
    ``truncation`` and both of their standard errors as ``inf`` instead of a finite
    but meaningless sample mean.

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> from qerror.montecarlo import simulate_mse  # also qerror.simulate_mse
    >>> r = simulate_mse(stats.norm(), 2.0, 4, n=200_000, seed=1)
    >>> exact = qerror.mse(stats.norm(), 2.0, 4)
    >>> round(exact, 4), abs(r.zscore(exact)) < 4
    (0.0215, True)
    >>> r.n, abs(r.truncation + r.rounding - r.mse) < 1e-15
    (200000, True)
    """
    fmt = get_format(grid)
    model = check_model(model)
    if model == "aciq" and not fmt.uniform:
        raise ValueError(f"model='aciq' needs a uniform grid; grid {fmt.name!r} has "
                         "unequal steps (use model='exact')")
    law, _ = law_or_data(dist)  # TypeError/ValueError for unfrozen or discrete laws
    if law is None:
        raise TypeError("dist must be a frozen scipy.stats continuous distribution or a "
                        "qerror.clamp(...) law; for data arrays use qerror.mse, which "
                        "is exact")
    a = check_alpha(alpha)
    b = fmt.check_bits(bits)
    n = check_count(n, "n", 2, MAX_N)
    chunk_size = check_count(chunk_size, "chunk_size", 1, 1 << 30)
    rng, seed_used = _make_rng(seed)

    a, b = broadcast_alpha_bits(a, b)
    shape = a.shape
    a1 = a.ravel().astype(np.float64)
    b1 = b.ravel().astype(np.int64)
    k = a1.size
    geo = fmt.geometry(a1, b1)
    lo, hi = geo.lo, geo.hi
    total, trunc, rnd = _Moments(k), _Moments(k), _Moments(k)

    done = 0
    while done < n:
        m = min(chunk_size, n - done)
        x = np.asarray(dist.rvs(size=m, random_state=rng), dtype=np.float64).ravel()
        if x.size != m:  # pragma: no cover - a law whose rvs ignores size
            raise TypeError(f"dist.rvs(size={m}) returned {x.size} values")
        for j in range(k):
            if model == "exact":
                with np.errstate(over="ignore"):
                    e = x - fmt.quantize(x, np.full(x.shape, a1[j]), np.full(x.shape, b1[j]))
            else:
                e = x - np.clip(x, lo[j], hi[j])
            with np.errstate(over="ignore"):  # an overflowing square is inf, and reported
                e *= e
                outside = (x < lo[j]) | (x > hi[j])
                series = [(total, e), (trunc, np.where(outside, e, 0.0))]
                if model == "exact":
                    series.append((rnd, np.where(outside, 0.0, e)))
                for acc, v in series:
                    mb, m2b = _Moments.chunk(v)
                    acc.add(j, m, mb, m2b)
        done += m
        for acc in (total, trunc, rnd):
            acc.n = done

    def se(acc):
        with np.errstate(over="ignore"):
            return np.sqrt(acc.m2 / (n - 1) / n)

    mse_, se_mse = total.mean.copy(), se(total)
    t_, se_t = trunc.mean.copy(), se(trunc)
    if model == "exact":
        r_, se_r = rnd.mean.copy(), se(rnd)
    else:  # ACIQ rounding is the deterministic uniform-noise term
        with np.errstate(over="ignore"):
            r_, se_r = geo.step**2 / 12.0, np.zeros(k)
        mse_ = t_ + r_
    if law.family.infinite_variance and (law.upper == np.inf or law.lower == -np.inf):
        # E[(W - Q(W))^2] = inf: do not report a finite sample mean
        mse_ = np.full(k, np.inf)
        t_ = np.full(k, np.inf)
        se_mse = np.full(k, np.inf)
        se_t = np.full(k, np.inf)

    def out(v):
        v = np.asarray(v, dtype=np.float64).reshape(shape)
        return float(v) if v.ndim == 0 else v

    bits_out = b1.reshape(shape)
    return MonteCarloMSE(out(mse_), out(se_mse), out(t_), out(se_t), out(r_), out(se_r),
                         n, out(a1), int(bits_out) if bits_out.ndim == 0 else bits_out,
                         model, fmt.name, seed_used, chunk_size)
