"""Data passes for :mod:`qerror.data.solver`: a numba kernel and a numpy fallback.

The empirical solver needs three passes over the data: the largest magnitude, a
histogram of magnitudes (count, sum and sum of squares per bin, and the same three
sums for the negative values, which the ``"unsigned"`` grid treats apart) and the
read-back of the values that fall into flagged bins.

Bins are log-spaced and defined by the float64 bit pattern: the key of a magnitude
``a`` is ``bits(a) >> (52 - m)`` (exponent and the top ``m`` mantissa bits), and bin
``i`` holds the keys ``base + i`` (bin 0 also every smaller key).  Bin edges are exact
floats, so membership has no rounding.  The histogram pass also stores the bin of every
value (uint16), so the read-back pass only tests a flag per value.  Both back ends
compute the same keys and accumulate the sums in data order, so they return
bit-identical results and the solver returns the same alpha with or without numba.

numba is optional (``pip install qerror[fast]``); set ``QERROR_NO_NUMBA=1`` to force
the numpy path.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["HAVE_NUMBA", "backend", "absmax", "histogram", "extract", "keys", "chunks",
           "threads", "run_spans"]

try:  # pragma: no cover - depends on the environment
    if os.environ.get("QERROR_NO_NUMBA"):
        raise ImportError("disabled by QERROR_NO_NUMBA")
    import numba as _nb

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment
    _nb = None
    HAVE_NUMBA = False

# float32 values whose float64 key the compiled kernel derives from the float32 bits
# directly need a normal float32 exponent; below this magnitude the kernel converts
_F32_NORMAL = float(np.finfo(np.float32).tiny)
# the histogram pass splits the data into at most this many chunks (one per 2**20
# values), histogrammed in parallel and added in chunk order
_MAX_CHUNKS = 8


def keys(a: np.ndarray, shift: int) -> np.ndarray:
    """Bin keys of non-negative float64 magnitudes (numpy)."""
    return (np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)
            >> np.uint64(shift)).astype(np.int64)


# --------------------------------------------------------------------------- numpy
def chunks(size: int) -> int:
    """Number of chunks the histogram pass splits `size` values into: a function of
    the size only (not of the thread count), so that the sums, added chunk by chunk
    in order, are the same on every machine and in both back ends."""
    return int(min(_MAX_CHUNKS, max(1, size >> 20)))


def _bounds_of(size: int, P: int):
    return [size * i // P for i in range(P + 1)]


def _histogram_numpy(x, shift, base, nbins, signed):
    xf = x.astype(np.float64)
    P = chunks(xf.size)
    edges = _bounds_of(xf.size, P)
    h = np.zeros((nbins, 3))
    neg = np.zeros(3)
    bins = np.zeros(xf.size, dtype=np.uint16)
    for c in range(P):
        hc, nc, bc = _histogram_chunk(xf[edges[c]:edges[c + 1]], shift, base, nbins,
                                      signed)
        h += hc
        neg += nc
        bins[edges[c]:edges[c + 1]] = bc
    return h, neg, bins


def _histogram_chunk(xf, shift, base, nbins, signed):
    neg = np.zeros(3)
    if signed:
        a = np.abs(xf)
    else:
        negm = xf < 0.0
        if negm.any():
            xn = -xf[negm]
            # sequential sums in data order, as the compiled loop does
            neg[:] = (xn.size, np.add.accumulate(xn)[-1], np.add.accumulate(xn * xn)[-1])
            a = xf[~negm]
        else:
            a = xf
        a = a + 0.0  # -0.0 -> 0.0
    idx = np.clip(keys(a, shift) - base, 0, nbins - 1)
    # np.bincount adds the weights in data order, exactly as the compiled loop does
    n = np.bincount(idx, minlength=nbins).astype(np.float64)
    s = np.bincount(idx, weights=a, minlength=nbins)
    q = np.bincount(idx, weights=a * a, minlength=nbins)
    if signed or a.size == xf.size:
        bins = idx.astype(np.uint16)
    else:  # negatives get bin 0; the read-back skips them by sign
        bins = np.zeros(xf.size, dtype=np.uint16)
        bins[~negm] = idx
    return np.stack([n, s, q], axis=1), neg, bins


def _extract_numpy(x, bins, flags, signed):
    sel = flags[bins]
    if not signed:
        sel &= x >= 0
    return np.abs(x[sel].astype(np.float64))


# --------------------------------------------------------------------------- numba
if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage

    @_nb.njit(cache=True, nogil=True)
    def _key32(u, m):
        # float64 key of the magnitude of a normal float32 given by its bits u
        u = u & np.uint32(0x7FFFFFFF)
        e = np.int64(u >> np.uint32(23))
        return ((e + 896) << m) | np.int64((u & np.uint32(0x7FFFFF)) >> np.uint32(23 - m))

    @_nb.njit(cache=True, nogil=True)
    def _hist_nb(x, xu, m, base, nbins, signed, is32):
        h = np.zeros((nbins, 3))
        neg = np.zeros(3)
        bins = np.empty(x.size, dtype=np.uint16)
        top = nbins - 1
        shift = 52 - m
        for i in range(x.size):
            v = np.float64(x[i])
            if signed:
                a = abs(v)
            elif v < 0.0:
                neg[0] += 1.0
                neg[1] += -v
                neg[2] += v * v
                bins[i] = 0
                continue
            else:
                a = v + 0.0
            if is32:
                k = _key32(xu[i], m)
            else:
                k = np.int64((xu[i] & np.uint64(0x7FFFFFFFFFFFFFFF)) >> np.uint64(shift))
            k -= base
            if k < 0:
                k = 0
            elif k > top:
                k = top
            bins[i] = k
            h[k, 0] += 1.0
            h[k, 1] += a
            h[k, 2] += a * a
        return h, neg, bins

    @_nb.njit(cache=True, nogil=True)
    def _hist_signed32_nb(x, xu, m, base, nbins):
        # branch-free fast path of _hist_nb for signed float32 data (same results)
        h = np.zeros((nbins, 3))
        bins = np.empty(x.size, dtype=np.uint16)
        top = nbins - 1
        sh = np.uint32(23 - m)
        for i in range(x.size):
            a = abs(np.float64(x[i]))
            u = xu[i] & np.uint32(0x7FFFFFFF)
            k = (((np.int64(u >> np.uint32(23)) + 896) << m)
                 | np.int64((u & np.uint32(0x7FFFFF)) >> sh)) - base
            k = min(max(k, 0), top)
            bins[i] = k
            h[k, 0] += 1.0
            h[k, 1] += a
            h[k, 2] += a * a
        return h, np.zeros(3), bins

    @_nb.njit(cache=True, nogil=True)
    def _hist_signed64_nb(x, xu, m, base, nbins):
        # branch-free fast path of _hist_nb for signed float64 data (same results)
        h = np.zeros((nbins, 3))
        bins = np.empty(x.size, dtype=np.uint16)
        top = nbins - 1
        sh = np.uint64(52 - m)
        for i in range(x.size):
            a = abs(x[i])
            k = np.int64((xu[i] & np.uint64(0x7FFFFFFFFFFFFFFF)) >> sh) - base
            k = min(max(k, 0), top)
            bins[i] = k
            h[k, 0] += 1.0
            h[k, 1] += a
            h[k, 2] += a * a
        return h, np.zeros(3), bins

    @_nb.njit(cache=True, nogil=True)
    def _extract_count_nb(x, bins, flags, signed, lo, hi):
        cnt = 0
        for i in range(lo, hi):
            if flags[bins[i]] and (signed or x[i] >= 0.0):
                cnt += 1
        return cnt

    @_nb.njit(cache=True, nogil=True)
    def _extract_fill_nb(x, bins, flags, signed, lo, hi, out, j):
        for i in range(lo, hi):
            if flags[bins[i]]:
                v = np.float64(x[i])
                if signed or v >= 0.0:
                    out[j] = abs(v)
                    j += 1

    @_nb.njit(cache=True, nogil=True)
    def _minmax_nb(x, lo, hi, out, c):
        top = -np.inf
        bot = np.inf
        bad = False
        for i in range(lo, hi):
            v = np.float64(x[i])
            top = max(top, v)
            bot = min(bot, v)
            bad |= v != v
        out[c, 0] = np.nan if bad else top
        out[c, 1] = np.nan if bad else bot

    @_nb.njit(cache=True, nogil=True)
    def _extract_nb(x, bins, flags, signed, count):
        out = np.empty(count)
        j = 0
        for i in range(x.size):
            if flags[bins[i]]:
                v = np.float64(x[i])
                if not signed and v < 0.0:
                    continue
                if j < count:
                    out[j] = abs(v)
                j += 1
        return out[:min(j, count)]


def _histogram_chunked(x, xu, m, base, nbins, signed, is32, P):
    """The compiled histogram of P chunks (one thread each), added in chunk order as
    :func:`_histogram_numpy` adds them."""
    edges = _bounds_of(x.size, P)
    parts = [None] * P

    def one(a, b):
        for c in range(a, b):
            lo, hi = edges[c], edges[c + 1]
            if signed:
                fast = _hist_signed32_nb if is32 else _hist_signed64_nb
                parts[c] = fast(x[lo:hi], xu[lo:hi], m, base, nbins)
            else:
                parts[c] = _hist_nb(x[lo:hi], xu[lo:hi], m, base, nbins, signed, is32)
    run_spans(one, P, x.size, split=1)
    h = np.zeros((nbins, 3))
    neg = np.zeros(3)
    for hc, nc, _ in parts:
        h += hc
        neg += nc
    return h, neg, np.concatenate([p[2] for p in parts])


def threads() -> int:
    """Threads the compiled passes use: numba's thread count (the cores this process
    may run on, or ``NUMBA_NUM_THREADS``)."""
    return max(1, int(_nb.config.NUMBA_NUM_THREADS)) if HAVE_NUMBA else 1


_POOL = None


def run_spans(fn, count: int, cost: int, split: int = 4) -> None:
    """Call ``fn(lo, hi)`` on contiguous spans covering ``range(count)`` on a pool of
    :func:`threads` threads (the compiled functions release the GIL), or once when
    the work (`cost` values) is too small to share.  ``split`` spans per thread let
    finished threads take over work when spans differ in cost.  Which thread runs a
    span never changes its result."""
    global _POOL
    T = min(threads(), count, max(1, cost >> 15))
    if T <= 1:
        fn(0, count)
        return
    if _POOL is None or _POOL[0] != T:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = (T, ThreadPoolExecutor(T, thread_name_prefix="qerror"))
    k = min(count, split * T)
    bounds = [count * i // k for i in range(k + 1)]
    spans = zip(bounds[:-1], bounds[1:], strict=True)
    for f in [_POOL[1].submit(fn, lo, hi) for lo, hi in spans]:
        f.result()


def _native(x: np.ndarray) -> np.ndarray:
    """A contiguous 1-d float32/float64 array that the kernels accept, read-only: numba
    compiles (and loads from its cache) one version per read-only flag, so writeable
    and memory-mapped inputs would otherwise need two."""
    x = np.ravel(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    x = np.ascontiguousarray(x)
    if x.flags.writeable:
        x = x.view()
        x.flags.writeable = False
    return x


def backend(use_numba: bool | None = None) -> str:
    """``"numba"`` or ``"numpy"``: the back end the passes below use."""
    if use_numba is None:
        use_numba = HAVE_NUMBA
    if use_numba and not HAVE_NUMBA:
        raise ImportError("numba is not installed: pip install qerror[fast]")
    return "numba" if use_numba else "numpy"


def absmax(x: np.ndarray, signed: bool) -> float:
    """max |x| (``signed``) or max(max x, 0); NaN if any NaN, inf if any inf."""
    x = _native(x)
    P = chunks(x.size)
    if HAVE_NUMBA and P > 1:
        out = np.empty((P, 2))
        edges = _bounds_of(x.size, P)
        run_spans(lambda a, b: [_minmax_nb(x, edges[c], edges[c + 1], out, c)
                                for c in range(a, b)], P, x.size, split=1)
        hi, lo = float(out[:, 0].max()), float(out[:, 1].min())
    else:
        hi, lo = float(x.max()), float(x.min())
    if hi != hi or lo != lo:
        return float("nan")
    if np.isinf(hi) or np.isinf(lo):
        return float("inf")
    if signed:
        return max(hi, -lo)
    return max(hi, 0.0)


def _compiled_args(x, m, base):
    """The bits view for the compiled kernel and whether it is float32."""
    if x.dtype == np.float32:
        return x.view(np.uint32), True
    return x.view(np.uint64), False


def _use_compiled(x, use_numba, base, m) -> bool:
    if backend(use_numba) != "numba":
        return False
    if x.dtype == np.float32:
        # the float32 bit trick is exact for normal float32; the bins must not start
        # below the float32 normal range, where subnormals would be keyed differently
        min_key = int(keys(np.array([_F32_NORMAL]), 52 - m)[0])
        return base >= min_key
    return True


def histogram(x, m: int, base: int, nbins: int, signed: bool,
              use_numba: bool | None = None):
    """``(h, neg, bins)``: per-bin ``[count, sum, sum of squares]`` of the magnitudes
    (shape ``(nbins, 3)``), ``[count, sum, sum of squares]`` of ``-x`` over ``x < 0``
    when not ``signed`` (then only ``x >= 0`` is binned), and the bin of every value
    (uint16, 0 for the negatives of the unsigned grid) for :func:`extract`."""
    if nbins > 1 << 16:
        raise ValueError("at most 2**16 bins")
    x = _native(x)
    if _use_compiled(x, use_numba, base, m):
        xu, is32 = _compiled_args(x, m, base)
        P = chunks(x.size)
        if P > 1:
            return _histogram_chunked(x, xu, m, base, nbins, bool(signed), is32, P)
        if signed:
            fast = _hist_signed32_nb if is32 else _hist_signed64_nb
            return fast(x, xu, m, base, nbins)
        return _hist_nb(x, xu, m, base, nbins, bool(signed), is32)
    return _histogram_numpy(x, 52 - m, base, nbins, bool(signed))


def extract(x, bins: np.ndarray, flags: np.ndarray, signed: bool, count: int,
            use_numba: bool | None = None) -> np.ndarray:
    """The magnitudes (unsigned grid: the values >= 0) whose bin is flagged, in data
    order; `bins` comes from :func:`histogram` and `count` is the number of such
    values (from the histogram counts)."""
    x = _native(x)
    flags = np.ascontiguousarray(flags, dtype=np.bool_)
    if backend(use_numba) == "numba":
        P = chunks(x.size)
        if P > 1:
            edges = _bounds_of(x.size, P)
            cnt = np.zeros(P + 1, dtype=np.int64)

            def count(a, b):
                for c in range(a, b):
                    cnt[c + 1] = _extract_count_nb(x, bins, flags, bool(signed),
                                                   edges[c], edges[c + 1])
            run_spans(count, P, x.size, split=1)
            offs = np.cumsum(cnt)
            out = np.empty(int(offs[-1]))

            def fill(a, b):
                for c in range(a, b):
                    _extract_fill_nb(x, bins, flags, bool(signed), edges[c],
                                     edges[c + 1], out, int(offs[c]))
            run_spans(fill, P, x.size, split=1)
            return out
        return _extract_nb(x, bins, flags, bool(signed), int(count))
    return _extract_numpy(x, bins, flags, bool(signed))
