r"""Plots of quantization error: curves, optima, clamped laws, grids and data.

Every function draws on the matplotlib :class:`~matplotlib.axes.Axes` given as `ax`
(a new figure when `ax` is None) and returns the Axes it drew on, so that plots
compose::

    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    qerror.plotting.plot_mse_curve(stats.norm(), 4, ax=a)
    qerror.plotting.plot_mse_curve(stats.laplace(), 4, ax=b)

Axes are in units of the law's standard deviation :math:`\sigma` (``alpha / sigma``,
``MSE / sigma^2``): for a clamped law :math:`\sigma` is that of the *unclamped* law,
so that clamped and unbounded curves share the axes; for data it is the standard
deviation of the data.  Pass ``sigma=1.0`` to plot raw units.  A law whose standard
deviation is infinite or undefined (e.g. ``stats.t(2)``) is plotted in raw units.

matplotlib is imported when a function runs, never by ``import qerror``.

.. note::
   The closed-form families (``norm``, ``laplace``, ``uniform`` and their clamped
   laws) evaluate hundreds of points in milliseconds.  Other scipy families are
   integrated numerically (about 0.1 s per point); use a smaller ``num`` for them
   and ``optimum="curve"`` to mark the minimum of the drawn curve instead of
   calling the certified (slower) solver.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "plot_mse_curve",
    "plot_optimal_vs_bits",
    "plot_clamped",
    "plot_levels",
    "plot_histogram",
    "plot_step_sensitivity",
]

_MODEL_STYLE = {"exact": "-", "aciq": "--"}
_MODEL_LABEL = {"exact": "exact", "aciq": "ACIQ"}
_PART_COLOR = {"total": "k", "truncation": "C3", "rounding": "C0"}


# --------------------------------------------------------------------------- helpers
def _axes(ax):
    """The Axes to draw on: `ax`, or a new figure's."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    # wide enough for the legend, which goes to the right of the axes
    _, ax = plt.subplots(figsize=(7.5, 4.0), layout="constrained")
    return ax


def _axes_pair(ax):
    if ax is not None:
        if len(ax) != 2:
            raise ValueError("ax must be a pair of Axes for this plot")
        return tuple(ax)
    import matplotlib.pyplot as plt

    _, axs = plt.subplots(1, 2, figsize=(10.0, 4.0), layout="constrained")
    return tuple(axs)


def _log_axes(ax, x=True, y=True, floor=None):
    """Log scales with plain tick labels (0.5, 1, 2, 5 rather than 5x10^-1)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

    def major(v, _):
        return f"{v:g}"

    def minor(v, _):
        m = v / 10 ** math.floor(math.log10(v) + 1e-12)
        return f"{v:g}" if round(m) in (2, 5) and abs(m - round(m)) < 1e-6 else ""

    def narrow(axis):
        # less than a decade: the decade and 2-5 ticks would leave one label or none
        # (e.g. nothing right of 1 on 0.5..1.5), so tick it linearly: 0.6, 0.8, 1, ...
        axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        axis.set_major_formatter(FuncFormatter(major))
        axis.set_minor_formatter(NullFormatter())

    if x:
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        if hi / lo < 10:
            narrow(ax.xaxis)
        else:
            ax.xaxis.set_major_formatter(FuncFormatter(major))
            ax.xaxis.set_minor_formatter(FuncFormatter(minor) if hi / lo < 1000
                                         else NullFormatter())
    if y:
        ax.set_yscale("log")
        if floor is not None and np.isfinite(floor) and floor > 0:
            ax.set_ylim(bottom=floor)
        lo, hi = ax.get_ylim()
        if hi / lo < 10:
            narrow(ax.yaxis)
        elif hi / lo < 1000:  # up to three decades: 2 and 5 labelled as well
            ax.yaxis.set_major_formatter(FuncFormatter(major))
            ax.yaxis.set_minor_formatter(FuncFormatter(minor))


def _legend_outside(ax, **kw):
    """The legend to the right of the axes, so that it covers no data (a constrained
    layout, as in the figures made here, makes room for it)."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     fontsize="small", **kw)


