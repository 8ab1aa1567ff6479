"""Data passes for :mod:`qerror.empirical`: a numba kernel and a numpy fallback.

Three passes over the data are needed by the empirical solver: the largest magnitude,
a histogram of magnitudes (count, sum, sum of squares per bin, plus the same three
sums for the negative values, which the ``"unsigned"`` grid treats apart) and the
extraction of the values that fall into flagged bins.  Both back ends compute the bin
of a value with the same float64 operations, ``min(int(|x| * inv_w), nbins - 1)``,
and accumulate the sums in data order, so they return bit-identical results and the
solver returns the same alpha with or without numba.

numba is optional (``pip install qerror[fast]``); set ``QERROR_NO_NUMBA=1`` to force
the numpy path.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["HAVE_NUMBA", "backend", "absmax", "histogram", "extract"]

try:  # pragma: no cover - depends on the environment
    if os.environ.get("QERROR_NO_NUMBA"):
        raise ImportError("disabled by QERROR_NO_NUMBA")
    import numba as _nb

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment
    _nb = None
    HAVE_NUMBA = False


# --------------------------------------------------------------------------- numpy
def _absmax_numpy(x: np.ndarray, signed: bool) -> float:
    if signed:
        return float(np.abs(x).max())
    return float(max(x.max(), 0.0))


def _histogram_numpy(x, inv_w, nbins, signed):
    # one block, no chunking: np.bincount adds the weights in data order, exactly as
    # the compiled loop does, so the sums agree to the last bit
    xf = x.astype(np.float64)
    neg = np.zeros(3)
    if signed:
        a = np.abs(xf)
    else:
        negm = xf < 0.0
        if negm.any():
            xn = -xf[negm]
            neg[:] = (xn.size, np.add.accumulate(xn)[-1], np.add.accumulate(xn * xn)[-1])
            a = xf[~negm]
        else:
            a = xf
    idx = np.minimum((a * inv_w).astype(np.int64), nbins - 1)
    n = np.bincount(idx, minlength=nbins).astype(np.float64)
    s = np.bincount(idx, weights=a, minlength=nbins)
    q = np.bincount(idx, weights=a * a, minlength=nbins)
    return n, s, q, neg


def _extract_numpy(x, inv_w, nbins, flags, signed):
    xf = x.astype(np.float64)
    a = np.abs(xf) if signed else xf[xf >= 0.0]
    idx = np.minimum((a * inv_w).astype(np.int64), nbins - 1)
    return a[flags[idx]]


# --------------------------------------------------------------------------- numba
if HAVE_NUMBA:  # pragma: no cover - compiled code is not traced by coverage

    @_nb.njit(cache=True, nogil=True)
    def _absmax_nb(x, signed):
        m = 0.0
        if signed:
            for i in range(x.size):
                v = abs(np.float64(x[i]))
                if v > m:
                    m = v
        else:
            for i in range(x.size):
                v = np.float64(x[i])
                if v > m:
                    m = v
        return m

    @_nb.njit(cache=True, nogil=True)
    def _histogram_nb(x, inv_w, nbins, signed):
        n = np.zeros(nbins)
        s = np.zeros(nbins)
        q = np.zeros(nbins)
        neg = np.zeros(3)
        top = nbins - 1
        for i in range(x.size):
            v = np.float64(x[i])
            if signed:
                a = abs(v)
            elif v < 0.0:
                a = -v
                neg[0] += 1.0
                neg[1] += a
                neg[2] += a * a
                continue
            else:
                a = v
            j = np.int64(a * inv_w)
            if j > top:
                j = top
            n[j] += 1.0
            s[j] += a
            q[j] += a * a
        return n, s, q, neg

    @_nb.njit(cache=True, nogil=True)
    def _extract_nb(x, inv_w, nbins, flags, signed):
        top = nbins - 1
        cnt = 0
        for i in range(x.size):
            v = np.float64(x[i])
            if not signed and v < 0.0:
                continue
            a = abs(v)
            j = np.int64(a * inv_w)
            if j > top:
                j = top
            if flags[j]:
                cnt += 1
        out = np.empty(cnt)
        k = 0
        for i in range(x.size):
            v = np.float64(x[i])
            if not signed and v < 0.0:
                continue
            a = abs(v)
            j = np.int64(a * inv_w)
            if j > top:
                j = top
            if flags[j]:
                out[k] = a
                k += 1
        return out


def _native(x: np.ndarray) -> np.ndarray:
    """A contiguous 1-d float32/float64 view or copy that the kernels accept."""
    x = np.ravel(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return np.ascontiguousarray(x)


def backend(use_numba: bool | None = None) -> str:
    """``"numba"`` or ``"numpy"``: which back end the passes below would use."""
    if use_numba is None:
        use_numba = HAVE_NUMBA
    if use_numba and not HAVE_NUMBA:
        raise ImportError("numba is not installed: pip install qerror[fast]")
    return "numba" if use_numba else "numpy"


def absmax(x: np.ndarray, signed: bool, use_numba: bool | None = None) -> float:
    """max |x| (``signed``) or max(max x, 0) (unsigned grid)."""
    x = _native(x)
    if backend(use_numba) == "numba":
        return float(_absmax_nb(x, signed))
    return _absmax_numpy(x, signed)


def histogram(x, inv_w: float, nbins: int, signed: bool, use_numba: bool | None = None):
    """Per-bin count, sum and sum of squares of the magnitudes, and the negatives' sums.

    With ``signed`` the magnitudes are ``|x|`` and the negatives' sums are zero;
    otherwise only ``x >= 0`` is binned and ``(count, sum, sum of squares)`` of
    ``-x`` over ``x < 0`` is returned apart.
    """
    x = _native(x)
    if backend(use_numba) == "numba":
        return _histogram_nb(x, float(inv_w), int(nbins), bool(signed))
    return _histogram_numpy(x, float(inv_w), int(nbins), bool(signed))


def extract(x, inv_w: float, nbins: int, flags: np.ndarray, signed: bool,
            use_numba: bool | None = None) -> np.ndarray:
    """The magnitudes (unsigned grid: the values >= 0) whose bin is flagged."""
    x = _native(x)
    flags = np.ascontiguousarray(flags, dtype=np.bool_)
    if backend(use_numba) == "numba":
        return _extract_nb(x, float(inv_w), int(nbins), flags, bool(signed))
    return _extract_numpy(x, float(inv_w), int(nbins), flags, bool(signed))
