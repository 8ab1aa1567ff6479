r"""Quantized products: the error of :math:`Q(W)\,Q(X)` for independent :math:`W, X`.

A layer multiplies weights by activations, and with both quantized what it feels is
the error of the product.  For independent :math:`W` and :math:`X` it reduces to three
moments of each quantizer (with :math:`e = W - Q(W)`):

.. math::

    S = \mathbb E[W^2], \qquad m = \mathbb E[e^2] \ \text{(the MSE)}, \qquad
    g = \mathbb E[Q(W)\,e],

because :math:`WX - Q(W)Q(X) = e_W X + Q(W) e_X` and independence factors every
expectation:

.. math::

    \mathbb E\bigl[(WX - Q(W)Q(X))^2\bigr]
      = \mathbb E[W^2]\mathbb E[X^2] - 2\,\mathbb E[WQ(W)]\,\mathbb E[XQ(X)]
        + \mathbb E[Q(W)^2]\,\mathbb E[Q(X)^2]
      = S_W m_X + S_X m_W - m_W m_X + 2\,g_W g_X .

:math:`g` is the stationarity function of the clipping problem: on every format whose
levels scale with :math:`\alpha`, :math:`dm/d\alpha = -2g/\alpha`, so :math:`g = 0` at
the MSE-optimal :math:`\alpha`.  This gives the two-dimensional optimum in closed
form (:func:`optimal_product_alpha`): the pair of the two separately optimal
boundaries minimises the product error *globally*, and the minimum is
:math:`S_WS_X - (S_W - m_W^*)(S_X - m_X^*)`.

*Dot products.*  :math:`y = \sum_{k=1}^n W_k X_k` with all :math:`W_k, X_k`
independent, :math:`W_k \sim W`, :math:`X_k \sim X`: the error is a sum of :math:`n`
i.i.d. terms :math:`D_k = W_kX_k - Q(W_k)Q(X_k)`, so

.. math::

    \mathbb E\Bigl[\Bigl(\sum_k D_k\Bigr)^2\Bigr] = n\,\mathbb E[D^2] + n(n-1)\,
    \mathbb E[D]^2, \qquad
    \mathbb E[D] = \mu_W\beta_X + \mu_X\beta_W - \beta_W\beta_X,

with :math:`\mu = \mathbb E[W]` and the bias :math:`\beta = \mathbb E[W - Q(W)]`
(:func:`qerror.bias`).  For laws symmetric about 0 on symmetric formats the bias is 0
and the error grows like :math:`n`; a non-centred law with a biased quantizer adds
the cross terms, which grow like :math:`n^2` (``length=`` of :func:`product_mse`).
The derivation in sympy: :func:`qerror.symbolic.product_derivation`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._dispatch import law_or_data
from ._law_engine import _cell_sum, _error_parts, _grid_cells, _no_nan, _z_cells
from ._validation import check_alpha, scalar_or_array
from .data._checks import _check_data, _check_finite
from .formats import get_format
from .laws._protocol import Law

__all__ = ["product_mse", "quantizer_moments", "optimal_product_alpha",
           "ProductOptimum", "bit_split_table"]

#: most cells of one uniform block the moment engine enumerates (16 bits)
_MAX_CELLS = 2**16
#: cells evaluated per chunk (memory: 20 Gauss-Legendre nodes each)
_CHUNK = 2**15
_GL20 = np.polynomial.legendre.leggauss(20)


# ============================================================== the moment engine
class _QErrorView:
    r"""A family seen through :math:`\int_a^b f(z)\,(c + t)(z - c)\,dz`: cell by cell
    the product of the level (``c + t`` in units of the scale, ``t = loc/scale``) and
    the first moment of the error about it.  The law engine's block helpers
    (:func:`qerror._law_engine._grid_cells`, ``_cell_sum``) call ``seg`` on single cells
    and ``cells`` on blocks of whole cells, exactly as for the mean-square error."""

    def __init__(self, fam, shift: float):
        self.fam, self.shift = fam, shift
        self.kinks = tuple(getattr(fam, "suspects", getattr(fam, "kinks", ())))
        self.has_pdf = hasattr(fam, "pdf")

    def _seg1(self, a, b, c):
        r""":math:`\int_a^b f(z)(z-c)dz`; narrow cells by 20-point Gauss-Legendre with
        the offsets :math:`z - c` formed from the nodes (the closed forms subtract two
        nearly equal moments there), cells with a kink inside by the family."""
        out = np.empty(a.shape)
        narrow = (b - a <= 1.0) if self.has_pdf else np.zeros(a.shape, bool)
        for k in self.kinks:
            narrow &= ~((a < k) & (k < b))
        if narrow.any():
            an, bn, cn = a[narrow], b[narrow], c[narrow]
            u, w = _GL20
            half = 0.5 * (bn - an)
            mid = 0.5 * (bn + an)
            du = (mid - cn)[:, None] + half[:, None] * u
            with np.errstate(under="ignore"):
                vals = self.fam.pdf(mid[:, None] + half[:, None] * u) * du
            out[narrow] = half * (vals @ w)
        wide = ~narrow
        if wide.any():
            out[wide] = self.fam.seg1(a[wide], b[wide], c[wide])
        return out

    def seg(self, a, b, c):
        a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
        return (c + self.shift) * self._seg1(a, b, c)

    def cells(self, a0, step, n):
        a0, step, n = np.broadcast_arrays(*(np.asarray(v, float) for v in (a0, step, n)))
        a0, step, n = a0.ravel(), step.ravel(), n.ravel()
        out = np.zeros(a0.shape)
        if not a0.size:
            return out
        if n.max() > _MAX_CELLS:
            raise ValueError(f"the product moments enumerate the cells: at most "
                             f"{_MAX_CELLS} cells per block (16 bits on a uniform "
                             f"grid), got {n.max():.0f}")
        counts = n.astype(np.int64)
        start = 0
        while start < a0.size:  # chunks of about _CHUNK cells
            csum = np.cumsum(counts[start:])
            stop = start + max(1, int(np.searchsorted(csum, _CHUNK, side="right")))
            cnt = counts[start:stop]
            total = int(cnt.sum())
            if total:
                owner = np.repeat(np.arange(stop - start), cnt)
                first = np.cumsum(cnt) - cnt
                idx = np.arange(total) - np.repeat(first, cnt)
                a = a0[start:stop][owner] + idx * step[start:stop][owner]
                b = a + step[start:stop][owner]
                c = a + 0.5 * step[start:stop][owner]
                vals = (c + self.shift) * self._seg1(a, b, c)
                out[start:stop] = np.bincount(owner, weights=vals,
                                              minlength=stop - start)
            start = stop
        return out


def _check_variance(law: Law, name: str) -> None:
    if law.family.infinite_variance and not (np.isfinite(law.lower)
                                             and np.isfinite(law.upper)):
        raise ValueError(f"{name} has infinite variance, so the product error is "
                         f"infinite or undefined; clamp it first (qerror.clamp)")


def _law_moments(law: Law):
    """(E[W], E[W^2]) of a resolved law from its family's partial moments."""
    fam, s = law.family, law.scale
    L, U = np.array([law.lower]), np.array([law.upper])
    c = np.array([-law.loc / s])  # x = 0 in z-space: (z - c) s = x
    m1 = s * float(fam.seg1(L, U, c)[0]) if L[0] < U[0] else 0.0
    m2 = s * s * float(fam.seg(L, U, c)[0]) if L[0] < U[0] else 0.0
    for x, mass in law.atoms:
        m1 += mass * x
        m2 += mass * x * x
    return m1, m2


