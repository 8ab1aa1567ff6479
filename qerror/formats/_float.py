r"""Floating-point formats ExMy: FP8 (E4M3, E5M2), FP6 (E2M3, E3M2), FP4 (E2M1), any split.

A format with ``e`` exponent bits, ``m`` mantissa bits and bias :math:`\beta` has the
non-negative values

.. math::

    \underbrace{j\,2^{1-\beta-m}}_{\text{subnormal},\ 0 \le j < 2^m}, \qquad
    \underbrace{(2^m + j)\,2^{E-m}}_{\text{normal},\ 0 \le j < 2^m},
    \quad E = 1-\beta, \dots, E_\max,

and their negatives.  The top of the range depends on how the format spends its
all-ones exponent field:

``specials="ieee"``
    infinities and NaNs: :math:`E_\max = 2^e - 2 - \beta` (E5M2, max 57344);
``specials="fn"``
    the OCP "fn" convention, no infinities, only the all-ones pattern is NaN:
    :math:`E_\max = 2^e - 1 - \beta` without its largest mantissa (E4M3FN, max 448);
``specials="none"``
    every pattern is a number (the OCP MX FP6/FP4 elements: E2M1, max 6).

Without subnormals (``subnormals=False``) the values below :math:`2^{1-\beta}` are 0
only.  At clipping boundary :math:`\alpha` the levels are :math:`s\,v` with
:math:`s = \alpha/v_\max`: :math:`\alpha` is the largest finite level, and values
beyond :math:`\pm\alpha` saturate to it (a real cast of an IEEE format overflows to
infinity instead; of an "fn" format, to NaN).  The bias only shifts the exponent
range, which the scale absorbs: for the error at the optimal scale only ``e``,
``m``, the subnormals and the specials matter.

Rounding is round to nearest, ties to the even mantissa, in the format's own sense
(``numpy.rint`` of :math:`|x|/s` in units of the value spacing of its binade), so
that :func:`qerror.quantize` with :math:`\alpha = v_\max` agrees bit for bit with the
casts of the ``ml_dtypes`` package inside the range.  Without subnormals a value below
the smallest normal goes to the nearer of 0 and the smallest normal, to 0 at the tie.
"""

from __future__ import annotations

import numpy as np

from ._levelset import LevelSet, _runs

__all__ = ["FloatFormat", "FP8_E4M3", "FP8_E5M2", "FP6_E2M3", "FP6_E3M2", "FP4_E2M1"]

_SPECIALS = ("ieee", "fn", "none")


def _check_int(value, name, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value!r}")
    return int(value)


class FloatFormat(LevelSet):
    r"""The floating-point format ExMy, scaled so that :math:`\alpha` is its largest
    finite value.

    Parameters
    ----------
    exponent_bits : int
        :math:`e`, 1 to 8.
    mantissa_bits : int
        :math:`m`, 1 to 10 (:math:`e + m \le 15`: at most :math:`2^{16}` levels).
    bias : int, optional
        Exponent bias :math:`\beta`; default :math:`2^{e-1}-1`.
    subnormals : bool
        Whether the values below the smallest normal are subnormals (default) or 0.
    specials : {"ieee", "fn", "none"}
        What the all-ones exponent holds (see the module docstring).
    name : str, optional
        Registry name (default ``"e{e}m{m}"`` plus the non-default options).

    Examples
    --------
    >>> from qerror.formats import FloatFormat
    >>> e2m1 = FloatFormat(2, 1, specials="none")
    >>> e2m1.levels(6.0)[7:]
    array([0. , 0.5, 1. , 1.5, 2. , 3. , 4. , 6. ])
    >>> FloatFormat(4, 3, specials="fn").max_value, FloatFormat(5, 2).max_value
    (448.0, 57344.0)
    """

    def __init__(self, exponent_bits: int, mantissa_bits: int, bias: int | None = None,
                 *, subnormals: bool = True, specials: str = "ieee",
                 name: str | None = None):
        e = _check_int(exponent_bits, "exponent_bits", 1, 8)
        m = _check_int(mantissa_bits, "mantissa_bits", 1, 10)
        if e + m > 15:
            raise ValueError(f"exponent_bits + mantissa_bits must be at most 15 (a "
                             f"level set of at most 2**16 values), got {e} + {m}")
        if specials not in _SPECIALS:
            raise ValueError(f"specials must be one of {_SPECIALS}, got {specials!r}")
        b = 2 ** (e - 1) - 1 if bias is None else _check_int(bias, "bias", -126, 126)
        emax = 2**e - (2 if specials == "ieee" else 1) - b
        if emax < 1 - b:
            raise ValueError(f"E{e}M{m} with specials={specials!r} has no normal "
                             f"values (its only exponent is reserved)")
        self.exponent_bits, self.mantissa_bits, self.bias = e, m, b
        self.subnormals, self.specials = bool(subnormals), specials
        self.emin, self.emax = 1 - b, emax
        top_j = 2**m - (2 if specials == "fn" else 1)
        if top_j < 0:  # pragma: no cover - m >= 1
            raise ValueError("no finite value in the top binade")
        exps = np.arange(self.emin, emax + 1)
        j = np.arange(2**m, dtype=np.float64)
        normal = np.ldexp((2.0**m + j)[None, :], (exps - m)[:, None])
        normal[-1, top_j + 1:] = np.nan
        pos = normal[np.isfinite(normal)]
        if self.subnormals:
            pos = np.concatenate([np.ldexp(j[1:], self.emin - m), pos])
        v = np.concatenate([-pos[::-1], [0.0], pos])
        self.max_value = float(pos[-1])
        if name is None:
            name = f"e{e}m{m}" + ("" if bias is None else f"_b{b}") + (
                "" if subnormals else "_nosub") + ("" if specials == "ieee" else
                                                   f"_{specials}")
        self.name = name
        self._set_levels(v, self.max_value)
        self.min_bits = self.max_bits = self.fixed_bits = 1 + e + m

    def __repr__(self) -> str:
        return (f"<qerror format {self.name!r}: E{self.exponent_bits}M"
                f"{self.mantissa_bits}, bias {self.bias}, max {self.max_value:g}, "
                f"subnormals={self.subnormals}, specials={self.specials!r}>")

    def quantize(self, xf, a, b):
        s = a / self.max_value
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            r = xf / s
        r = np.where(np.isnan(r), 0.0, r)
        mag = np.minimum(np.abs(r), self.max_value)
        _, ex = np.frexp(mag)  # mag = f 2**ex, f in [0.5, 1): binade exponent ex - 1
        E = np.maximum(ex - 1, self.emin)
        h = np.ldexp(1.0, E - self.mantissa_bits)  # value spacing of the binade
        q = np.rint(mag / h) * h
        if not self.subnormals:
            tiny = np.ldexp(1.0, self.emin)
            q = np.where(mag < tiny, np.where(mag > 0.5 * tiny, tiny, 0.0), q)
        return s * np.copysign(q, r) + 0.0


FP8_E4M3 = FloatFormat(4, 3, specials="fn", name="fp8_e4m3")
FP8_E5M2 = FloatFormat(5, 2, specials="ieee", name="fp8_e5m2")
FP6_E2M3 = FloatFormat(2, 3, specials="none", name="fp6_e2m3")
FP6_E3M2 = FloatFormat(3, 2, specials="none", name="fp6_e3m2")
FP4_E2M1 = FloatFormat(2, 1, specials="none", name="fp4_e2m1")
