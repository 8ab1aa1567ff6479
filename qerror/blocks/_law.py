r"""Expected block-scaled MSE of a law, through the law of the block maximum (private).

For a block of :math:`n` i.i.d. draws with density :math:`f` and cdf :math:`F`, the
block maximum :math:`M = \max_i |W_i|` has cdf :math:`G(m) = P(m)^n`, with
:math:`P(m) = F(m) - F(-m)`.  Given :math:`M = m`, one element sits at :math:`\pm m`
(with odds :math:`f(m) : f(-m)`) and the other :math:`n-1` are i.i.d. from the law
conditioned on :math:`|W| < m`.  With the scale :math:`\alpha = s(m)` of the rule,

.. math::

    \mathrm{MSE} = \mathbb E_M\Bigl[\tfrac1n\,e(M) + \tfrac{n-1}{n}\,
        \frac{R(M)}{P(M)}\Bigr], \quad
    e(m) = \frac{f(m)\,\epsilon(m) + f(-m)\,\epsilon(-m)}{f(m) + f(-m)}, \quad
    R(m) = \int_{-m}^{m} f(w)\,\epsilon(w)\,dw,

where :math:`\epsilon(w) = (w - Q_{s(m)}(w))^2`.  The expectation is an integral over
:math:`c = 1 - G(M) \in (0, 1)`: :math:`\mathbb E_M[h(M)] = \int_0^1 h(m(c))\,dc`,
with :math:`m(c)` the block maximum's upper quantile, so that no tail is cut off.
It is split where :math:`s` jumps (pow2, e4m3) and, where :math:`s` is constant,
where :math:`\pm m` crosses a decision threshold or the range edge (kinks of
:math:`R''`), and each piece is summed by tanh-sinh quadrature with the distances
to both ends carried exactly, refined until two levels agree to ``RTOL``.
"""

from __future__ import annotations

import numpy as np

from ..laws._families._base import _GL20
from . import _rules

#: relative agreement of successive tanh-sinh levels at which a piece is accepted
RTOL = 1e-12
_TMAX = 6.0  # tanh-sinh abscissae |t| <= 6: distances to the ends down to ~1e-270
_LEVELS = (3, 10)  # step 2^-3 first, refined to at most 2^-10
_KINK_LEVELS = 512  # formats with more levels: no breaks at every threshold
_TAIL = 1e-20  # share of E[W^2] the blocks with a maximum beyond the range may hold
_NARROW = 0.5  # relative width below which a piece is summed by Gauss-Legendre
_EXPAND = 256  # uniform blocks of at most this many cells are cut cell by cell


# ------------------------------------------------------------------ law of M
def _tail(law, m):
    """q(m) = P(|W| >= m) for m >= 0 (no cancellation: sf + cdf)."""
    fam = law.family
    return fam.sf(law.z(m)) + fam.cdf(law.z(-m))