def _qe_law(law: Law, alpha: np.ndarray, bits: np.ndarray, fmt) -> np.ndarray:
    r""":math:`g = \mathbb E[Q(W)(W - Q(W))]` of a resolved law (1-D alpha, bits)."""
    fam, s = law.family, law.scale
    geo = fmt.geometry(alpha, bits)
    L, U = law.lower, law.upper
    shift = law.loc / s
    out = np.zeros(alpha.shape)
    # clipping: values beyond the range go to the outermost levels
    hi, lo = law.z(geo.hi), law.z(geo.lo)
    ref_hi, ref_lo = law.z(geo.level_hi), law.z(geo.level_lo)
    a = np.maximum(hi, L)
    m = a < U
    if m.any():
        out[m] += (ref_hi[m] + shift) * fam.seg1(a[m], np.full(a[m].shape, U), ref_hi[m])
    b = np.minimum(lo, U)
    m = L < b
    if m.any():
        out[m] += (ref_lo[m] + shift) * fam.seg1(np.full(b[m].shape, L), b[m], ref_lo[m])
    # rounding: every cell's level times its first error moment
    view = _QErrorView(fam, shift)
    for block in geo.blocks:
        out += _grid_cells(view, law, block, L, U)
    if geo.cells:
        out += _cell_sum(view.seg, _z_cells(law, geo), L, U, alpha.shape)
    out *= s * s
    for x, mass in law.atoms:
        if mass > 0.0:
            xs = np.full(alpha.shape, x)
            q = fmt.quantize(xs, alpha, np.broadcast_to(bits, xs.shape))
            out += mass * q * (xs - q)
    return out


