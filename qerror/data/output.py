r"""Layer-output error of quantized weights (and activations), and the clipping that
minimises it.

For a linear layer :math:`y = Wx` with weights :math:`W` (out :math:`\times` in) and
inputs of second moment :math:`C = \mathbb E[xx^T]`, quantizing the weights to
:math:`Q(W)` changes the output by :math:`\Delta W\,x`, :math:`\Delta W = W - Q(W)`,
and the mean output error per output unit is

.. math::

    E_\text{out}(\alpha) = \frac{1}{\text{out}}\,\mathbb E\,\|\Delta W x\|^2
        = \frac{1}{\text{out}} \operatorname{tr}\bigl(\Delta W\,C\,\Delta W^T\bigr).

With :math:`C = I` it is the weight MSE times the input dimension: the weight MSE weights every
input equally, the output error weights input :math:`j` by its power
:math:`C_{jj}` and couples inputs through the off-diagonal of :math:`C`.  A diagonal
:math:`C` (shape ``(in,)``) is the model of uncorrelated inputs.

*Quantized activations.*  With calibration inputs :math:`x_1, \dots, x_N` (``inputs=``,
rows) and the activations quantized too (:math:`\hat x = Q_x(x)`, ``bits_x``,
``alpha_x``, one boundary per tensor), the error is the exact mean over the
calibration set,

.. math::

    E_\text{out} = \frac{1}{\text{out}\,N}\sum_{n} \|Wx_n - Q(W)\hat x_n\|^2
    = \frac{1}{\text{out}}\Bigl[\operatorname{tr}(\Delta W C \Delta W^T)
      + 2\operatorname{tr}\bigl(\Delta W\,\mathbb E[x e^T]\,Q(W)^T\bigr)
      + \operatorname{tr}\bigl(Q(W)\,\mathbb E[e e^T]\,Q(W)^T\bigr)\Bigr],

:math:`e = x - \hat x`, with the expectations over the calibration set: no
independence assumption is needed, only that the calibration set stands for the
inputs the layer will see.  (For *laws* of weights and activations,
:func:`qerror.product_mse` assumes them independent.)

*Optimal clipping.*  As a function of :math:`\alpha` the output error is piecewise
quadratic: on each interval where no weight crosses a decision threshold the level
assignment is fixed.  :func:`optimal_alpha_output` enumerates every such interval
(for a diagonal or a full :math:`C`, with or without quantized activations) and
returns the global minimiser, per tensor or per output channel: certified.  The joint
optimum over the activations' :math:`\alpha_x` scans :math:`\alpha_x` with the
certified weight optimum inside (certified in :math:`\alpha` for each
:math:`\alpha_x`, not in :math:`\alpha_x`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from .._result import OptimalAlpha
from .._validation import check_alpha, scalar_or_array
from ..formats import get_format
from . import _output_solver as _solver
from ._checks import _check_data, _check_finite, _scalar_bits

__all__ = ["output_mse", "optimal_alpha_output", "LayerStats"]


# ============================================================================ inputs
def _weights(W, axis):
    w = _check_data(W, "W").astype(np.float64, copy=False)
    if w.ndim < 2:
        raise ValueError(f"W must have shape (out, in, ...) with at least 2 dimensions, "
                         f"got shape {w.shape}")
    _check_finite(w, "W")
    if axis is not None and axis not in (0, -w.ndim):
        raise ValueError(f"axis must be None (one alpha per tensor) or 0 (one alpha per "
                         f"output channel, the first axis of W), got {axis!r}")
    return w.reshape(w.shape[0], -1)


class LayerStats:
    r"""The input statistics a layer's output error needs, checked once.

    Parameters
    ----------
    n : int
        Input dimension (columns of W, flattened).
    input_cov : array_like, optional
        :math:`C = \mathbb E[xx^T]`, shape ``(n, n)`` (symmetric, positive
        semi-definite) or its diagonal, shape ``(n,)`` (non-negative).
    inputs : array_like, optional
        Calibration inputs, shape ``(N, n)`` (one row per sample); then
        :math:`C = X^TX/N`.  Needed when the activations are quantized.
    """

    def __init__(self, n: int, input_cov=None, inputs=None):
        if (input_cov is None) == (inputs is None):
            raise ValueError("give exactly one of input_cov (E[x x^T], or its diagonal) "
                             "and inputs (calibration samples, one row each)")
        self.X = None
        if inputs is not None:
            X = _check_data(inputs, "inputs").astype(np.float64)
            if X.ndim != 2 or X.shape[1] != n:
                raise ValueError(f"inputs must have shape (N, {n}) (one row per sample, "
                                 f"{n} = W's input dimension), got {X.shape}")
            _check_finite(X, "inputs")
            self.X = X
            self.C = X.T @ X / X.shape[0]
            return
        C = _check_data(input_cov, "input_cov").astype(np.float64)
        _check_finite(C, "input_cov")
        if C.shape == (n,):
            if (C < 0).any():
                raise ValueError("input_cov as a diagonal must be non-negative (it holds "
                                 "E[x_j^2])")
        elif C.shape == (n, n):
            scale = float(np.abs(C).max()) or 1.0
            if not np.allclose(C, C.T, rtol=0, atol=1e-12 * scale):
                raise ValueError("input_cov must be symmetric (a second-moment matrix)")
            C = 0.5 * (C + C.T)
            if np.linalg.eigvalsh(C)[0] < -1e-10 * scale:
                raise ValueError("input_cov must be positive semi-definite (a "
                                 "second-moment matrix E[x x^T])")
        else:
            raise ValueError(f"input_cov must have shape ({n}, {n}) or ({n},) for W with "
                             f"{n} inputs, got {C.shape}")
        self.C = C

    def activation_moments(self, alpha_x: float, bits_x: int, fmt_x):
        """(E[xhat xhat^T], E[xhat x^T], E[x e^T], E[e e^T]) at alpha_x."""
        X = self.X
        N = X.shape[0]
        with np.errstate(over="ignore"):
            Xq = fmt_x.quantize(X, np.full(X.shape, alpha_x), np.full(X.shape, bits_x))
        E = X - Xq
        return Xq.T @ Xq / N, Xq.T @ X / N, X.T @ E / N, E.T @ E / N


def _quad(D, G, D2=None):
    """Row-wise D_i G D2_i^T for a full or diagonal G."""
    D2 = D if D2 is None else D2
    if G.ndim == 1:
        return np.einsum("ij,ij->i", D * G, D2)
    return np.einsum("ij,ij->i", D @ G, D2)


def _row_errors(w, q, stats: LayerStats, act=None):
    """Output error of every row (not yet divided by anything): the error form, with
    no cancellation against the signal."""
    dw = w - q
    out = _quad(dw, stats.C)
    if act is not None:
        _, _, Cxe, Cee = act
        out = out + 2.0 * _quad(dw, Cxe, q) + _quad(q, Cee)
    return out


def _quantize_rows(w, alpha_rows, bits, fmt):
    a = np.broadcast_to(alpha_rows[:, None], w.shape)
    with np.errstate(over="ignore"):
        return fmt.quantize(w, a, np.broadcast_to(np.int64(bits), w.shape))


def _activation(stats, bits_x, alpha_x, grid_x):
    if bits_x is None and alpha_x is None:
        return None, None
    if stats.X is None:
        raise ValueError("quantized activations (bits_x, alpha_x) need the calibration "
                         "inputs: pass inputs= (one row per sample) instead of input_cov")
    fmt_x = get_format(grid_x)
    bx = _scalar_bits(bits_x, fmt_x) if bits_x is not None or fmt_x.fixed_bits else None
    if bx is None:
        raise TypeError(f"bits_x is required for grid {fmt_x.name!r}")
    return fmt_x, bx


# ============================================================================ error
def output_mse(W: ArrayLike, alpha: ArrayLike, bits=None, input_cov=None, *, grid=None,
               axis=None, inputs=None, bits_x=None, alpha_x=None, grid_x=None):
    r"""Mean output error of a linear layer with quantized weights (and activations).

    .. math::

        E_\text{out} = \frac{1}{\text{out}}\operatorname{tr}\bigl(\Delta W\,C\,
                       \Delta W^T\bigr), \qquad \Delta W = W - Q(W),

    where :math:`Q` is the `bits`-bit quantizer of `grid` clipping at :math:`\alpha`
    = `alpha` and :math:`C` = `input_cov`; with `bits_x` the mean of
    :math:`\|Wx - Q(W)Q_x(x)\|^2/\text{out}` over the calibration `inputs`, whose
    activations are quantized at `alpha_x` (see :mod:`qerror.data.output`).

    Parameters
    ----------
    W : array_like, shape (out, in, ...)
        Weights; trailing axes are flattened (a convolution's ``(out, in, kh, kw)``
        with ``C`` the second moment of its ``in*kh*kw`` patches).
    alpha : array_like
        Clipping boundary, > 0.  ``axis=None``: any shape (one value per tensor; an
        array is a scan, one error per value).  ``axis=0``: one per output channel,
        shape ``(out,)`` (or a scalar for all).
    bits : int, optional
        Weight bit-width (None for a format with a fixed level count).
    input_cov : array_like, shape (in, in) or (in,), optional
        :math:`C = \mathbb E[xx^T]` or its diagonal; or give `inputs`.
    grid : str or qerror.formats.Format, optional
        Weight format; default ``"midrise"``.
    axis : {None, 0}
        Per tensor or per output channel.
    inputs : array_like, shape (N, in), optional
        Calibration inputs (then :math:`C = X^TX/N`); needed for `bits_x`.
    bits_x, alpha_x : int and float, optional
        Quantize the activations too: bit-width and clipping boundary (one per tensor).
    grid_x : str or qerror.formats.Format, optional
        Activation format (``"unsigned"`` after a ReLU); default ``"midrise"``.

    Returns
    -------
    float or ndarray
        The mean output error per output unit (an array for a scan of `alpha`).

    Examples
    --------
    >>> import numpy as np
    >>> import qerror
    >>> rng = np.random.default_rng(0)
    >>> W = rng.normal(size=(8, 16))
    >>> c = np.linspace(0.1, 2.0, 16)           # input powers E[x_j^2]
    >>> round(qerror.output_mse(W, 2.0, 4, input_cov=c), 6)
    0.177933
    >>> e_w = qerror.mse(W, 2.0, 4)             # C = I: the weight MSE times in
    >>> bool(np.isclose(qerror.output_mse(W, 2.0, 4, input_cov=np.ones(16)), 16 * e_w))
    True
    """
    fmt = get_format(grid)
    w = _weights(W, axis)
    b = _scalar_bits(bits, fmt)
    stats = LayerStats(w.shape[1], input_cov, inputs)
    fmt_x, bx = _activation(stats, bits_x, alpha_x, grid_x)
    act = None
    if fmt_x is not None:
        if alpha_x is None:
            raise ValueError("alpha_x is required with bits_x (the activations' clipping "
                             "boundary)")
        ax = float(check_alpha(alpha_x, "alpha_x"))
        act = stats.activation_moments(ax, bx, fmt_x)
    a = check_alpha(alpha)
    out_n = w.shape[0]
    if axis is None:
        flat = a.reshape(-1).astype(np.float64)
        res = np.array([_row_errors(w, _quantize_rows(w, np.full(out_n, ak), b, fmt),
                                    stats, act).sum() / out_n for ak in flat])
        return scalar_or_array(res.reshape(a.shape))
    try:
        rows = np.broadcast_to(a, (out_n,)).astype(np.float64)
    except ValueError:
        raise ValueError(f"alpha with axis=0 must be a scalar or have shape ({out_n},) "
                         f"(one per output channel), got shape {a.shape}") from None
    err = _row_errors(w, _quantize_rows(w, rows, b, fmt), stats, act)
    return float(err.sum() / out_n)


# ============================================================================ optimum
def _split_parts(w, q, alpha_rows, stats, fmt, bits, act):
    """(truncation, rounding) per row: the output error split by clipped and in-range
    weights, the cross terms shared (they add up to the error exactly)."""
    geo = fmt.geometry(alpha_rows[:, None], np.int64(bits))
    clipped = (w < geo.lo) | (w > geo.hi)
    dw = w - q
    dc = np.where(clipped, dw, 0.0)
    trunc = _quad(dc, stats.C, dw)
    total = _row_errors(w, q, stats, act)
    return trunc, total - trunc


def _weight_problem(w, stats, act):
    """(G, v, K) of the piecewise-quadratic objective K - 2 q.v + q G q^T per row."""
    C = stats.C
    if act is None:
        v = w * C if C.ndim == 1 else w @ C
        return C, v, _quad(w, C)
    G, M, _, _ = act  # E[xhat xhat^T], E[xhat x^T]
    return G, w @ M.T, _quad(w, C)


def _solve_weights(w, stats, fmt, bits, per_row, act):
    G, v, K = _weight_problem(w, stats, act)

    def objective(alpha_rows):
        return _row_errors(w, _quantize_rows(w, alpha_rows, bits, fmt), stats, act)

    alpha, val, pieces = _solver.solve(w, G, v, K, fmt, bits, per_row, objective)
    # a guard (never triggered in the tests): a geometric scan of alpha must not beat
    # the enumeration
    amax = np.abs(w).max(axis=1) if per_row else np.full(w.shape[0], np.abs(w).max())
    for frac in np.geomspace(1e-3, 2.0, 25):
        trial = np.where(amax > 0, frac * amax, 1.0)
        e = objective(trial)
        if per_row:
            better = (e < val) & (amax > 0)
            alpha[better], val[better] = trial[better], e[better]
        elif e.sum() < val[0]:
            alpha[:], val[0] = trial, e.sum()
    return alpha, pieces


def _joint(w, stats, fmt, bits, per_row, fmt_x, bx, scan_points):
    """Scan alpha_x (geometric, then golden-section refinement of the best bracket);
    certified weight optimum inside."""
    xmax = float(np.abs(stats.X).max())
    if xmax == 0.0:
        raise ValueError("the calibration inputs are all zero: no activation clipping "
                         "to optimise")
    cache = {}

    def total(ax):
        if ax not in cache:
            act = stats.activation_moments(ax, bx, fmt_x)
            alpha, pieces = _solve_weights(w, stats, fmt, bits, per_row, act)
            q = _quantize_rows(w, alpha, bits, fmt)
            cache[ax] = (float(_row_errors(w, q, stats, act).sum()), alpha, pieces)
        return cache[ax][0]

    grid_x = xmax * np.geomspace(1.0 / 64.0, 1.0, scan_points)
    vals = [total(float(a)) for a in grid_x]
    k = int(np.argmin(vals))
    lo, hi = grid_x[max(k - 1, 0)], grid_x[min(k + 1, scan_points - 1)]
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    for _ in range(20):
        if total(float(c)) < total(float(d)):
            hi = d
        else:
            lo = c
        c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    ax = min(cache, key=lambda a: cache[a][0])
    return ax, cache[ax][1], sum(v[2] for v in cache.values()), len(cache)


def optimal_alpha_output(W: ArrayLike, bits=None, *, input_cov=None, inputs=None,
                         grid=None, axis=None, bits_x=None, alpha_x=None, grid_x=None,
                         scan_points: int = 24) -> OptimalAlpha:
    r"""The weight clipping that minimises a layer's output error, certified.

    .. math::

        \alpha^* = \operatorname*{arg\,min}_{\alpha > 0}
            \operatorname{tr}\bigl(\Delta W(\alpha)\,C\,\Delta W(\alpha)^T\bigr)

    per tensor, or per output channel (``axis=0``: one :math:`\alpha` per row of
    :math:`W`), where :math:`\Delta W(\alpha) = W - Q_\alpha(W)` and :math:`C` =
    `input_cov` (or the second moment of `inputs`).  Every piece of the piecewise
    quadratic objective is enumerated (:mod:`qerror.data._output_solver`), so the
    minimum is global for a diagonal and for a full :math:`C`.  With `bits_x` the
    activations are quantized too: at the given `alpha_x` the weight optimum is
    certified the same way; without `alpha_x` the pair is optimised jointly
    (:math:`\alpha_x` by a scan of `scan_points` values and golden-section
    refinement, the certified weight optimum for each).

    Parameters
    ----------
    W, bits, input_cov, inputs, grid, axis, bits_x, alpha_x, grid_x
        As in :func:`output_mse`.
    scan_points : int
        Joint optimum only: :math:`\alpha_x` values scanned from max|x|/64 to max|x|.

    Returns
    -------
    OptimalAlpha
        ``model="output"``; ``alpha`` (per channel with ``axis=0``), ``mse`` the mean
        output error per output unit (per channel: each output unit's error),
        ``truncation`` / ``rounding`` its split by clipped and in-range weights (with
        quantized activations their part is in ``rounding``), ``extra`` with
        ``output_mse`` (the layer mean), ``weight_mse`` at the optimum, and
        ``alpha_x``, ``bits_x`` when activations are quantized.

    Examples
    --------
    >>> import numpy as np
    >>> import qerror
    >>> rng = np.random.default_rng(0)
    >>> W = rng.standard_t(4, size=(16, 32))
    >>> c = np.geomspace(0.01, 10.0, 32)              # very unequal input powers
    >>> r = qerror.optimal_alpha(W, 4, input_cov=c)
    >>> r_w = qerror.optimal_alpha(W, 4)                   # the weight-MSE optimum
    >>> e_w = qerror.output_mse(W, r_w.alpha, 4, input_cov=c)
    >>> bool(r.success), round(r.mse / e_w, 3)
    (True, 0.946)
    """
    fmt = get_format(grid)
    w = _weights(W, axis)
    b = _scalar_bits(bits, fmt)
    stats = LayerStats(w.shape[1], input_cov, inputs)
    fmt_x, bx = _activation(stats, bits_x, alpha_x, grid_x)
    per_row = axis is not None
    out_n = w.shape[0]
    extra = {}
    if fmt_x is None:
        act = None
        alpha, pieces = _solve_weights(w, stats, fmt, b, per_row, act)
        how = (f"global minimum certified: all {pieces} pieces of the piecewise "
               f"quadratic output error enumerated ({'diagonal' if stats.C.ndim == 1 else 'full'} "
               f"C), best pieces re-evaluated exactly")
        method = "exhaustive-pieces"
    elif alpha_x is not None:
        ax = float(check_alpha(alpha_x, "alpha_x"))
        act = stats.activation_moments(ax, bx, fmt_x)
        alpha, pieces = _solve_weights(w, stats, fmt, b, per_row, act)
        how = (f"global minimum over alpha certified at the given alpha_x = {ax:.6g}: all "
               f"{pieces} pieces enumerated with the quantized activations' moments")
        method = "exhaustive-pieces"
        extra.update(alpha_x=ax, bits_x=bx)
    else:
        if isinstance(scan_points, bool) or not isinstance(scan_points, int) \
                or scan_points < 3:
            raise ValueError(f"scan_points must be an integer >= 3, got {scan_points!r}")
        ax, alpha, pieces, n_ax = _joint(w, stats, fmt, b, per_row, fmt_x, bx, scan_points)
        act = stats.activation_moments(ax, bx, fmt_x)
        how = (f"joint optimum: alpha_x from a scan of {scan_points} values in "
               f"[max|x|/64, max|x|] refined by golden section ({n_ax} alpha_x values, "
               f"NOT certified in alpha_x); for each, the weight alpha certified by "
               f"enumerating all pieces ({pieces} in total)")
        method = "alpha_x-scan+exhaustive-pieces"
        extra.update(alpha_x=ax, bits_x=bx)
    q = _quantize_rows(w, alpha, b, fmt)
    trunc, rnd = _split_parts(w, q, alpha, stats, fmt, b, act)
    per = trunc + rnd
    extra.update(output_mse=float(per.sum() / out_n),
                 weight_mse=float(np.mean((w - q) ** 2)))
    success = fmt_x is None or alpha_x is not None
    if per_row:
        return OptimalAlpha(alpha.copy(), per, trunc, rnd, b, "output", fmt.name,
                            np.full(out_n, success), how, pieces, method, extra)
    return OptimalAlpha(float(alpha[0]), float(per.sum() / out_n),
                        float(trunc.sum() / out_n), float(rnd.sum() / out_n), b, "output",
                        fmt.name, success, how, pieces, method, extra)
