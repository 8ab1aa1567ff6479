r"""Other tools' clipping rules on data, each with its exact empirical error.

max-abs (:func:`maxabs_alpha`), ACIQ's moment fits (:func:`fit_alpha`) and OCTAV's
fixed-point iteration (:func:`octav_alpha`) are the choices other quantization tools
make; :func:`compare_alphas` puts them beside the certified optimum of
:func:`qerror.data.solver.optimal_alpha_data`.  None of them is an optimum for the data;
their ``success`` field says so.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._result import OptimalAlpha
from ..formats import get_format
from ._checks import _channels, _check_data, _check_finite, _exact_parts, _scalar_bits
from .solver import optimal_alpha_data

__all__ = ["maxabs_alpha", "fit_alpha", "octav_alpha", "compare_alphas"]


# ============================================================================ peers
def _route_result(xa, bits, fmt, alphas, method, message, extra=None):
    """OptimalAlpha for a heuristic alpha, with its exact empirical error."""
    alphas = np.asarray(alphas, dtype=np.float64)
    flat = alphas.ravel()
    if alphas.ndim == 0:
        rows = [xa.ravel()]
    else:
        rows = list(xa)
    t = np.empty(flat.size)
    r = np.empty(flat.size)
    for i, (row, al) in enumerate(zip(rows, flat, strict=True)):
        if al > 0:
            t[i], r[i] = _exact_parts(row.astype(np.float64), float(al), bits, fmt)
        else:  # all-zero data
            xf = row.astype(np.float64)
            t[i], r[i] = float(np.dot(xf, xf)) / xf.size, 0.0
    conv = (lambda v: float(v[0])) if alphas.ndim == 0 else (lambda v: v)
    return OptimalAlpha(alpha=conv(flat), mse=conv(t + r), truncation=conv(t),
                        rounding=conv(r), bits=bits, model="exact", grid=fmt.name,
                        success=False if alphas.ndim == 0 else np.zeros(flat.size, bool),
                        message=message, nfev=0, method=method, extra=extra or {})


def _rows(x, axis):
    xa = _check_data(x)
    _check_finite(xa)
    if axis is None:
        return xa, xa.ravel()[None, :]
    return xa, _channels(xa, axis)


def maxabs_alpha(x: ArrayLike, bits=None, *, grid=None, axis=None) -> OptimalAlpha:
    r"""The max-abs choice :math:`\alpha = \max_j |x_j|` (unsigned: :math:`\max_j x_j`),
    with its exact empirical error.  No clipping; the rounding step is the largest.

    Examples
    --------
    >>> from qerror.data.routes import maxabs_alpha
    >>> r = maxabs_alpha([-3.0, 0.5, 1.0], 4)
    >>> r.alpha, round(r.mse, 5)
    (3.0, 0.01432)
    """
    fmt = get_format(grid)
    b = _scalar_bits(bits, fmt)
    _, rows = _rows(x, axis)
    if not fmt.signed:
        al = np.maximum(rows.max(axis=1), 0.0)
    else:
        al = np.abs(rows).max(axis=1)
    al = al.astype(np.float64)
    al = al[0] if axis is None else al
    return _route_result(rows if axis is not None else rows[0], b, fmt, al, "max-abs",
                         "max-abs: no clipping, not an optimum")


def _fitted_law(rows: np.ndarray, law: str):
    from scipy import stats
    rf = rows.astype(np.float64)
    if law == "norm":
        scale = np.sqrt(np.mean(rf * rf, axis=1))
        return scale, [stats.norm(scale=s) for s in scale]
    if law == "laplace":
        scale = np.mean(np.abs(rf), axis=1)
        return scale, [stats.laplace(scale=s) for s in scale]
    raise ValueError(f"law must be 'norm' or 'laplace', got {law!r}")


def fit_alpha(x: ArrayLike, bits=None, *, law: str = "norm", grid=None,
              axis=None) -> OptimalAlpha:
    r"""ACIQ's moment-fit route: fit a zero-mean law to the data, clip at its optimum.

    The scale is fitted about zero, as the grid is symmetric about zero:
    :math:`\hat\sigma = \sqrt{\tfrac1N\sum x_j^2}` for ``law="norm"`` and
    :math:`\hat b = \tfrac1N\sum |x_j|` for ``law="laplace"``.  Alpha is the analytic
    optimum of the ACIQ model (Eq. 3-4) for the fitted law,
    ``qerror.optimal_alpha(law, bits, model="aciq", grid=grid).alpha``; for the
    Laplace law on the symmetric grids this is

    .. math::

        \alpha = \hat b\, W_0\!\left(12 r^2\right), \qquad r = \alpha / \Delta,

    (:math:`W_0(3\cdot 4^b)` on the midrise grid, ACIQ's constant), where :math:`W_0`
    is the Lambert W function.  The returned error is the exact empirical error of the
    data at that alpha, so the cost of the fit shows.

    Examples
    --------
    >>> import numpy as np
    >>> from qerror.data.routes import fit_alpha
    >>> x = np.random.default_rng(0).laplace(size=10_000)
    >>> r = fit_alpha(x, 4, law="laplace", grid="midrise")
    >>> round(float(r.alpha / np.abs(x).mean()), 2)   # ACIQ's 4-bit Laplace constant
    5.03
    """
    from ..optimal import optimal_alpha

    fmt = get_format(grid)
    b = _scalar_bits(bits, fmt)
    _, rows = _rows(x, axis)
    scale, laws = _fitted_law(rows, law)
    alphas = np.empty(scale.size)
    for i, (s, dist) in enumerate(zip(scale, laws, strict=True)):
        alphas[i] = 0.0 if s == 0 else float(
            optimal_alpha(dist, b, model="aciq", grid=fmt).alpha)
    al = alphas[0] if axis is None else alphas
    return _route_result(rows if axis is not None else rows[0], b, fmt, al,
                         f"fit-{law}+aciq",
                         f"moment fit ({law}, scale about zero) then the analytic ACIQ "
                         "optimum of the fitted law: not an optimum for the data",
                         {"scale": scale[0] if axis is None else scale})


def octav_alpha(x: ArrayLike, bits=None, *, grid=None, iterations: int = 10,
                alpha0=None, axis=None) -> OptimalAlpha:
    r"""OCTAV's fixed-point iteration (Sakr et al., 2022) for the clipping boundary.

    .. math::

        \alpha_{n+1} = \frac{\sum_{|x_j| > \alpha_n} |x_j|}
                       {\kappa\, \#\{|x_j| \le \alpha_n\} + \#\{|x_j| > \alpha_n\}},
        \qquad \kappa = \frac{(\Delta/\alpha)^2}{12},

    a stationary point of the ACIQ-type error with the rounding noise
    :math:`\Delta^2/12` counted on the in-range values only
    (:math:`\kappa = 4^{-b}/3` on the midrise grid, OCTAV's constant).  The unsigned
    grid uses :math:`x_j \ge 0` only.  `alpha0` defaults to the root mean square of the
    data.  The returned error is the exact empirical error at the last iterate.

    Examples
    --------
    >>> import numpy as np
    >>> from qerror.data.routes import octav_alpha
    >>> x = np.random.default_rng(0).standard_t(4, size=10_000)
    >>> round(octav_alpha(x, 4).alpha, 2)
    6.0
    """
    fmt = get_format(grid)
    b = _scalar_bits(bits, fmt)
    if int(iterations) < 0:
        raise ValueError("iterations must be >= 0")
    _, rows = _rows(x, axis)
    step = fmt.step(np.float64(1.0), np.int64(b))
    kappa = float(step * step) / 12.0
    alphas = np.empty(rows.shape[0])
    for i, row in enumerate(rows):
        rf = row.astype(np.float64)
        a = np.abs(rf) if fmt.signed else rf[rf >= 0]
        if a.size == 0 or a.max() == 0:
            alphas[i] = 0.0
            continue
        al = float(np.sqrt(np.mean(rf * rf))) if alpha0 is None else float(
            np.asarray(alpha0).ravel()[i if np.size(alpha0) > 1 else 0])
        for _ in range(int(iterations)):
            out = a > al
            n_out = int(np.count_nonzero(out))
            if n_out == 0:
                break
            al = float(a[out].sum()) / (kappa * (a.size - n_out) + n_out)
        alphas[i] = al
    al = alphas[0] if axis is None else alphas
    return _route_result(rows if axis is not None else rows[0], b, fmt, al,
                         f"octav-{int(iterations)}",
                         f"OCTAV fixed-point iteration, {int(iterations)} step(s): a "
                         "stationary point of an approximate error, not certified")


def compare_alphas(x: ArrayLike, bits=None, *, grid=None, axis=None,
                   use_numba: bool | None = None) -> dict:
    """Every clipping route on the same data: ``{name: OptimalAlpha}``.

    Keys: ``"optimal"`` (:func:`optimal_alpha_data`), ``"max-abs"``,
    ``"octav"`` (10 iterations), and ``"aciq-norm"`` / ``"aciq-laplace"``
    (:func:`fit_alpha`) where the ACIQ optimum of the fitted law is available.
    All ``mse`` fields are the exact empirical error of the data.  The dict's repr
    (and ``.summary()``) is one table of the routes; ``.to_dict()`` gives plain dicts.
    """
    from .._result import AlphaComparison

    out = {"optimal": optimal_alpha_data(x, bits, grid=grid, axis=axis,
                                         use_numba=use_numba),
           "max-abs": maxabs_alpha(x, bits, grid=grid, axis=axis)}
    if get_format(grid).uniform:
        for law in ("norm", "laplace"):
            out[f"aciq-{law}"] = fit_alpha(x, bits, law=law, grid=grid, axis=axis)
        out["octav"] = octav_alpha(x, bits, grid=grid, axis=axis)
    return AlphaComparison(out)