def _moments(dist, alpha, bits, fmt, name: str, bias: bool):
    """dict of arrays S, mu, m, g (and beta) over the broadcast (alpha, bits)."""
    a = check_alpha(alpha, f"alpha_{name}")
    b = fmt.check_bits(bits)
    a, b = np.broadcast_arrays(a, b)
    shape = a.shape
    a1, b1 = a.ravel().astype(np.float64), b.ravel()
    law, data = law_or_data(dist)
    if law is None:
        x = _check_data(data, f"dist_{name}").astype(np.float64, copy=False).ravel()
        _check_finite(x, f"dist_{name}")
        out = {k: np.empty(a1.shape) for k in ("m", "g", "beta")}
        for i in range(a1.size):
            with np.errstate(over="ignore"):
                q = fmt.quantize(x, np.full(x.shape, a1[i]), np.full(x.shape, b1[i]))
            e = x - q
            out["m"][i], out["g"][i], out["beta"][i] = e @ e / x.size, q @ e / x.size, \
                e.mean()
        with np.errstate(over="ignore"):
            S, mu = float(x @ x) / x.size, float(x.mean())
        if not np.isfinite(S):
            raise ValueError(f"dist_{name}: the squares of the data overflow double "
                             f"precision (values up to {np.abs(x).max():g}); rescale them")
    else:
        _check_variance(law, f"dist_{name}")
        mu, S = _law_moments(law)
        out = {}
        if a1.size:
            with np.errstate(all="ignore"):  # over/underflow: NaN, refused below
                t, r = _error_parts(law, a1, b1, "exact", fmt)
                out["m"] = _no_nan(t + r, a1)
                out["g"] = _no_nan(_qe_law(law, a1, b1, fmt), a1)
        else:
            out["m"] = out["g"] = np.zeros(0)
        if bias:
            from .symmetry import bias as _bias

            out["beta"] = np.asarray(_bias(dist, a1, b1, grid=fmt), dtype=np.float64)
    res = {k: v.reshape(shape) for k, v in out.items()}
    res["S"], res["mu"] = S, mu
    return res


def quantizer_moments(dist, alpha: ArrayLike, bits: ArrayLike = None, *, grid=None):
    r"""The moments of a quantizer that products need: :math:`S`, :math:`m`, :math:`g`.

    .. math::

        S = \mathbb E[W^2], \qquad m = \mathbb E\bigl[(W - Q(W))^2\bigr], \qquad
        g = \mathbb E\bigl[Q(W)\,(W - Q(W))\bigr],

    where :math:`Q` is the `bits`-bit quantizer of `grid` clipping at `alpha`; then
    :math:`\mathbb E[WQ(W)] = S - m - g` and :math:`\mathbb E[Q(W)^2] = S - m - 2g`.
    On a format whose levels scale with :math:`\alpha`,
    :math:`dm/d\alpha = -2g/\alpha`: :math:`g = 0` at the optimal :math:`\alpha`.

    Parameters
    ----------
    dist : scipy.stats frozen distribution, ClampedDistribution or array_like
        The law of :math:`W` (finite variance), or data.
    alpha, bits, grid
        As in :func:`qerror.mse`; at most 16 bits on a uniform grid (the cells are
        enumerated).

    Returns
    -------
    S : float
    m, g : float or ndarray

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> S, m, g = qerror.products.quantizer_moments(stats.norm(), 2.0, 4)
    >>> round(S, 12), round(m, 8), round(g, 8)
    (1.0, 0.02146276, 0.03865887)
    """
    fmt = get_format(grid)
    mo = _moments(dist, alpha, bits, fmt, "w", bias=False)
    return mo["S"], scalar_or_array(mo["m"]), scalar_or_array(mo["g"])


def _check_length(length) -> int:
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)):
        raise TypeError(f"length must be a positive integer, got {length!r}")
    if length < 1:
        raise ValueError(f"length must be a positive integer (>= 1), got {length}")
    return int(length)