def _models(model) -> tuple:
    from ._validation import check_model

    models = (model,) if isinstance(model, str) else tuple(model)
    if not models:
        raise ValueError("model must name at least one model")
    return tuple(check_model(m) for m in models)


def _sigma(dist, sigma=None) -> tuple[float, bool]:
    """(scale used for the axes, whether it is a standard deviation)."""
    if sigma is not None:
        s = float(sigma)
        if not (math.isfinite(s) and s > 0):
            raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
        return s, s != 1.0
    from .laws._protocol import is_law
    from .laws.clamped import ClampedDistribution

    if isinstance(dist, ClampedDistribution):
        dist = dist.base
    if is_law(dist):
        with np.errstate(all="ignore"):
            s = float(dist.std())
    else:
        s = float(np.std(np.asarray(dist, dtype=np.float64)))
    if math.isfinite(s) and s > 0:
        return s, True
    return 1.0, False


def _unit(is_sigma: bool, power: int = 1) -> str:
    if not is_sigma:
        return ""
    return r" / $\sigma$" if power == 1 else r" / $\sigma^2$"


def _law_name(dist) -> str:
    """A short readable name: ``norm``, ``t(4)``, ``clamp(laplace, d=2)``."""
    from .laws._protocol import is_law
    from .laws.clamped import ClampedDistribution

    if isinstance(dist, ClampedDistribution):
        return f"clamp({_law_name(dist.base)}, d={dist.d:g})"
    if not is_law(dist):
        return "data"
    args = [f"{a:g}" if isinstance(a, (int, float)) else repr(a) for a in dist.args]
    kw = [f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v!r}"
          for k, v in dist.kwds.items()]
    inner = ", ".join(args + kw)
    return f"{dist.dist.name}({inner})" if inner else dist.dist.name


def _alpha_range(dist, bits, models, grid, num):
    """A log-spaced alpha grid around the ACIQ optimum (and the clamp bound)."""
    from .formats import get_format
    from .laws.clamped import ClampedDistribution
    from .optimal import optimal_alpha

    bmax = int(np.max(bits))
    bmin = int(np.min(bits))
    centers = []
    for b in {bmin, bmax}:
        fmt = get_format(grid)
        r = optimal_alpha(dist, b, model="aciq" if fmt.uniform else "exact", grid=fmt)
        if r.success and np.isfinite(r.alpha):
            centers.append(float(r.alpha))
    s, _ = _sigma(dist)
    lo = min(centers) / 6.0 if centers else 0.1 * s
    hi = max(centers) * 3.0 if centers else 10.0 * s
    if isinstance(dist, ClampedDistribution):
        hi = max(hi, 1.5 * dist.d)
    return np.geomspace(lo, hi, int(num))


def _optimum(dist, bits, model, grid, optimum, alpha, curve):
    """(alpha*, mse*) for the marker, or None."""
    if optimum in (None, False):
        return None
    if optimum == "curve":
        i = int(np.nanargmin(curve))
        return float(alpha[i]), float(curve[i])
    if optimum in (True, "solve"):
        from .optimal import optimal_alpha

        r = optimal_alpha(dist, bits, model=model, grid=grid)
        if not np.isfinite(r.alpha):
            return None
        return float(r.alpha), float(r.mse)
    raise ValueError(f"optimum must be True, False, 'solve' or 'curve', got {optimum!r}")


