"""The power-of-two grid's arithmetic on checked arguments: levels, rounding, and the
(truncation, rounding) split of its error for a law or data.  The public functions are
in :mod:`qerror.nonuniform.pow2`."""

from __future__ import annotations

import math

import numpy as np

from ..laws._protocol import Law


def _pow2_grid(alpha: float, bits: int) -> np.ndarray:
    """The 2^bits levels +-alpha 2^-k, ascending (alpha and bits already checked)."""
    pos = alpha * np.exp2(-np.arange(2 ** (bits - 1) - 1, -1, -1, dtype=np.float64))
    return np.concatenate((-pos[::-1], pos))


def _pow2_round(xa: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Nearest level: thresholds at the midpoints, 0 between the two smallest levels."""
    t = 0.5 * (levels[:-1] + levels[1:])
    t[t.size // 2] = 0.0
    return levels[np.searchsorted(t, xa, side="left")]


def _pow2_kappa(k_levels: int) -> np.ndarray:
    """Per-unit-mass rounding coefficient kappa_k (level k = 0 outermost) of the ACIQ
    model: mean of (x - y_k)^2 / y_k^2 for x uniform on the cell of y_k."""
    if k_levels == 1:
        return np.array([1.0 / 3.0])
    kap = np.full(k_levels, 1.0 / 16.0)
    kap[0] = 1.0 / 48.0
    kap[-1] = 1.0 / 4.0
    return kap


def _pow2_parts_law(law: Law, alpha: float, bits: int, model: str):
    """(truncation, rounding) of the power-of-two grid for a resolved law."""
    fam, loc, s = law.family, law.loc, law.scale
    K = 2 ** (bits - 1)
    pos = alpha * np.exp2(-np.arange(K - 1, -1, -1, dtype=np.float64))  # ascending
    mid = 0.5 * (pos[:-1] + pos[1:])
    # positive-side in-range cells [lo_i, hi_i] with level pos[i]; negative mirrored
    lo = np.concatenate(([0.0], mid))
    hi = np.concatenate((mid, [alpha]))
    A = np.concatenate((-hi[::-1], lo))
    B = np.concatenate((-lo[::-1], hi))
    Y = np.concatenate((-pos[::-1], pos))
    L, U = law.lower, law.upper

    def z(v):
        return (v - loc) / s

    za, zb = np.clip(z(A), L, U), np.clip(z(B), L, U)
    zal, zau = z(-alpha), z(alpha)
    trunc = 0.0
    if zau < U:
        trunc += float(fam.seg(np.array([max(zau, L)]), np.array([U]), np.array([zau]))[0])
    if L < zal:
        trunc += float(fam.seg(np.array([L]), np.array([min(zal, U)]), np.array([zal]))[0])
    trunc *= s * s
    atoms_in = []
    for x, m in law.atoms:
        if x > alpha:
            trunc += m * (x - alpha) ** 2
        elif x < -alpha:
            trunc += m * (x + alpha) ** 2
        else:
            atoms_in.append((x, m))
    if model == "exact":
        rnd = s * s * float(math.fsum(fam.seg(za, zb, z(Y))))
        for x, m in atoms_in:
            i = min(int(np.searchsorted(B, x, side="left")), Y.size - 1)
            rnd += m * (x - Y[i]) ** 2
        return trunc, rnd
    # ACIQ-style: density constant within each cell (see pow2_mse)
    p = fam.prob(za, zb)
    for x, m in atoms_in:
        p[min(int(np.searchsorted(B, x, side="left")), Y.size - 1)] += m
    kap = _pow2_kappa(K)  # index 0 = outermost
    kap_all = np.concatenate((kap, kap[::-1]))
    return trunc, float(math.fsum(p * kap_all * Y * Y))


def _pow2_parts_data(x: np.ndarray, alpha: float, bits: int):
    q = _pow2_round(x, _pow2_grid(alpha, bits))
    e = (x - q) ** 2
    out = np.abs(x) > alpha
    n = x.size
    return float(e[out].sum() / n), float(e[~out].sum() / n)


def _pow2_parts(obj, alpha, bits, model):
    if isinstance(obj, np.ndarray):
        if model != "exact":
            raise ValueError("model='aciq' needs a law; for data only model='exact'")
        return _pow2_parts_data(obj, alpha, bits)
    return _pow2_parts_law(obj, alpha, bits, model)