def product_mse(dist_w, alpha_w: ArrayLike, bits_w: ArrayLike, dist_x,
                alpha_x: ArrayLike, bits_x: ArrayLike, *, grid_w=None, grid_x=None,
                length: int = 1):
    r"""Exact mean-square error of a quantized product (or dot product).

    .. math::

        E = \mathbb E\bigl[(WX - Q_W(W)\,Q_X(X))^2\bigr]
          = S_W m_X + S_X m_W - m_W m_X + 2\,g_W g_X

    for independent :math:`W` (law `dist_w`) and :math:`X` (law `dist_x`), where
    :math:`Q_W` is the `bits_w`-bit quantizer of `grid_w` clipping at :math:`\alpha_W`
    = `alpha_w` (likewise for :math:`X`), :math:`S = \mathbb E[W^2]`, :math:`m` the
    quantizer's MSE and :math:`g = \mathbb E[Q(W)(W - Q(W))]`
    (:func:`quantizer_moments`).  With ``length=n`` the error of
    :math:`\sum_{k=1}^n W_kX_k` (i.i.d. terms): :math:`nE + n(n-1)\mathbb E[D]^2`,
    :math:`\mathbb E[D] = \mu_W\beta_X + \mu_X\beta_W - \beta_W\beta_X`.

    Parameters
    ----------
    dist_w, dist_x : scipy.stats frozen distribution, ClampedDistribution or array_like
        The laws of the two factors (finite variance), or data arrays (their
        empirical laws).
    alpha_w, alpha_x : array_like
        Clipping boundaries, finite and > 0.
    bits_w, bits_x : array_like of int or None
        Bit-widths (None for a format with a fixed level count); at most 16 on a
        uniform grid.  All four of `alpha_w`, `bits_w`, `alpha_x`, `bits_x` broadcast
        together.
    grid_w, grid_x : str or qerror.formats.Format, optional
        The two formats (:mod:`qerror.formats`); default ``"midrise"``.
    length : int
        Length :math:`n` of the dot product; 1 for a single product.

    Returns
    -------
    float or ndarray
        The error, in squared units of ``W X``; a Python float for scalar input.

    Raises
    ------
    ValueError
        For a law with infinite variance (clamp it first), bad `alpha`, `bits`,
        `grid` or `length`.

    Notes
    -----
    Accuracy: relative error below 1e-12 against 40-digit mpmath references for the
    normal, Laplace and uniform laws (``tests/reference/generate_products.py``).
    Without quantization of :math:`X` (:math:`m_X = g_X = 0`) it is
    :math:`S_X m_W`: the weight MSE scaled by the input power.

    Examples
    --------
    >>> from scipy import stats
    >>> import qerror
    >>> round(qerror.product_mse(stats.norm(), 2.5, 4, stats.laplace(), 4.0, 4), 8)
    0.09160447
    >>> e = qerror.product_mse(stats.norm(), 2.5, 4, stats.norm(), [2.0, 2.5, 3.0], 4)
    >>> e.round(6).tolist()
    [0.033706, 0.023922, 0.02421]
    """
    fw, fx = get_format(grid_w), get_format(grid_x)
    n = _check_length(length)
    w = _moments(dist_w, alpha_w, bits_w, fw, "w", bias=n > 1)
    x = _moments(dist_x, alpha_x, bits_x, fx, "x", bias=n > 1)
    e = w["S"] * x["m"] + x["S"] * w["m"] - w["m"] * x["m"] + 2.0 * w["g"] * x["g"]
    if n > 1:
        mean_d = w["mu"] * x["beta"] + x["mu"] * w["beta"] - w["beta"] * x["beta"]
        e = n * e + n * (n - 1.0) * mean_d * mean_d
    e = np.asarray(e, dtype=np.float64)
    if np.isnan(e).any():  # inf - inf: moments that overflowed
        raise ValueError("alpha_w or alpha_x is so far from the scale of its factor that "
                         "the product error overflows double precision")
    return scalar_or_array(e)


# =============================================================== the joint optimum
@dataclass(frozen=True)
class ProductOptimum:
    r"""The pair :math:`(\alpha_W^*, \alpha_X^*)` minimising the product error.

    Attributes
    ----------
    alpha_w, alpha_x : float
        The optimal clipping boundaries of the two factors.
    mse : float
        :math:`\mathbb E[(WX - Q(W)Q(X))^2]` at the pair.
    mse_w, mse_x : float
        The two quantizers' own MSEs there (their minima).
    relative : float
        ``mse / (E[W^2] E[X^2])``: one minus the product of the two factors'
        signal-to-error fractions :math:`1 - m^*/S`.
    bits_w, bits_x : int
    success : bool
        True when both one-dimensional optima are certified and the theorem applies
        (symmetric formats, or unsigned formats on non-negative factors).
    message : str
        What is certified and how.
    """

    alpha_w: float
    alpha_x: float
    mse: float
    mse_w: float
    mse_x: float
    relative: float
    bits_w: int
    bits_x: int
    success: bool
    message: str