# ---------------------------------------------------------------------------- plots
def plot_mse_curve(dist, bits: int, *, model=("exact", "aciq"), grid=None,
                   alpha=None, parts: bool = True, optimum="solve", num: int = 300,
                   sigma=None, ax=None):
    r"""Quantization error against the clipping boundary, split into its two parts.

    Draws :math:`E(\alpha) = T(\alpha) + R(\alpha)` (:func:`qerror.error_parts`) for
    each model, with the truncation part :math:`T` (falls with :math:`\alpha`) and the
    rounding part :math:`R` (grows like :math:`\alpha^2`), and marks the optimum
    :math:`\alpha^*` where :math:`\alpha` is `alpha` and :math:`b` is `bits`.  Log
    scales on both axes.

    Parameters
    ----------
    dist : scipy.stats frozen distribution, ClampedDistribution or array_like
        The law of :math:`W`, or data.
    bits : int
        Bit-width.
    model : str or sequence of {"exact", "aciq"}
        Model(s) to draw; exact solid, ACIQ dashed.
    grid : str or qerror.formats.Format, optional
    alpha : array_like, optional
        Clipping boundaries to evaluate (raw units).  By default `num` log-spaced
        points from a sixth to three times the ACIQ optimum (and past the clamp bound
        of a clamped law).
    parts : bool
        Draw the truncation and rounding parts as well as the total.
    optimum : {"solve", "curve", None}
        Mark :func:`qerror.optimal_alpha` (``"solve"``), the minimum of the drawn
        curve (``"curve"``, cheap), or nothing.
    num : int
        Number of points of the default `alpha` grid.
    sigma : float, optional
        Unit of the axes; by default the standard deviation of `dist`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from scipy import stats
    >>> from qerror.plotting import plot_mse_curve
    >>> ax = plot_mse_curve(stats.norm(), 4)
    >>> ax.get_xlabel()
    'clipping boundary $\\alpha$ / $\\sigma$'
    """
    from .error import error_parts
    from .formats import get_format

    grid = get_format(grid)
    b = grid.check_bits(bits)
    if b.ndim:
        raise ValueError("plot_mse_curve takes one bit-width; call it once per bits")
    models = _models(model)
    s, is_sigma = _sigma(dist, sigma)
    a = (_alpha_range(dist, int(b), models, grid, num) if alpha is None
         else np.asarray(alpha, dtype=np.float64).ravel())
    ax = _axes(ax)
    parts_of = {}
    floor = np.inf
    for m in models:
        t, r = error_parts(dist, a, int(b), model=m, grid=grid)
        t, r = np.asarray(t), np.asarray(r)
        parts_of[m] = t, r
        floor = min(floor, float(np.nanmin(t + r)) / s**2 / 100.0)
        if parts:  # the whole rounding curve in frame (it is small at small alpha)
            pos = r[r > 0]
            if pos.size:
                floor = min(floor, float(np.nanmin(pos)) / s**2 / 1.25)
    for m in models:
        t, r = parts_of[m]
        tot = t + r
        ls = _MODEL_STYLE[m]
        lab = _MODEL_LABEL[m]
        ax.plot(a / s, tot / s**2, ls, color=_PART_COLOR["total"], lw=2,
                label=f"{lab}: total")
        if parts:
            with np.errstate(divide="ignore"):
                # the truncation part falls to 0: drawn down to the floor of the frame
                ax.plot(a / s, np.where(t / s**2 >= floor, t, np.nan) / s**2, ls,
                        color=_PART_COLOR["truncation"], lw=1.2,
                        label=f"{lab}: truncation")
                ax.plot(a / s, r / s**2, ls, color=_PART_COLOR["rounding"], lw=1.2,
                        label=f"{lab}: rounding")
        opt = _optimum(dist, int(b), m, grid, optimum, a, tot)
        if opt is not None:
            ax.plot(opt[0] / s, opt[1] / s**2, "o" if m == "exact" else "s",
                    mfc="none" if m == "aciq" else "k", mec="k", ms=7,
                    label=rf"{lab}: $\alpha^*$ = {opt[0] / s:.3g}" + (
                        r"$\sigma$" if is_sigma else ""))
    _log_axes(ax, floor=floor)
    ax.set_xlabel(r"clipping boundary $\alpha$" + _unit(is_sigma))
    ax.set_ylabel("MSE" + _unit(is_sigma, 2))
    ax.set_title(f"{_law_name(dist)}, b = {int(b)}, {grid.name}")
    _legend_outside(ax)
    ax.grid(True, which="major", alpha=0.3)
    return ax


