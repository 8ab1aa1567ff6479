r"""Scale rules of block (group-wise) quantization (private).

A rule maps a group's absolute maximum :math:`m = \max_i |x_i|` to the clipping boundary
:math:`\alpha` of the element format (``fmt.quantize(x, alpha, bits)``), through two
numbers the format's levels give: ``top``, its largest level at :math:`\alpha = 1`,
and ``ratio`` :math:`r \in [1, 2)`, its largest level over the largest power of two
below it when its smallest positive level is a power of two (the native units of
every OCP MX element type: E2M1 6/4 = 1.5, E4M3 448/256 = 1.75, INT8 127/64).

``absmax``  :math:`\alpha = m/\text{top}`: the group's maximum on the top level;
``pow2``    :math:`\alpha = 2^{\lfloor\log_2 m\rfloor} r/\text{top}`: the OCP MX
            shared scale :math:`X = 2^{\lfloor\log_2 m\rfloor - e_{\max}}` (E8M0) of an
            element format whose largest value is :math:`r\,2^{e_{\max}}`;
``e4m3``    :math:`\alpha = u\,\mathrm{E4M3}(m/u)/\text{top}`: NVFP4's block scale
            :math:`m/6` divided by the FP32 tensor scale and rounded to FP8 E4M3,
            where :math:`u` is the tensor's maximum over 448.
"""

from __future__ import annotations

import numpy as np

#: bits stored per group for its scale: FP16 (absmax, optimal: grouped int4), E8M0
#: (OCP MX), FP8 E4M3 (NVFP4, plus one FP32 per tensor)
SCALE_BITS = {"absmax": 16, "pow2": 8, "e4m3": 8, "optimal": 16}
RULES = tuple(SCALE_BITS)
#: rules whose alpha is a function of the group maximum (the law engine's rules)
MAX_RULES = ("absmax", "pow2", "e4m3")

#: E4M3 (OCP FP8, "e4m3fn"): 3 mantissa bits, exponents -6..8, largest finite 448
E4M3_MAX = 448.0


def e4m3_values() -> np.ndarray:
    """All non-negative finite E4M3 values, ascending (0, 2^-9 ... 448)."""
    sub = np.arange(8, dtype=np.float64) * 2.0**-9
    normal = ((1.0 + np.arange(8) / 8.0)[None, :] * np.exp2(np.arange(-6, 9))[:, None])
    return np.concatenate([sub, normal.ravel()[:-1]])  # 1.875 * 2^8 = 480 is NaN


def e4m3_round(v: np.ndarray) -> np.ndarray:
    """Round v >= 0 to the nearest E4M3 value (ties to even), saturating at 448."""
    v = np.asarray(v, dtype=np.float64)
    _, e = np.frexp(v)  # v = f 2^e, f in [0.5, 1): floor(log2 v) = e - 1
    ulp = np.exp2(np.maximum(e - 1, -6) - 3.0)
    return np.minimum(np.rint(v / ulp) * ulp, E4M3_MAX)


def pow2_floor(m: np.ndarray) -> np.ndarray:
    """2^floor(log2 m) exactly (0 for m = 0)."""
    f, e = np.frexp(np.asarray(m, dtype=np.float64))
    return np.where(f > 0, np.ldexp(1.0, e - 1), 0.0)


def format_top(fmt, bits: int) -> float:
    """The format's largest level at alpha = 1."""
    geo = fmt.geometry(np.ones(1), np.full(1, bits, dtype=np.int64))
    top = float(np.asarray(geo.level_hi).ravel()[0])
    if not top > 0.0:
        raise ValueError(f"grid {fmt.name!r} has no positive level: block scaling maps "
                         "the group maximum to the top level")
    return top


def format_ratio(fmt, bits: int, top: float) -> float:
    """r: the top level over the largest power of two below it, in the units where the
    smallest positive level is a power of two (OCP MX's emax of the element format)."""
    if bits > 16:
        raise ValueError(f"scale='pow2' takes element formats of at most 16 bits, got "
                         f"bits={bits}")
    lv = fmt.levels(1.0, bits)
    small = float(np.min(lv[lv > 0]))
    f, _ = np.frexp(top / small)
    return 2.0 * float(f)


def alpha_of_max(rule: str, m, top: float, ratio: float | None, unit: float | None):
    """Clipping boundary for group maxima `m` under a max-based rule."""
    m = np.asarray(m, dtype=np.float64)
    if rule == "absmax":
        return m / top
    if rule == "pow2":
        return pow2_floor(m) * (ratio / top)
    if rule == "e4m3":
        return e4m3_round(m / unit) * (unit / top)
    raise ValueError(f"rule {rule!r} is not a function of the group maximum")


def jumps(rule: str, lo: float, hi: float, unit: float | None) -> np.ndarray:
    """Group maxima in (lo, hi) where a piecewise-constant rule's alpha jumps."""
    if rule == "pow2":
        k0, k1 = np.frexp(lo)[1] - 1, np.frexp(hi)[1]
        pts = np.ldexp(1.0, np.arange(k0, k1 + 1))
    elif rule == "e4m3":
        v = e4m3_values()
        pts = 0.5 * (v[1:] + v[:-1]) * unit
    else:
        return np.empty(0)
    return pts[(pts > lo) & (pts < hi)]