def _nonnegative(dist) -> bool:
    law, data = law_or_data(dist)
    if law is None:
        return bool(np.min(data) >= 0)
    lo = law.lower * law.scale + law.loc
    return bool(lo >= 0 and all(x >= 0 for x, m in law.atoms if m > 0))


def _one_optimum(dist, bits, fmt):
    from .optimal import optimal_alpha

    return optimal_alpha(dist, bits, grid=fmt)


def optimal_product_alpha(dist_w, bits_w, dist_x, bits_x, *, grid_w=None,
                          grid_x=None) -> ProductOptimum:
    r"""The clipping pair minimising the error of a quantized product, certified.

    .. math::

        (\alpha_W^*, \alpha_X^*) = \operatorname*{arg\,min}_{\alpha_W, \alpha_X > 0}
            \mathbb E\bigl[(WX - Q_W(W)Q_X(X))^2\bigr]

    is the pair of the two separately MSE-optimal boundaries, and the minimum is
    :math:`S_WS_X - (S_W - m_W^*)(S_X - m_X^*)`.

    *Proof.*  With :math:`a = \mathbb E[WQ_W]`, :math:`b = \mathbb E[Q_W^2]`,
    :math:`c = \mathbb E[XQ_X]`, :math:`d = \mathbb E[Q_X^2]` the error is
    :math:`S_WS_X - 2ac + bd = S_W(S_X - c^2/d) + (c^2/d)\,\mathbb E[(W - \mu
    Q_W(W))^2]` with :math:`\mu = d/c`.  :math:`\mu Q_{\alpha}` uses the levels of
    :math:`Q_{\mu\alpha}` but not always the nearest one, so its error is at least
    :math:`m_W(\mu\alpha) \ge m_W^*`; likewise
    :math:`S_X - c^2/d = \min_\lambda \mathbb E[(X - \lambda Q_X)^2] \ge m_X^*`.  As
    :math:`t = c^2/d` lies in :math:`[0, S_X - m_X^*]` and the bound
    :math:`S_WS_X - t(S_W - m_W^*)` falls with :math:`t`, the error is at least
    :math:`S_WS_X - (S_W - m_W^*)(S_X - m_X^*)`, which the separate optima attain.
    (It needs :math:`\mu, \lambda > 0` or a symmetric level set: true for symmetric
    formats, and for unsigned formats on non-negative factors.)

    So the two-dimensional problem is certified exactly when the two one-dimensional
    ones are (:func:`qerror.optimal_alpha`: certified global scans for laws,
    branch and bound for data).

    Parameters
    ----------
    dist_w, dist_x : scipy.stats frozen distribution, ClampedDistribution or array_like
    bits_w, bits_x : int or None
    grid_w, grid_x : str or qerror.formats.Format, optional

    Returns
    -------
    ProductOptimum

    Examples
    --------
    >>> from scipy import stats
    >>> from qerror.products import optimal_product_alpha
    >>> r = optimal_product_alpha(stats.norm(), 4, stats.laplace(), 4)
    >>> round(r.alpha_w, 4), round(r.alpha_x, 4), round(r.mse, 6), r.success
    (2.6816, 5.2156, 0.073202, True)
    """
    fw, fx = get_format(grid_w), get_format(grid_x)
    rw, rx = _one_optimum(dist_w, bits_w, fw), _one_optimum(dist_x, bits_x, fx)
    mse = product_mse(dist_w, rw.alpha, rw.bits, dist_x, rx.alpha, rx.bits, grid_w=fw,
                      grid_x=fx)
    Sw = _moments(dist_w, rw.alpha, rw.bits, fw, "w", False)["S"]
    Sx = _moments(dist_x, rx.alpha, rx.bits, fx, "x", False)["S"]
    applies = all(f.symmetric or (not f.signed and _nonnegative(d))
                  for f, d in ((fw, dist_w), (fx, dist_x)))
    success = bool(rw.success and rx.success and applies)
    msg = ("global minimum over (alpha_w, alpha_x): the product error is bounded below "
           "by S_w S_x - (S_w - m_w*)(S_x - m_x*), which the separately MSE-optimal "
           "boundaries attain (see the docstring); ")
    msg += ("both one-dimensional optima certified" if rw.success and rx.success else
            "NOT CERTIFIED: a one-dimensional optimum is not certified")
    if not applies:
        msg += ("; NOT CERTIFIED: the theorem needs symmetric formats or unsigned formats "
                "on non-negative factors")
    return ProductOptimum(float(rw.alpha), float(rx.alpha), float(mse), float(rw.mse),
                          float(rx.mse), float(mse / (Sw * Sx)), int(rw.bits),
                          int(rx.bits), success, msg)


