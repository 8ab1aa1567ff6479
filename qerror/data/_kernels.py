"""Data passes for :mod:`qerror.data.solver`: a numba kernel and a numpy fallback.

The empirical solver needs three passes over the data: the largest magnitude, a
histogram of magnitudes (count, sum and sum of squares per bin, and the same three
sums for the negative values, which the ``"unsigned"`` grid treats apart) and the
read-back of the values that fall into flagged bins.

Bins are log-spaced and defined by the float64 bit pattern: the key of a magnitude
``a`` is ``bits(a) >> (52 - m)`` (exponent and the top ``m`` mantissa bits), and bin
``i`` holds the keys ``base + i`` (bin 0 also every smaller key).  Bin edges are exact
floats, so membership has no rounding.  The read-back pass computes each value's key
again and tests a flag per bin.  Both back ends compute the same keys and accumulate
the sums in data order, in fixed chunks added in order, so their histograms (and
prefix sums) are bit-identical.

numba is optional (``pip install qerror[fast]``); set ``QERROR_NO_NUMBA=1`` to force
the numpy path.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["HAVE_NUMBA", "backend", "absmax", "histogram", "prefix_sums", "extract",
           "keys", "chunks", "threads", "run_spans"]

try:  # pragma: no cover - depends on the environment
    if os.environ.get("QERROR_NO_NUMBA"):
        raise ImportError("disabled by QERROR_NO_NUMBA")
    import numba as _nb

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment
    _nb = None
    HAVE_NUMBA = False

# njit options of the compiled helpers that allocate nothing: without numba's
# reference counting (``_nrt=False``, a target option numba has long had).  A helper
# taking arrays that calls another one not inlined otherwise increments and decrements
# each array's count, atomically, on every call: a search in a row of 128 values took
# 49 ns with them and 16 ns without.  Such a helper may not create an array.
LEAN = {"cache": True, "nogil": True}
if HAVE_NUMBA:  # pragma: no cover - depends on the environment
    from numba.core.cpu import CPUTargetOptions as _Opts

    if hasattr(_Opts, "_nrt"):
        LEAN["_nrt"] = False

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
    counts = []
    for c in range(P):
        hc, nc = _histogram_chunk(xf[edges[c]:edges[c + 1]], shift, base, nbins, signed)
        h += hc
        neg += nc
        counts.append(hc[:, 0])
    return h, neg, counts


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
    return np.stack([n, s, q], axis=1), neg


def _extract_numpy(x, shift, base, nbins, flags, signed):
    xf = x.astype(np.float64)
    a = np.abs(xf) if signed else xf[xf >= 0.0] + 0.0
    return a[flags[np.clip(keys(a, shift) - base, 0, nbins - 1)]]


# --------------------------------------------------------------------------- numba
if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage

    @_nb.njit(cache=True, nogil=True)
    def _hist_nb(x, xu, m, base, nbins, signed, is32, h):
        # h has nbins + 1 rows: the last collects the negative values when not
        # signed (branch-free: the sign only selects the row)
        top = nbins - 1
        sh32 = np.uint32(23 - m)
        kb32 = base - (896 << m)
        sh64 = np.uint64(52 - m)
        for i in range(x.size):
            v = np.float64(x[i])
            a = abs(v)
            if is32:
                k = np.int64((xu[i] & np.uint32(0x7FFFFFFF)) >> sh32) - kb32
            else:
                k = np.int64((xu[i] & np.uint64(0x7FFFFFFFFFFFFFFF)) >> sh64) - base
            k = min(max(k, 0), top)
            if not signed:
                k = nbins if v < 0.0 else k
            h[k, 0] += 1.0
            h[k, 1] += a
            h[k, 2] += a * a

    @_nb.njit(cache=True, nogil=True)
    def _hist_signed32_nb(x, xu, m, base, nbins, h):
        # branch-free fast path of _hist_nb for signed float32 data (same results)
        top = nbins - 1
        sh = np.uint32(23 - m)
        kb = base - (896 << m)
        for i in range(x.size):
            a = abs(np.float64(x[i]))
            k = np.int64((xu[i] & np.uint32(0x7FFFFFFF)) >> sh) - kb
            k = min(max(k, 0), top)
            h[k, 0] += 1.0
            h[k, 1] += a
            h[k, 2] += a * a

    @_nb.njit(cache=True, nogil=True)
    def _hist_signed64_nb(x, xu, m, base, nbins, h):
        # branch-free fast path of _hist_nb for signed float64 data (same results)
        top = nbins - 1
        sh = np.uint64(52 - m)
        for i in range(x.size):
            a = abs(x[i])
            k = np.int64((xu[i] & np.uint64(0x7FFFFFFFFFFFFFFF)) >> sh) - base
            k = min(max(k, 0), top)
            h[k, 0] += 1.0
            h[k, 1] += a
            h[k, 2] += a * a

    @_nb.njit(cache=True, nogil=True)
    def _extract_fill_nb(x, xu, m, base, nbins, flags, signed, is32, lo, hi, out, j,
                         jend):
        """Write the magnitudes of x[lo:hi] whose bin (the histogram's key, computed
        again) is flagged to out[j:jend]; returns where it stopped."""
        top = nbins - 1
        sh32 = np.uint32(23 - m)
        kb32 = base - (896 << m)
        sh64 = np.uint64(52 - m)
        for i in range(lo, hi):
            if is32:
                k = np.int64((xu[i] & np.uint32(0x7FFFFFFF)) >> sh32) - kb32
            else:
                k = np.int64((xu[i] & np.uint64(0x7FFFFFFFFFFFFFFF)) >> sh64) - base
            k = min(max(k, 0), top)
            if flags[k]:
                v = np.float64(x[i])
                if signed or v >= 0.0:
                    if j < jend:
                        out[j] = abs(v)
                    j += 1
        return j

    @_nb.njit(cache=True, nogil=True)
    def _prefix_nb(H, out):
        """out[j, 1:] = cumsum over bins of sum over chunks of H[c, :, j], the chunks
        added in order from 0 and the bins accumulated in order, exactly as numpy's
        ``h += hc`` and ``np.cumsum`` do."""
        nbins = out.shape[1] - 1
        for j in range(3):
            out[j, 0] = 0.0
        for k in range(nbins):
            for j in range(3):
                v = 0.0
                for c in range(H.shape[0]):
                    v += H[c, k, j]
                out[j, k + 1] = out[j, k] + v


def _histogram_parts(x, xu, m, base, nbins, signed, is32, P):
    """The compiled histograms of P chunks (one thread each): ``H[c]`` the per-bin
    sums of chunk c, ``neg[c]`` its negatives' sums (unsigned grid)."""
    edges = _bounds_of(x.size, P)
    H = np.zeros((P, nbins + 1, 3))  # row nbins: the negatives (unsigned grid)

    def one(a, b):
        for c in range(a, b):
            lo, hi = edges[c], edges[c + 1]
            if signed:
                fast = _hist_signed32_nb if is32 else _hist_signed64_nb
                fast(x[lo:hi], xu[lo:hi], m, base, nbins, H[c])
            else:
                _hist_nb(x[lo:hi], xu[lo:hi], m, base, nbins, signed, is32, H[c])
    run_spans(one, P, x.size, split=P)
    return H[:, :nbins], H[:, nbins]