def plot_optimal_vs_bits(dists, bits=range(1, 9), *, model=("exact", "aciq"),
                         grid=None, ax=None):
    r"""Optimal clipping boundary and its error against the bit-width.

    Left: :math:`\alpha^*/\sigma`; right: :math:`E(\alpha^*)/\sigma^2` on a log scale
    (which falls by about :math:`4^{-b}`, 6 dB per bit, once rounding dominates).
    One colour per law, exact solid and ACIQ dashed.

    Parameters
    ----------
    dists : distribution or dict of {str: distribution}
        The laws; a dict gives the legend names.
    bits : iterable of int
    model : str or sequence of {"exact", "aciq"}
    grid : str or qerror.formats.Format, optional
    ax : pair of matplotlib.axes.Axes, optional

    Returns
    -------
    (matplotlib.axes.Axes, matplotlib.axes.Axes)
        The :math:`\alpha^*` and MSE axes.
    """
    from .formats import get_format
    from .optimal import optimal_alpha

    grid = get_format(grid)
    b = np.atleast_1d(grid.check_bits(list(bits)))
    models = _models(model)
    if not isinstance(dists, dict):
        dists = {_law_name(dists): dists}
    ax_a, ax_e = _axes_pair(ax)
    for k, (name, dist) in enumerate(dists.items()):
        s, is_sigma = _sigma(dist)
        color = f"C{k % 10}"
        for m in models:
            r = optimal_alpha(dist, b, model=m, grid=grid)
            ls = _MODEL_STYLE[m] + "o"
            lab = f"{name}, {_MODEL_LABEL[m]}"
            ax_a.plot(b, np.asarray(r.alpha) / s, ls, color=color, ms=4, label=lab)
            ax_e.plot(b, np.asarray(r.mse) / s**2, ls, color=color, ms=4, label=lab)
    unit = _unit(is_sigma)
    ax_a.set_xlabel("bits b")
    ax_a.set_ylabel(r"optimal clipping $\alpha^*$" + unit)
    ax_e.set_xlabel("bits b")
    ax_e.set_ylabel(r"MSE at $\alpha^*$" + _unit(is_sigma, 2))
    _log_axes(ax_e, x=False)
    for a_ in (ax_a, ax_e):
        a_.grid(True, alpha=0.3)
        a_.xaxis.get_major_locator().set_params(integer=True)
    ax_a.legend(fontsize="small")
    ax_a.set_title(f"optimal clipping ({grid.name})")
    ax_e.set_title(f"its error ({grid.name})")
    return ax_a, ax_e


