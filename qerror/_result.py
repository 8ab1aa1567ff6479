"""The frozen result type returned by the optimal-clipping solvers."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

# methods of the comparison routes of qerror.data.solver (max-abs, moment fit + ACIQ,
# OCTAV): heuristics with no optimum to certify, so success=False is not a failure
_ROUTE_PREFIXES = ("max-abs", "fit-", "octav")


def _plain(v):
    """numpy scalars as Python numbers, recursively through dicts, lists and tuples."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_plain(x) for x in v)
    return v


def _num(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else repr(v)


def _show(v) -> str:
    """A field's value for the repr: scalars plainly, a long array as a summary."""
    if isinstance(v, np.ndarray):
        if v.size <= 6:
            return repr(_plain(v.tolist()))
        shape = "x".join(str(n) for n in v.shape)
        if v.dtype == bool:
            return f"<{shape} bool: {int(v.sum())} True, {int(v.size - v.sum())} False>"
        if v.dtype.kind in "iuf":
            fin = v[np.isfinite(v)] if v.dtype.kind == "f" else v
            if fin.size == 0:
                return f"<{shape} {v.dtype}: no finite value>"
            return (f"<{shape} {v.dtype}: min {_num(fin.min().item())}, median "
                    f"{_num(np.median(fin).item())}, max {_num(fin.max().item())}>")
        return f"<{shape} {v.dtype}>"
    return repr(_plain(v))

__all__ = ["OptimalAlpha", "AlphaComparison"]


@dataclass(frozen=True, repr=False)
class OptimalAlpha:
    r"""Result of an optimal-clipping solve.

    Field names follow :class:`scipy.optimize.OptimizeResult` where they fit.  For a
    per-channel solve (``axis=`` on data) the numeric fields are arrays with one entry
    per channel.

    Attributes
    ----------
    alpha : float or ndarray
        The clipping boundary :math:`\alpha^*` that minimises the error.
    mse : float or ndarray
        The error at `alpha`, ``truncation + rounding``.
    truncation : float or ndarray
        Part of `mse` from values with :math:`|W| > \alpha` (clipping error).
    rounding : float or ndarray
        Part of `mse` from values with :math:`|W| \le \alpha`.
    bits : int or ndarray
        Bit-width the solve was made for.
    model : str
        ``"exact"`` (the real quantizer) or ``"aciq"`` (the supplement's Eq. 3-4).
    grid : str
        ``"midrise"``, ``"midtread"`` or ``"unsigned"``.
    success : bool or ndarray of bool
        Whether the solver certified its answer as the global minimum.
    message : str
        How the answer was obtained and certified, or why it was not.
    nfev : int
        Number of error-function evaluations spent.
    method : str
        The algorithm used (e.g. ``"lambertw"``, ``"stationarity"``, ``"scan+brent"``,
        ``"exhaustive-breakpoints"``).
    """

    alpha: object
    mse: object
    truncation: object
    rounding: object
    bits: object
    model: str
    grid: str
    success: object
    message: str
    nfev: int
    method: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def is_route(self) -> bool:
        """True for a comparison route (max-abs, moment fit + ACIQ, OCTAV) of
        :mod:`qerror.data.solver`: a heuristic choice, not a solve, so its `success` is
        False by definition (nothing certified), not because something failed."""
        return str(self.method).startswith(_ROUTE_PREFIXES)

    def __repr__(self) -> str:
        lines = []
        for f in fields(self):
            if f.name == "extra" and not self.extra:
                continue
            val = getattr(self, f.name)
            text = _show(val)
            if f.name == "success" and self.is_route:
                text += "  (a comparison route, not a solve: no optimum to certify)"
            lines.append(f"{f.name:>11}: {text}")
        return "OptimalAlpha(\n" + "\n".join(lines) + "\n)"

    def to_dict(self) -> dict:
        """The fields as a plain dict (numpy scalars as Python numbers, arrays copied),
        e.g. for ``pandas.DataFrame([r.to_dict() for r in results])``."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.copy() if isinstance(v, np.ndarray) else _plain(v)
        return out

    def summary(self) -> str:
        """One line: alpha, the error and its split, and how the answer was obtained."""
        def agg(v):
            a = np.asarray(v, dtype=np.float64)
            return (_num(a.item()) if a.ndim == 0
                    else f"median {_num(float(np.median(a)))} over {a.size} channels")

        if self.is_route:
            status = f"comparison route {self.method}"
        else:
            ok = np.asarray(self.success)
            status = ("certified" if ok.all() else "NOT certified" if not ok.any()
                      else f"certified in {int(ok.sum())} of {ok.size}")
            status += f" ({self.method})"
        mse = np.asarray(self.mse, dtype=np.float64)
        return (f"alpha {agg(self.alpha)}; MSE {_num(float(np.mean(mse)))}"
                + (" (mean)" if mse.ndim else "")
                + f" = truncation {_num(float(np.mean(self.truncation)))} + rounding "
                f"{_num(float(np.mean(self.rounding)))}; b = {_plain(self.bits)}, "
                f"{self.model}, {self.grid}; {status}")


class AlphaComparison(dict):
    """``{route: OptimalAlpha}`` from :func:`qerror.data.routes.compare_alphas`.

    A plain dict (``out["optimal"].alpha`` etc.) whose repr is one table, one row per
    route: alpha, the exact empirical MSE, MSE over the certified optimum's, and
    whether the route is the certified solve or a heuristic comparison route.
    Per-channel results show the median alpha and the mean MSE over channels.
    """

    def __repr__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, p, cycle) -> None:  # IPython / Jupyter text display
        p.text(self.summary())

    def summary(self) -> str:
        """The comparison as a text table (also the repr)."""
        if not self:
            return "AlphaComparison({})"
        first = next(iter(self.values()))
        per_channel = np.ndim(first.alpha) > 0
        ref = self.get("optimal")
        ref_mse = float(np.mean(ref.mse)) if ref is not None else None
        head = (f"compare_alphas: b = {_plain(first.bits)}, {first.grid} grid, exact "
                f"empirical MSE of the data"
                + (f", per channel ({np.size(first.alpha)}: median alpha, mean MSE)"
                   if per_channel else ""))
        rows = [("route", "alpha", "MSE", "MSE/optimal", "kind")]
        for name, r in self.items():
            a = float(np.median(r.alpha)) if per_channel else float(r.alpha)
            m = float(np.mean(r.mse))
            ratio = (f"{m / ref_mse:.4f}" if ref_mse not in (None, 0.0)
                     else "1.0000" if m == ref_mse else "-")
            if r.is_route:
                kind = "comparison route"
            else:
                ok = np.asarray(r.success)
                kind = ("certified optimum" if ok.all() else "solve, not certified"
                        if not ok.any() else f"certified in {int(ok.sum())}/{ok.size}")
            rows.append((name, f"{a:.6g}", f"{m:.6g}", ratio, kind))
        w = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = [head]
        for row in rows:
            lines.append("  " + row[0].ljust(w[0]) + "  " + "  ".join(
                c.rjust(wi) for c, wi in zip(row[1:4], w[1:4], strict=True))
                + "  " + row[4])
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """``{route: OptimalAlpha.to_dict()}``."""
        return {name: r.to_dict() for name, r in self.items()}
