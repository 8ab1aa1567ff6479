"""The frozen result type returned by the optimal-clipping solvers."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

__all__ = ["OptimalAlpha"]


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

    def __repr__(self) -> str:
        lines = []
        for f in fields(self):
            if f.name == "extra" and not self.extra:
                continue
            val = getattr(self, f.name)
            if isinstance(val, np.ndarray) and val.size > 6:
                val = f"array(shape={val.shape}, dtype={val.dtype})"
            lines.append(f"{f.name:>11}: {val!r}")
        return "OptimalAlpha(\n" + "\n".join(lines) + "\n)"