def plot_clamped(dist, d, bits: int, *, model: str = "aciq", grid=None,
                 alpha=None, shade: bool = True, num: int = 300, ax=None):
    r"""Error of a law and of its clamped versions against :math:`\alpha` (Lemmas 1-2).

    Draws :math:`E_W(\alpha)` of the unbounded law and :math:`E_{W'}(\alpha)` of
    :math:`W' = \mathrm{clip}(W, -d, d)` for each clamp bound `d` (supplement
    Eqs. 4 and 7), marks each curve's minimum (:math:`\alpha^*` and :math:`\alpha'`)
    and each :math:`d`.  Lemma 1 is the clamped curve lying below the unbounded one;
    Lemma 2 is :math:`E_{W'}(\alpha') \le E_{W'}(A)`; so the clamped minimum lies
    below the unbounded one.  With `shade`, the gap for the first `d` (the
    :func:`qerror.clamping_gain`) is filled.

    Parameters
    ----------
    dist : scipy.stats frozen distribution
        The unbounded law :math:`W`.
    d : float or sequence of float
        Clamp bound(s), raw units.
    bits : int
    model : {"aciq", "exact"}
    grid : str or qerror.formats.Format, optional
    alpha : array_like, optional
        Boundaries to evaluate; by default `num` log-spaced points covering the
        optima and the clamp bounds.
    shade : bool
    num : int
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from ._validation import check_model
    from .error import mse
    from .formats import get_format
    from .laws.clamped import clamp
    from .optimal import optimal_alpha

    grid = get_format(grid)
    model = check_model(model)
    b = int(grid.check_bits(bits))
    ds = [float(x) for x in np.atleast_1d(d)]
    laws = [clamp(dist, x) for x in ds]
    s, is_sigma = _sigma(dist)
    if alpha is None:
        a = _alpha_range(dist, b, (model,), grid, num)
        a = np.geomspace(min(a[0], min(ds) / 4), max(a[-1], 1.5 * max(ds)), int(num))
    else:
        a = np.asarray(alpha, dtype=np.float64).ravel()
    ax = _axes(ax)
    e0 = np.asarray(mse(dist, a, b, model=model, grid=grid))
    ax.plot(a / s, e0 / s**2, "k-", lw=2, label=f"{_law_name(dist)} (unbounded)")
    r0 = optimal_alpha(dist, b, model=model, grid=grid)
    ax.plot(r0.alpha / s, r0.mse / s**2, "ko", ms=7,
            label=rf"$\alpha^*$ = {r0.alpha / s:.3g}" + (r"$\sigma$" if is_sigma else ""))
    for k, (x, law) in enumerate(zip(ds, laws, strict=True)):
        color = f"C{k % 10}"
        e = np.asarray(mse(law, a, b, model=model, grid=grid))
        ax.plot(a / s, e / s**2, "-", color=color, lw=1.5,
                label=f"clamped, d = {x / s:.3g}" + (r"$\sigma$" if is_sigma else ""))
        r = optimal_alpha(law, b, model=model, grid=grid)
        ax.plot(r.alpha / s, r.mse / s**2, "o", color=color, mfc="none", ms=7, mew=1.5,
                label=rf"$\alpha'$ = {r.alpha / s:.3g}" + (r"$\sigma$" if is_sigma else ""))
        ax.axvline(x / s, color=color, ls=":", lw=1)
        if shade and k == 0:
            ax.fill_between(a / s, e / s**2, e0 / s**2, where=e0 >= e, color=color,
                            alpha=0.15, lw=0, label="clamping gain (Lemma 1)")
    _log_axes(ax)
    ax.set_xlabel(r"clipping boundary $\alpha$" + _unit(is_sigma))
    ax.set_ylabel("MSE" + _unit(is_sigma, 2))
    ax.set_title(f"{_law_name(dist)} vs clamped, b = {b}, {_MODEL_LABEL[model]}, {grid.name}")
    _legend_outside(ax)
    ax.grid(True, alpha=0.3)
    return ax


def plot_levels(dist, alpha: float, bits: int | None = None, *, grid=None,
                max_lines: int = 64, sigma=None, ax=None):
    r"""A law's density with the quantizer's levels and decision thresholds over it.

    Levels are solid vertical lines, thresholds dotted, the values beyond the
    format's range (clipped: the truncation part) shaded, and the atoms of a clamped
    law drawn as stems labelled with their mass.  Any format: above `max_lines`
    levels a uniform grid shows its range and step, a non-uniform format (FP8 has 253
    levels) a rug of short ticks without thresholds.

    Parameters
    ----------
    dist : scipy.stats frozen distribution or ClampedDistribution
    alpha : float
        Clipping boundary, raw units.
    bits : int, optional
        Bit-width; may be omitted for a format with a fixed width.
    grid : str or qerror.formats.Format, optional
    max_lines : int
    sigma : float, optional
        Unit of the x axis; by default the law's standard deviation.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from ._validation import check_alpha
    from .formats import get_format
    from .laws._protocol import is_law
    from .laws.clamped import ClampedDistribution

    fmt = get_format(grid)
    b = int(fmt.check_bits(bits))
    al = float(check_alpha(alpha))
    if not is_law(dist):
        raise TypeError("plot_levels takes a distribution; use plot_histogram for data")
    s, is_sigma = _sigma(dist, sigma)
    geo = fmt.geometry(np.array(al), np.array(b))
    all_levels = fmt.levels(al, b) if b <= 16 else None
    n_levels = all_levels.size if all_levels is not None else 2**b
    levels = all_levels if n_levels <= max_lines else None
    step = float(geo.step) if geo.step is not None else float(np.min(np.diff(all_levels)))
    base = dist.base if isinstance(dist, ClampedDistribution) else dist
    lo_q, hi_q = (float(v) for v in base.ppf([1e-3, 1 - 1e-3]))
    lo_x = min(lo_q, -1.3 * al if fmt.signed else -0.3 * al)
    hi_x = max(hi_q, 1.3 * al)
    if isinstance(dist, ClampedDistribution):
        lo_x, hi_x = max(lo_x, -1.15 * dist.d), min(hi_x, 1.15 * dist.d)
        lo_x, hi_x = min(lo_x, -1.1 * al if fmt.signed else lo_x), max(
            hi_x, 1.1 * al)
    x = np.linspace(lo_x, hi_x, 1201)
    pdf = np.asarray(dist.pdf(x), dtype=np.float64) * s
    ax = _axes(ax)
    ax.plot(x / s, pdf, "k-", lw=1.5, label=f"density of {_law_name(dist)}")
    out = (x < float(geo.lo)) | (x > float(geo.hi))
    ax.fill_between(x / s, 0, pdf, where=out, color="C3", alpha=0.3, lw=0,
                    label="clipped (truncation)")
    top = float(np.nanmax(pdf)) if np.isfinite(pdf).any() else 1.0
    if levels is not None:
        ax.vlines(levels / s, 0, 0.12 * top, color="C0", lw=1.5, label=f"{n_levels} levels")
        thr = 0.5 * (levels[1:] + levels[:-1])
        ax.vlines(thr / s, 0, top, color="C0", lw=0.6, ls=":", label="thresholds")
    elif all_levels is not None and n_levels <= 1 << 16 and not fmt.uniform:
        shown = all_levels[(all_levels >= lo_x) & (all_levels <= hi_x)]
        ax.vlines(shown / s, 0, 0.06 * top, color="C0", lw=0.6,
                  label=f"{n_levels} levels ({shown.size} in view)")
    else:
        ax.text(0.02, 0.95, f"{n_levels} levels, step {step / s:.3g}"
                + ("σ" if is_sigma else ""), transform=ax.transAxes, va="top")
    ax.axvline(float(geo.lo) / s, color="C3", lw=1)
    ax.axvline(float(geo.hi) / s, color="C3", lw=1,
               label=r"$\pm\alpha$" if fmt.symmetric else "range ends")
    if isinstance(dist, ClampedDistribution):
        for xa, mass in dist.atoms:
            ax.vlines(xa / s, 0, 0.6 * top, color="C2", lw=2.5)
            ax.plot(xa / s, 0.6 * top, "^", color="C2", ms=8)
            ax.annotate(f"atom {mass:.3g}", (xa / s, 0.6 * top), textcoords="offset points",
                        xytext=(0, 8), ha="center", fontsize="small", color="C2")
    ax.set_ylim(0, 1.12 * top)
    ax.set_xlabel("x" + _unit(is_sigma))
    ax.set_ylabel(r"density $\times\,\sigma$" if is_sigma else "density")
    ax.set_title(rf"{_law_name(dist)}: b = {b}, $\alpha$ = {al / s:.3g}"
                 + (r"$\sigma$" if is_sigma else "") + f", {fmt.name}")
    _legend_outside(ax)
    return ax