def bit_split_table(dist_w, dist_x, total_bits, *, grid_w=None, grid_x=None,
                    min_bits: int = 2):
    r"""The best split of a bit budget between weights and activations.

    For every total :math:`B` in `total_bits` and every split :math:`b_W + b_X = B`
    (each at least `min_bits`), the minimum product error over both clipping
    boundaries (:func:`optimal_product_alpha`):

    .. math::

        E^*(b_W, b_X) = S_WS_X - \bigl(S_W - m_W^*(b_W)\bigr)
                                  \bigl(S_X - m_X^*(b_X)\bigr)

    where :math:`m^*(b)` is the minimum MSE of each factor at :math:`b` bits.

    Parameters
    ----------
    dist_w, dist_x : scipy.stats frozen distribution, ClampedDistribution or array_like
    total_bits : int or iterable of int
        Budgets :math:`B = b_W + b_X`.
    grid_w, grid_x : str or qerror.formats.Format, optional
    min_bits : int
        Smallest bit-width of either factor (raised to the format's own minimum).

    Returns
    -------
    list of dict
        One row per split, with keys ``total``, ``bits_w``, ``bits_x``, ``alpha_w``,
        ``alpha_x``, ``mse``, ``relative`` (``mse / (S_W S_X)``), ``sqnr_db``
        (:math:`-10\log_{10}` of ``relative``), ``best`` (True on the best split of its
        budget) and ``certified``.

    Examples
    --------
    >>> from scipy import stats
    >>> from qerror.products import bit_split_table
    >>> rows = bit_split_table(stats.norm(), stats.laplace(), 8)
    >>> [(r["bits_w"], r["bits_x"], round(r["sqnr_db"], 2)) for r in rows if r["best"]]
    [(4, 4, 14.37)]
    """
    fw, fx = get_format(grid_w), get_format(grid_x)
    totals = [total_bits] if np.ndim(total_bits) == 0 else list(total_bits)
    if isinstance(min_bits, bool) or not isinstance(min_bits, (int, np.integer)) \
            or min_bits < 1:
        raise ValueError(f"min_bits must be a positive integer, got {min_bits!r}")
    lo_w, lo_x = max(min_bits, fw.min_bits), max(min_bits, fx.min_bits)
    cache = {}

    def best(dist, b, fmt, key):
        if (key, b) not in cache:
            cache[(key, b)] = _one_optimum(dist, b, fmt)
        return cache[(key, b)]

    Sw = _moments(dist_w, 1.0, lo_w, fw, "w", False)["S"]
    Sx = _moments(dist_x, 1.0, lo_x, fx, "x", False)["S"]
    rows = []
    for total in totals:
        if isinstance(total, bool) or not isinstance(total, (int, np.integer)):
            raise TypeError(f"total_bits must be integers, got {total!r}")
        splits = [(bw, int(total) - bw) for bw in range(lo_w, int(total) - lo_x + 1)
                  if bw <= min(16, fw.max_bits) and int(total) - bw <= min(16, fx.max_bits)]
        if not splits:
            raise ValueError(f"total_bits={total} leaves no split with at least "
                             f"{lo_w} + {lo_x} bits")
        group = []
        for bw, bx in splits:
            rw, rx = best(dist_w, bw, fw, "w"), best(dist_x, bx, fx, "x")
            rel = 1.0 - (1.0 - rw.mse / Sw) * (1.0 - rx.mse / Sx)
            group.append({"total": int(total), "bits_w": bw, "bits_x": bx,
                          "alpha_w": float(rw.alpha), "alpha_x": float(rx.alpha),
                          "mse": rel * Sw * Sx, "relative": rel,
                          "sqnr_db": float(-10.0 * np.log10(rel)),
                          "best": False, "certified": bool(rw.success and rx.success)})
        min(group, key=lambda r: r["mse"])["best"] = True
        rows.extend(group)
    return rows
