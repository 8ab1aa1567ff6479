"""A plot review a reader would make, as a test helper: ``review(fig)`` returns the
problems of a drawn matplotlib figure (an empty list when it reads well).

Per Axes that holds data:

* both axes labelled;
* at least ``min_ticks`` labelled ticks in view on each axis (major or minor: a log axis
  over less than a decade often has a single decade label, or none), and no stretch
  of more than ``MAX_GAP`` of an axis without a label;
* every line drawn inside the frame (no finite point outside the axes box);
* no line fully hidden: a line without markers whose every point lies within a few
  pixels of a line drawn on top of it (higher zorder, or later at equal zorder) is
  invisible (two coinciding boundaries in a histogram, say);
* the legend, if inside the axes, covers no point of a line and no histogram bar top.
"""

from __future__ import annotations

import numpy as np

PIXEL_TOL = 2.0  # px: closer than this, a line under another one is not seen
MAX_GAP = 0.34  # largest fraction of an axis without a tick label


def _labelled_ticks(axis, lo, hi) -> list[float]:
    """Positions (data) of the ticks in view that carry a label."""
    locs = []
    for ticks in (axis.get_major_ticks(), axis.get_minor_ticks()):
        for t in ticks:
            if (t.label1.get_visible() and t.label1.get_text().strip()
                    and min(lo, hi) <= t.get_loc() <= max(lo, hi)):
                locs.append(t.get_loc())
    return locs


def _largest_gap(axis, lo, hi, locs) -> float:
    """Largest stretch of the axis without a tick label, as a fraction of its length
    (ends included): 0.5 .. 1.5 labelled only up to 1 has a third unlabelled."""
    tr = axis.get_transform()
    with np.errstate(all="ignore"):
        pos = tr.transform(np.array(sorted([lo, hi, *locs]), dtype=float))
    pos = pos[np.isfinite(pos)]
    span = pos.max() - pos.min()
    return float(np.max(np.diff(pos)) / span) if span > 0 and len(pos) > 1 else 1.0


def _display_points(line) -> np.ndarray:
    xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float),
                          np.asarray(line.get_ydata(), dtype=float)])
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    if xy.size == 0:
        return xy.reshape(0, 2)
    with np.errstate(all="ignore"):
        pts = line.get_transform().transform(xy)
    return pts[np.all(np.isfinite(pts), axis=1)]


def _dist_to_polyline(p: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Distance of each point of p to the polyline poly (display units)."""
    if len(poly) == 1:
        return np.hypot(*(p - poly[0]).T)
    a, b = poly[:-1], poly[1:]
    ab = b - a
    ln2 = np.maximum((ab**2).sum(1), 1e-12)
    ap = p[:, None, :] - a[None, :, :]
    t = np.clip((ap * ab[None]).sum(2) / ln2[None], 0.0, 1.0)
    proj = a[None] + t[..., None] * ab[None]
    return np.sqrt(((p[:, None, :] - proj) ** 2).sum(2)).min(1)


def _has_markers(line) -> bool:
    m = line.get_marker()
    return m not in (None, "", " ", "None") and line.get_markersize() > 0


def _data_lines(ax):
    return [ln for ln in ax.get_lines() if ln.get_visible() and len(ln.get_xdata())]


def review_axes(ax, min_ticks: int = 2) -> list[str]:
    name = repr(ax.get_title() or ax.get_label() or "axes")
    probs = []
    lines = _data_lines(ax)
    if not lines and not ax.patches and not ax.collections:
        return probs
    if not ax.get_xlabel().strip():
        probs.append(f"{name}: x axis has no label")
    if not ax.get_ylabel().strip():
        probs.append(f"{name}: y axis has no label")
    for which, axis, lim in (("x", ax.xaxis, ax.get_xlim()),
                             ("y", ax.yaxis, ax.get_ylim())):
        locs = _labelled_ticks(axis, *lim)
        if len(locs) < min_ticks:
            probs.append(f"{name}: {which} axis has {len(locs)} labelled tick(s) in view")
        elif (gap := _largest_gap(axis, *lim, locs)) > MAX_GAP:
            probs.append(f"{name}: {which} axis has {gap:.0%} of its length without a "
                         "tick label")
    box = ax.bbox
    for ln in lines:
        pts = _display_points(ln)
        out = ((pts[:, 0] < box.x0 - 1) | (pts[:, 0] > box.x1 + 1)
               | (pts[:, 1] < box.y0 - 1) | (pts[:, 1] > box.y1 + 1))
        if out.any():
            probs.append(f"{name}: line {ln.get_label()!r} has {int(out.sum())} of "
                         f"{len(pts)} points outside the frame")
    order = sorted(range(len(lines)), key=lambda i: (lines[i].get_zorder(), i))
    for rank, i in enumerate(order):
        ln = lines[i]
        if _has_markers(ln):
            continue
        pts = _display_points(ln)
        if len(pts) == 0:
            continue
        for j in order[rank + 1:]:
            top = lines[j]
            tp = _display_points(top)
            if len(tp) == 0:
                continue
            tol = max(PIXEL_TOL, top.get_linewidth() * ax.figure.dpi / 72.0 / 2.0)
            if np.all(_dist_to_polyline(pts, tp) <= tol):
                probs.append(f"{name}: line {ln.get_label()!r} is hidden under "
                             f"{top.get_label()!r}")
                break
    leg = ax.get_legend()
    if leg is not None and leg.get_visible():
        lb = leg.get_window_extent()
        if lb.overlaps(box):
            for ln in lines:
                pts = _display_points(ln)
                inside = ((pts[:, 0] > lb.x0) & (pts[:, 0] < lb.x1)
                          & (pts[:, 1] > lb.y0) & (pts[:, 1] < lb.y1))
                if inside.any():
                    probs.append(f"{name}: legend covers {int(inside.sum())} point(s) of "
                                 f"line {ln.get_label()!r}")
            for p in ax.patches:
                bb = p.get_window_extent()
                if bb.height > 0 and lb.x0 < (bb.x0 + bb.x1) / 2 < lb.x1 and \
                        lb.y0 < bb.y1 < lb.y1:
                    probs.append(f"{name}: legend covers a bar")
                    break
    return probs


def review(fig, min_ticks: int = 2) -> list[str]:
    """Problems of every Axes of `fig` (drawn first, so that ticks and the legend are
    laid out as they will be saved)."""
    fig.draw_without_rendering()  # works on a closed figure too (no canvas needed)
    out = []
    for ax in fig.axes:
        out += review_axes(ax, min_ticks=min_ticks)
    return out