def plot_histogram(x, bits: int, *, alpha=None, grid=None, bins: int = 200,
                   log: bool = True, sigma=None, ax=None):
    r"""Histogram of data with the chosen clipping boundary (or several) drawn over it.

    Parameters
    ----------
    x : array_like
        The data (flattened).
    bits : int
    alpha : float or dict of {str: float}, optional
        Clipping boundary (raw units) or several, labelled.  By default the certified
        optimum :func:`qerror.optimal_alpha` of the data (exact model).
    grid : str or qerror.formats.Format, optional
        Grid for the default optimum and the legend's MSE.
    bins : int
    log : bool
        Log-scaled counts, which shows the tails that clipping cuts.
    sigma : float, optional
        Unit of the x axis; by default the standard deviation of the data.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The legend gives each :math:`\alpha` in units of :math:`\sigma` and its MSE.
    """
    from .error import mse
    from .formats import get_format
    from .optimal import optimal_alpha

    fmt = get_format(grid)
    grid = fmt
    b = int(fmt.check_bits(bits))
    xa = np.asarray(x, dtype=np.float64).ravel()
    if xa.size == 0 or not np.all(np.isfinite(xa)):
        raise ValueError("x must be non-empty and finite")
    s, is_sigma = _sigma(xa, sigma)
    if alpha is None:
        alpha = {"optimal": float(optimal_alpha(xa, b, grid=grid).alpha)}
    elif not isinstance(alpha, dict):
        alpha = {"chosen": float(alpha)}
    ax = _axes(ax)
    ax.hist(xa / s, bins=bins, color="0.6", log=log, label=f"data (N = {xa.size})")
    # Boundaries often nearly coincide (the optimum and a good heuristic): each line
    # carries its own marker at its own height, and the first (the optimum by
    # default) is drawn on top, so none hides another.
    markers = "ovs^Dp*hX<>"
    xform = ax.get_xaxis_transform()  # x in data, y in axes fraction
    n = len(alpha)
    for k, (name, al) in enumerate(alpha.items()):
        color = f"C{k % 10}"
        al = float(al)
        e = float(mse(xa, al, b, grid=grid)) if al > 0 else float(np.mean(xa * xa))
        lab = (rf"{name}: $\alpha$ = {al / s:.3g}" + ("σ" if is_sigma else "")
               + f", MSE = {e / s**2:.3g}" + ("σ²" if is_sigma else ""))
        y_mark = 0.93 - 0.8 * k / max(n, 1)
        z = 3 + n - k
        sides = (1.0, -1.0) if fmt.signed else (1.0,)
        for sign in sides:
            ax.plot([sign * al / s] * 3, [0.0, y_mark, 1.0], "-", color=color, lw=1.5,
                    marker=markers[k % len(markers)], markevery=[1], ms=6, mec="k",
                    mew=0.5, transform=xform, zorder=z,
                    label=lab if sign > 0 else "_nolegend_")
    if log:
        _log_axes(ax, x=False)
    ax.set_xlabel("value" + _unit(is_sigma))
    ax.set_ylabel("count" + (" (log scale)" if log else ""))
    ax.set_title(f"b = {b}, {fmt.name}")
    _legend_outside(ax)
    return ax