def _histogram_chunked(x, xu, m, base, nbins, signed, is32, P):
    """The compiled histogram of P chunks, added in chunk order as
    :func:`_histogram_numpy` adds them."""
    H, negs = _histogram_parts(x, xu, m, base, nbins, signed, is32, P)
    h = np.zeros((nbins, 3))
    neg = np.zeros(3)
    for c in range(P):
        h += H[c]
        neg += negs[c]
    return h, neg, [H[c, :, 0] for c in range(P)]


def threads() -> int:
    """Threads the compiled passes use: numba's thread count (the cores this process
    may run on, or ``NUMBA_NUM_THREADS``)."""
    return max(1, int(_nb.config.NUMBA_NUM_THREADS)) if HAVE_NUMBA else 1


_POOL = None


def run_spans(fn, count: int, cost: int, split: int = 4) -> None:
    """Call ``fn(lo, hi)`` on contiguous spans covering ``range(count)``: the calling
    thread and ``threads() - 1`` pool threads take spans from a shared queue until
    none is left (the compiled functions release the GIL), or one call when the work
    (`cost` values) is too small to share.  ``split`` spans per thread let a thread
    that starts late or finishes early leave the rest to the others.  Which thread
    runs a span never changes its result."""
    global _POOL
    T = min(threads(), count, max(1, cost >> 15))
    if T <= 1:
        fn(0, count)
        return
    if _POOL is None or _POOL[0] != T - 1:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        _POOL = (T - 1, ThreadPoolExecutor(T - 1, thread_name_prefix="qerror"),
                 threading.Lock())
    k = min(count, split * T)
    bounds = [count * i // k for i in range(k + 1)]
    spans = iter(list(zip(bounds[:-1], bounds[1:], strict=True)))
    lock = _POOL[2]

    def take():
        while True:
            with lock:
                span = next(spans, None)
            if span is None:
                return
            fn(*span)

    futures = [_POOL[1].submit(take) for _ in range(T - 1)]
    try:
        take()
    finally:
        for f in futures:
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
    """max |x| (``signed``) or max(max x, 0); NaN if any NaN, inf if any inf.

    numpy's max and min (vectorised, no temporary): on 4 Mi float32 values 0.5 ms
    against 2.9 ms for a compiled loop on 2 threads, whose NaN test kept it scalar."""
    x = _native(x)
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
    """``(h, neg, counts)``: per-bin ``[count, sum, sum of squares]`` of the
    magnitudes (shape ``(nbins, 3)``), ``[count, sum, sum of squares]`` of ``-x`` over
    ``x < 0`` when not ``signed`` (then only ``x >= 0`` is binned), and the per-bin
    counts of each of the :func:`chunks` chunks, with which :func:`extract` places
    each chunk's values without a counting pass."""
    if nbins > 1 << 16:
        raise ValueError("at most 2**16 bins")
    x = _native(x)
    if _use_compiled(x, use_numba, base, m):
        xu, is32 = _compiled_args(x, m, base)
        return _histogram_chunked(x, xu, m, base, nbins, bool(signed), is32,
                                  chunks(x.size))
    return _histogram_numpy(x, 52 - m, base, nbins, bool(signed))


def prefix_sums(x, m: int, base: int, nbins: int, signed: bool,
                use_numba: bool | None = None):
    """``(P, neg, counts)``: the :func:`histogram`'s per-bin sums as prefix sums,
    ``P[j, i]`` the sum of column ``j`` (count, sum, sum of squares) over bins
    ``< i`` (shape ``(3, nbins + 1)``), with `neg` and `counts` as there.  The same
    floats on both back ends (chunks added in order, bins accumulated in order)."""
    x = _native(x)
    out = np.empty((3, nbins + 1))
    if not _use_compiled(x, use_numba, base, m):
        h, neg, counts = histogram(x, m, base, nbins, signed, use_numba)
        out[:, 0] = 0.0
        np.cumsum(h, axis=0, out=out[:, 1:].T)
        return out, neg, counts
    if nbins > 1 << 16:
        raise ValueError("at most 2**16 bins")
    xu, is32 = _compiled_args(x, m, base)
    H, negs = _histogram_parts(x, xu, m, base, nbins, bool(signed), is32,
                               chunks(x.size))
    _prefix_nb(H, out)
    neg = np.zeros(3)
    for c in range(H.shape[0]):
        neg += negs[c]
    return out, neg, [H[c, :, 0] for c in range(H.shape[0])]


def extract(x, m: int, base: int, nbins: int, flags: np.ndarray, signed: bool,
            counts, use_numba: bool | None = None) -> np.ndarray:
    """The magnitudes (unsigned grid: the values >= 0) whose bin is flagged, in data
    order, for the bins of :func:`histogram` (same `m`, `base`, `nbins`; `counts` is
    its third output: each chunk's per-bin counts, so that the chunks are read back
    in parallel in one pass, each into its own slice of the output)."""
    x = _native(x)
    flags = np.ascontiguousarray(flags, dtype=np.bool_)
    if not _use_compiled(x, use_numba, base, m):
        return _extract_numpy(x, 52 - m, base, nbins, flags, bool(signed))
    xu, is32 = _compiled_args(x, m, base)
    P = len(counts)
    edges = _bounds_of(x.size, P)
    offs = np.zeros(P + 1, dtype=np.int64)
    offs[1:] = np.cumsum([int(cc[flags].sum()) for cc in counts])
    out = np.empty(int(offs[-1]))
    stop = np.zeros(P, dtype=np.int64)

    def fill(a, b):
        for c in range(a, b):
            stop[c] = _extract_fill_nb(x, xu, m, base, nbins, flags, bool(signed), is32,
                                       edges[c], edges[c + 1], out, int(offs[c]),
                                       int(offs[c + 1]))
    run_spans(fill, P, x.size, split=P)
    if not np.array_equal(stop, offs[1:]):  # the counts do not describe this data
        raise RuntimeError("extract: the histogram counts do not match the data")
    return out