def _c_of_m(law, n, m):
    """c = 1 - G(m) = 1 - (1 - q(m))^n, accurate for small c and small 1 - c."""
    q = np.clip(_tail(law, np.asarray(m, dtype=np.float64)), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        return -np.expm1(n * np.log1p(-q))


def _m_of_c(law, n, c, lo, hi):
    """The block maximum's upper quantile: m with 1 - G(m) = c (bisection in log m
    between lo and hi, which bracket every c; 1 - G decreases in m)."""
    with np.errstate(divide="ignore"):
        target = -np.expm1(np.log1p(-c) / n)  # q(m) = 1 - (1 - c)^(1/n)
    a = np.full(c.shape, np.log(lo))
    b = np.full(c.shape, np.log(hi))
    for _ in range(80):
        mid = 0.5 * (a + b)
        above = _tail(law, np.exp(mid)) > target
        a = np.where(above, mid, a)
        b = np.where(above, b, mid)
    return np.exp(0.5 * (a + b))


def _moment2(law, a, b):
    """E[W^2; a < W < b] for x-bounds a < b (may be infinite)."""
    fam, s = law.family, law.scale
    lo, hi = max(law.z(a), law.lower), min(law.z(b), law.upper)
    if not lo < hi:
        return 0.0
    z0 = np.full(1, law.z(0.0))
    return float(fam.seg(np.full(1, lo), np.full(1, hi), z0)[0]) * s * s


def _bracket(law, n):
    """(lo, hi) in x-units: 1 - G(lo) = 1 to double precision, and beyond hi the
    blocks hold a negligible share of the error: n E[W^2; |W| > hi] (a bound on
    E[M^2; M > hi], which bounds their error) below ``_TAIL`` E[W^2]."""
    s = law.scale
    lo = 1e-30 * (s + abs(law.loc))
    hi = s + abs(law.loc)
    total = _moment2(law, -np.inf, np.inf)
    for _ in range(2000):
        if _c_of_m(law, n, hi) < 1e-300 or n * (
                _moment2(law, hi, np.inf) + _moment2(law, -np.inf, -hi)) < _TAIL * total:
            break
        hi *= 2.0
    return lo, hi


# ------------------------------------------------------------------ error pieces
def _seg(fam, lo, hi, c):
    r""":math:`\int_{lo}^{hi} f(z)(z-c)^2dz` (standardised).

    A piece shorter than ``_NARROW`` times (1 + its distance to the family's
    non-smooth points: kinks, support ends, 0) is summed by 20-point Gauss-Legendre,
    exact to double precision there for a density analytic on the scale of the
    standardised law; the rest by the family (closed forms, or adaptive quadrature,
    which is slow for the many short cut cells this engine makes)."""
    w = hi - lo
    pts = {0.0, *getattr(fam, "kinks", ()), *getattr(fam, "suspects", ()),
           *(p for p in getattr(fam, "support", ()) if np.isfinite(p))}
    dist = np.full(lo.shape, np.inf)
    for k in pts:
        dist = np.minimum(dist, np.maximum(np.maximum(lo - k, k - hi), 0.0))
    narrow = (w <= _NARROW * (1.0 + dist)) & (dist > 0)
    if not narrow.any():
        return fam.seg(lo, hi, c)
    out = np.empty(lo.shape)
    wide = ~narrow
    if wide.any():
        out[wide] = fam.seg(lo[wide], hi[wide], c[wide])
    x, wt = _GL20
    half = 0.5 * w[narrow]
    mid = lo[narrow] + half
    du = half[:, None] * x
    off = (mid - c[narrow])[:, None] + du
    out[narrow] = half * ((fam.pdf(mid[:, None] + du) * off * off) @ wt)
    return out


def _cut_block(fam, a0, step, nc, zl, zu):
    """Rounding error of a uniform block of cells (z-space) cut to (zl, zu).

    Up to ``_EXPAND`` cells the cells are cut one by one (vectorised ``seg``: fast for
    every family, the quadrature ones included); larger blocks go through the
    family's block sum for the whole cells and ``seg`` for the two cut ones."""
    out = np.zeros(a0.shape)
    nmax = float(np.max(nc)) if nc.size else 0.0
    if nmax <= _EXPAND:
        i = np.arange(int(nmax))[None, :]
        a = a0[:, None] + i * step[:, None]
        lo, hi = np.maximum(a, zl[:, None]), np.minimum(a + step[:, None], zu[:, None])
        ok = (lo < hi) & (i < nc[:, None])
        v = np.zeros(a.shape)
        if ok.any():
            v[ok] = _seg(fam, lo[ok], hi[ok], (a + 0.5 * step[:, None])[ok])
        return v.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        i1 = np.clip(np.ceil((zl - a0) / step), 0.0, nc)
        i2 = np.clip(np.floor((zu - a0) / step), 0.0, nc)
    whole = i2 > i1
    if whole.any():
        out[whole] = fam.cells(a0[whole] + i1[whole] * step[whole], step[whole],
                               i2[whole] - i1[whole])
    for j in (i1 - 1.0, i2):  # the (at most two) cells cut by zl and zu
        m = (j >= 0) & (j < nc) & ~((j == i2) & (i2 < i1))
        if m.any():
            a = a0[m] + j[m] * step[m]
            lo, hi = np.maximum(a, zl[m]), np.minimum(a + step[m], zu[m])
            ok = lo < hi
            v = np.zeros(lo.shape)
            v[ok] = _seg(fam, lo[ok], hi[ok], (a + 0.5 * step[m])[ok])
            out[m] += v
    return out


def _inner_error(law, fmt, alpha, bits, m):
    """R(m) = int_{-m}^{m} f(w) (w - Q_alpha(w))^2 dw (x-units, 1-D arrays)."""
    fam, s = law.family, law.scale
    zl = np.maximum(law.z(-m), law.lower)
    zu = np.minimum(law.z(m), law.upper)
    out = np.zeros(m.shape)
    zero = alpha <= 0.0  # a scale that underflowed: everything goes to 0
    if zero.any():
        out[zero] = _seg(fam, zl[zero], zu[zero], np.full(int(zero.sum()), law.z(0.0)))
    k = ~zero
    if not k.any():
        return out * s * s
    zl, zu, a = zl[k], zu[k], alpha[k]
    geo = fmt.geometry(a, np.full(a.shape, bits, dtype=np.int64))
    part = np.zeros(a.shape)
    for edge, level, right in ((geo.hi, geo.level_hi, True), (geo.lo, geo.level_lo, False)):
        ze, zlev = law.z(np.broadcast_to(edge, a.shape)), law.z(
            np.broadcast_to(level, a.shape))
        lo, hi = (np.maximum(ze, zl), zu) if right else (zl, np.minimum(ze, zu))
        ok = lo < hi
        if ok.any():
            part[ok] += _seg(fam, lo[ok], hi[ok], zlev[ok])
    for a0, step, nc in geo.blocks:
        a0z = law.z(np.broadcast_to(a0, a.shape))
        stz = np.broadcast_to(step, a.shape) / s
        part += _cut_block(fam, a0z, stz, np.broadcast_to(nc, a.shape).astype(float),
                           zl, zu)
    for ca, cb, lev in geo.cells:
        ca, cb, lev = (law.z(np.asarray(v, dtype=np.float64)) for v in (ca, cb, lev))
        extra = ca.ndim > 1 or cb.ndim > 1
        lo = np.maximum(ca, zl[:, None] if extra else zl)
        hi = np.minimum(cb, zu[:, None] if extra else zu)
        lo, hi, lev = np.broadcast_arrays(lo, hi, lev)
        ok = lo < hi
        v = np.zeros(lo.shape)
        if ok.any():
            v[ok] = _seg(fam, lo[ok], hi[ok], lev[ok])
        part += v.sum(axis=-1) if extra else v
    out[k] = part
    return out * s * s


def _integrand(law, fmt, bits, n, rule, consts, m, alpha):
    """h(m) of the module docstring at block maxima m with scales alpha."""
    fam, s = law.family, law.scale
    P = 1.0 - np.clip(_tail(law, m), 0.0, 1.0)
    xs = np.stack([m, -m])
    al = np.broadcast_to(alpha, xs.shape)
    b = np.full(xs.shape, bits, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        q = np.where(al > 0, fmt.quantize(xs, np.where(al > 0, al, 1.0), b), 0.0)
    eps = (xs - q) ** 2
    fp, fm = fam.pdf(law.z(m)) / s, fam.pdf(law.z(-m)) / s
    tot = fp + fm
    with np.errstate(invalid="ignore", divide="ignore"):
        edge = np.where(tot > 0, (fp * eps[0] + fm * eps[1]) / np.where(tot > 0, tot, 1),
                        0.5 * (eps[0] + eps[1]))
    h = edge / n
    if n > 1:
        R = _inner_error(law, fmt, alpha, bits, m)
        with np.errstate(invalid="ignore", divide="ignore"):
            h = h + (n - 1) / n * np.where(P > 0, R / np.where(P > 0, P, 1.0), 0.0)
    return h


# ------------------------------------------------------------------ quadrature
def _ts_nodes(level):
    """tanh-sinh abscissae of one level: (t, distance-to-end factor, weight) for the
    nodes new at that level (all nodes at the first level)."""
    h = 2.0**-level
    k = np.arange(-int(_TMAX / h), int(_TMAX / h) + 1)
    if level > _LEVELS[0]:
        k = k[k % 2 != 0]
    t = k * h
    u = 0.5 * np.pi * np.sinh(t)
    # 1 - tanh(|u|) and 1 + tanh(-|u|) = 2 / (1 + exp(2|u|)), without cancellation
    d = 2.0 / (1.0 + np.exp(2.0 * np.abs(u)))
    w = h * 0.5 * np.pi * np.cosh(t) / np.cosh(u) ** 2
    return np.sign(t), d, w


def _pieces(law, n, rule, lo, hi, fmt, bits, consts):
    """Break points in m (ascending, lo and hi included) and each piece's alpha (None
    for the absmax rule, whose alpha is proportional to m)."""
    top, ratio, unit = consts
    pts = np.concatenate([[lo], _rules.jumps(rule, lo, hi, unit), [hi]])
    if rule == "absmax":
        return pts, None
    mids = np.sqrt(pts[:-1] * pts[1:])
    alphas = _rules.alpha_of_max(rule, mids, top, ratio, unit)
    # kinks of R'': +-m crossing a threshold or a range edge at a constant alpha
    lv = fmt.levels(1.0, bits) if fmt.fixed_bits or bits <= 9 else None
    if lv is not None and lv.size <= _KINK_LEVELS:
        th = np.abs(np.concatenate([0.5 * (lv[1:] + lv[:-1]), lv[[0, -1]]]))
        extra = []
        for a, b, al in zip(pts[:-1], pts[1:], alphas, strict=True):
            k = th * al
            extra.append(k[(k > a) & (k < b)])
        more = np.concatenate(extra) if extra else np.empty(0)
        if more.size:
            allp = np.unique(np.concatenate([pts, more]))
            idx = np.searchsorted(pts, np.sqrt(allp[:-1] * allp[1:])) - 1
            return allp, alphas[idx]
    return pts, alphas


def expected_block_mse(law, fmt, bits: int, n: int, rule: str, unit=None):
    """E[MSE per element] of i.i.d. blocks of n draws of `law` (module docstring)."""
    if law.atoms:
        raise ValueError("group_mse of a law needs a continuous law; a clamped law has "
                         "atoms at +-d (quantize data drawn from it instead)")
    if law.family.infinite_variance and law.lower == -np.inf and law.upper == np.inf:
        return np.inf
    top = _rules.format_top(fmt, bits)
    ratio = _rules.format_ratio(fmt, bits, top) if rule == "pow2" else None
    consts = (top, ratio, unit)
    lo, hi = _bracket(law, n)
    pts, alphas = _pieces(law, n, rule, lo, hi, fmt, bits, consts)
    cb = _c_of_m(law, n, pts)  # decreasing in m
    keep = np.concatenate([[True], np.diff(cb) < 0])  # drop pieces of zero c-width
    pts, cb = pts[keep], cb[keep]
    if alphas is not None:
        alphas = alphas[keep[1:]]
    c_hi, c_lo = cb[:-1], cb[1:]  # piece j: c in (c_lo, c_hi), m in (pts[j], pts[j+1])
    half = 0.5 * (c_hi - c_lo)
    total = np.zeros(half.shape)
    prev = None
    for level in range(_LEVELS[0], _LEVELS[1] + 1):
        sgn, d, w = _ts_nodes(level)
        # node at distance half*d from the end it is near: c_lo for t > 0, c_hi else
        c = np.where(sgn[None, :] > 0, c_lo[:, None] + half[:, None] * d[None, :],
                     c_hi[:, None] - half[:, None] * d[None, :])
        c = np.clip(c, c_lo[:, None], c_hi[:, None])
        m = _m_of_c(law, n, c.ravel(), lo, hi)
        m = np.clip(m, pts[:-1].repeat(c.shape[1]), pts[1:].repeat(c.shape[1]))
        if alphas is None:
            al = _rules.alpha_of_max(rule, m, top, ratio, unit)
        else:
            al = alphas.repeat(c.shape[1])
        hv = _integrand(law, fmt, bits, n, rule, consts, m, al).reshape(c.shape)
        part = (hv * w[None, :]).sum(axis=1) * half
        total = part if prev is None else 0.5 * total + part
        if prev is not None and np.all(np.abs(total - prev) <= RTOL * np.abs(total).sum()
                                       + 1e-300):
            break
        prev = total.copy()
    return float(total.sum())
