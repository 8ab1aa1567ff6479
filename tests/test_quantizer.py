"""The three grids and ``quantize``: levels, thresholds, ties, dtypes, bad input."""

import numpy as np
import pytest

import qerror


@pytest.mark.parametrize("bits", [1, 2, 3, 8])
def test_midrise_levels_and_thresholds(bits):
    alpha = 1.5
    n = 2**bits
    step = 2 * alpha / n
    levels = -alpha + (2 * np.arange(n) + 1) * step / 2
    # a point just inside each cell maps to that cell's midpoint
    x = -alpha + (np.arange(n) + 0.3) * step
    np.testing.assert_allclose(qerror.quantize(x, alpha, bits), levels, rtol=0, atol=1e-15)
    # thresholds belong to the cell above; no level at zero
    thr = -alpha + np.arange(1, n) * step
    np.testing.assert_allclose(qerror.quantize(thr, alpha, bits), levels[1:], atol=1e-15)
    assert 0.0 not in set(qerror.quantize(x, alpha, bits))
    # clipping to the outermost levels +-(alpha - step/2)
    assert qerror.quantize(10.0, alpha, bits) == pytest.approx(alpha - step / 2)
    assert qerror.quantize(-10.0, alpha, bits) == pytest.approx(-alpha + step / 2)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_midtread_levels(bits):
    alpha = 2.0
    k = 2 ** (bits - 1) - 1
    step = alpha / k
    x = np.linspace(-3, 3, 10001)
    q = qerror.quantize(x, alpha, bits, grid="midtread")
    levels = np.unique(q)
    assert levels.size == 2**bits - 1
    np.testing.assert_allclose(levels, np.arange(-k, k + 1) * step, atol=1e-14)
    assert qerror.quantize(0.0, alpha, bits, grid="midtread") == 0.0
    assert qerror.quantize(5.0, alpha, bits, grid="midtread") == alpha  # exactly alpha
    # ties round half to even, as integer kernels do
    assert qerror.quantize(0.5 * step, alpha, bits, grid="midtread") == 0.0
    if k >= 2:
        assert qerror.quantize(1.5 * step, alpha, bits, grid="midtread") == pytest.approx(
            2 * step)


def test_unsigned_is_half_of_midrise_with_one_more_bit():
    x = np.linspace(0.0, 2.0, 1001)
    for bits in (1, 3, 6):
        np.testing.assert_allclose(qerror.quantize(x, 1.5, bits, grid="unsigned"),
                                   qerror.quantize(x, 1.5, bits + 1), atol=1e-15)
    assert qerror.quantize(-3.0, 1.0, 2, grid="unsigned") == 0.125


def test_idempotent_and_bounded():
    rng = np.random.default_rng(3)
    x = rng.standard_t(3, size=5000)
    for grid, bits in (("midrise", 3), ("midtread", 4), ("unsigned", 5)):
        q = qerror.quantize(x, 1.7, bits, grid=grid)
        np.testing.assert_array_equal(qerror.quantize(q, 1.7, bits, grid=grid), q)
        assert np.abs(q).max() <= 1.7


def test_broadcasting_and_dtypes():
    x = np.linspace(-1, 1, 7, dtype=np.float32)
    q = qerror.quantize(x[:, None], np.array([0.5, 1.0]), 3)
    assert q.shape == (7, 2) and q.dtype == np.float32
    assert qerror.quantize(np.arange(5), 4.0, 2).dtype == np.float64
    assert isinstance(qerror.quantize(0.3, 1.0, 2), float)
    # 64-bit grid: the quantizer is the identity to double precision inside the range
    assert qerror.quantize(0.123456789, 1.0, 64) == pytest.approx(0.123456789, rel=1e-15)


@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        (dict(alpha=0.0, bits=3), ValueError, "alpha"),
        (dict(alpha=-1.0, bits=3), ValueError, "alpha"),
        (dict(alpha=np.nan, bits=3), ValueError, "alpha"),
        (dict(alpha=np.inf, bits=3), ValueError, "alpha"),
        (dict(alpha=1.0, bits=0), ValueError, "bits"),
        (dict(alpha=1.0, bits=2.5), ValueError, "bits"),
        (dict(alpha=1.0, bits=65), ValueError, "bits"),
        (dict(alpha=1.0, bits="8"), TypeError, "bits"),
        (dict(alpha=1.0, bits=True), TypeError, "bits"),
        (dict(alpha=1.0, bits=1, grid="midtread"), ValueError, "bits"),
        (dict(alpha=1.0, bits=3, grid="signed"), ValueError, "grid"),
    ],
)
def test_bad_input(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        qerror.quantize([0.1, 0.2], **kwargs)


def test_nan_data_rejected():
    with pytest.raises(ValueError, match="NaN"):
        qerror.quantize([0.1, np.nan], 1.0, 3)