def plot_step_sensitivity(dists, bits: int, *, scale=None, model: str = "exact",
                          grid=None, ax=None):
    r"""Error when the step is scaled away from its optimum (supplement Fig. 5A).

    For each law, :math:`E(c\,\alpha^*)/E(\alpha^*)` against :math:`c =
    \Delta/\Delta^*`: with the number of levels fixed, scaling the step by :math:`c`
    scales the range by :math:`c`.  Log scales on both axes.

    Parameters
    ----------
    dists : distribution or dict of {str: distribution}
    bits : int
    scale : array_like, optional
        Step ratios :math:`c`; by default 301 points from 1/4 to 4.
    model : {"exact", "aciq"}
    grid : str or qerror.formats.Format, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from ._validation import check_model
    from .error import mse
    from .formats import get_format
    from .optimal import optimal_alpha

    grid = get_format(grid)
    model = check_model(model)
    b = int(grid.check_bits(bits))
    c = (np.geomspace(0.25, 4.0, 301) if scale is None
         else np.asarray(scale, dtype=np.float64).ravel())
    if not isinstance(dists, dict):
        dists = {_law_name(dists): dists}
    ax = _axes(ax)
    for k, (name, dist) in enumerate(dists.items()):
        r = optimal_alpha(dist, b, model=model, grid=grid)
        e = np.asarray(mse(dist, c * r.alpha, b, model=model, grid=grid))
        ax.plot(c, e / r.mse, "-", color=f"C{k % 10}", lw=1.5, label=name)
    ax.axvline(1.0, color="k", lw=0.8, ls=":")
    _log_axes(ax)
    ax.set_xlabel(r"step ratio $\Delta / \Delta^*$")
    ax.set_ylabel(r"MSE / MSE at $\Delta^*$")
    ax.set_title(f"step-size sensitivity, b = {b}, {_MODEL_LABEL[model]}, {grid.name}")
    _legend_outside(ax)
    ax.grid(True, which="both", alpha=0.3)
    return ax
