"""The formats of issue 13: levels, quantizers against their oracles, registry, bits.

Oracles: ``ml_dtypes`` casts for the floating-point formats (bit for bit), PyTorch's
``fake_quantize_per_tensor_affine`` for the integer grids (skipped without torch),
bitsandbytes' published NF4 table and its construction.
"""

import numpy as np
import pytest
from scipy import special, stats

import qerror
from qerror.formats import (
    FP4_E2M1,
    FP6_E2M3,
    FP6_E3M2,
    FP8_E4M3,
    FP8_E5M2,
    INT,
    NF4,
    NF4_OFFSET,
    NF4_VALUES,
    UINT,
    AffineGrid,
    FloatFormat,
    affine_range,
    available,
    get_format,
)

ml_dtypes = pytest.importorskip("ml_dtypes")

FLOAT_ORACLES = [
    (FP8_E4M3, "float8_e4m3fn", 448.0),
    (FP8_E5M2, "float8_e5m2", 57344.0),
    (FP6_E2M3, "float6_e2m3fn", 7.5),
    (FP6_E3M2, "float6_e3m2fn", 28.0),
    (FP4_E2M1, "float4_e2m1fn", 6.0),
    (FloatFormat(4, 3), "float8_e4m3", 240.0),   # IEEE-style E4M3 (with infinities)
    (FloatFormat(3, 4), "float8_e3m4", 15.5),
]


def _probe(fmt, rng):
    """Every level, every midpoint (ties) and its two neighbours, random values."""
    top = fmt.max_value
    lv = fmt.levels(top)
    mid = 0.5 * (lv[1:] + lv[:-1])
    return np.concatenate([lv, mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf),
                           rng.standard_normal(20_000) * top / 3,
                           rng.standard_normal(2_000) * top * 1e-3])


@pytest.mark.parametrize("fmt,dtype,top", FLOAT_ORACLES, ids=lambda v: getattr(v, "name", v))
def test_float_formats_match_ml_dtypes_bit_for_bit(fmt, dtype, top):
    dt = getattr(ml_dtypes, dtype)
    assert fmt.max_value == top == float(ml_dtypes.finfo(dt).max)
    # the level set is exactly the finite values of the dtype
    bits = np.arange(2 ** fmt.fixed_bits, dtype=np.uint8 if fmt.fixed_bits <= 8 else None)
    vals = bits.view(dt).astype(np.float64) if fmt.fixed_bits == 8 else \
        np.array([float(v) for v in bits.astype(np.uint8).view(dt)])
    vals = np.unique(vals[np.isfinite(vals)])
    np.testing.assert_array_equal(fmt.levels(top), vals)
    x = _probe(fmt, np.random.default_rng(13))
    x = np.clip(x, -top, top)
    ref = x.astype(dt).astype(np.float64)
    q = qerror.quantize(x, top, grid=fmt)
    np.testing.assert_array_equal(q, ref)
    # scaled by a power of two the quantizer scales exactly
    np.testing.assert_array_equal(qerror.quantize(x / 8, top / 8, grid=fmt), ref / 8)


def test_float_saturates_beyond_alpha():
    x = np.array([-1e30, -500.0, 449.0, 470.0, 1e30])
    np.testing.assert_array_equal(qerror.quantize(x, 448.0, grid="fp8_e4m3"),
                                  [-448.0, -448.0, 448.0, 448.0, 448.0])
    assert qerror.quantize(-1e-30, 448.0, grid="fp8_e4m3") == 0.0


def test_float_without_subnormals():
    f = FloatFormat(2, 1, specials="none", subnormals=False)
    assert f.name == "e2m1_nosub_none"
    np.testing.assert_array_equal(f.levels(6.0)[f.levels(6.0) >= 0], [0, 1, 1.5, 2, 3, 4, 6])
    # below the smallest normal (1): nearest of 0 and 1, the tie at 1/2 to 0
    np.testing.assert_array_equal(qerror.quantize([0.25, 0.5, 0.50001, 0.9], 6.0, grid=f),
                                  [0.0, 0.0, 1.0, 1.0])


def test_float_format_arguments():
    with pytest.raises(ValueError, match="specials"):
        FloatFormat(4, 3, specials="nan")
    with pytest.raises(ValueError, match="exponent_bits"):
        FloatFormat(0, 3)
    with pytest.raises(ValueError, match="at most 15"):
        FloatFormat(8, 10)
    with pytest.raises(TypeError, match="mantissa_bits"):
        FloatFormat(4, 2.5)
    with pytest.raises(ValueError, match="no normal"):
        FloatFormat(1, 3, specials="ieee")


def test_nf4_published_values_and_construction():
    # the exact float32 numbers bitsandbytes stores
    assert NF4_VALUES.size == 16 and NF4_VALUES[7] == 0.0
    np.testing.assert_array_equal(NF4.levels(1.0), NF4_VALUES)
    assert (NF4_VALUES == NF4_VALUES.astype(np.float32)).all()
    # rebuilt from the QLoRA construction: quantiles at linspace(delta, 1/2) for 8
    # positive and 7 negative levels, plus 0, normalised by the largest.  In float64
    # it agrees to float32 resolution ...
    pos = special.ndtri(np.linspace(NF4_OFFSET, 0.5, 9)[:-1])
    neg = -special.ndtri(np.linspace(NF4_OFFSET, 0.5, 8)[:-1])
    v = np.sort(np.concatenate([pos, [0.0], neg])) / pos.max()
    np.testing.assert_allclose(v, NF4_VALUES, rtol=0, atol=2e-7)
    assert np.abs(v - NF4_VALUES).max() > 1e-8  # ... but not exactly:

    # bitsandbytes' pipeline is float32: torch.linspace (start + i*step for the first
    # half of the points, end - (n-1-i)*step for the rest), ndtri, float32, / max
    def linspace32(a, b, n):
        a, b = np.float32(a), np.float32(b)
        step = np.float32((b - a) / np.float32(n - 1))
        i = np.arange(n).astype(np.float32)
        return np.where(np.arange(n) < n // 2, a + step * i,
                        b - step * (np.float32(n - 1) - i)).astype(np.float32)

    p32 = special.ndtri(linspace32(NF4_OFFSET, 0.5, 9)[:-1].astype(np.float64))
    n32 = -special.ndtri(linspace32(NF4_OFFSET, 0.5, 8)[:-1].astype(np.float64))
    v32 = np.sort(np.concatenate([p32, [0.0], n32]).astype(np.float32))
    np.testing.assert_array_equal((v32 / v32.max()).astype(np.float64), NF4_VALUES)
    assert not NF4.symmetric and NF4.fixed_bits == 4


def test_nf4_ties_go_down():
    mid = 0.5 * (NF4_VALUES[8] + NF4_VALUES[9])
    assert qerror.quantize(mid, 1.0, grid="nf4") == NF4_VALUES[8]
    assert qerror.quantize(np.nextafter(mid, 1), 1.0, grid="nf4") == NF4_VALUES[9]


def test_int_and_uint_levels():
    np.testing.assert_allclose(INT.levels(7.5, 4), np.arange(-8, 8))   # step 2*7.5/15 = 1
    np.testing.assert_allclose(UINT.levels(15.0, 4), np.arange(16))
    x = np.array([-9.0, -8.6, -0.5, 0.5, 1.5, 2.5, 6.9, 7.4, 100.0])
    np.testing.assert_array_equal(qerror.quantize(x, 7.5, 4, grid="int"),
                                  [-8, -8, -0, 0, 2, 2, 7, 7, 7])
    np.testing.assert_array_equal(qerror.quantize(x, 15.0, 4, grid="uint"),
                                  [0, 0, 0, 0, 2, 2, 7, 7, 15])


def test_affine_range_like_pytorch_observer():
    g, alpha = affine_range(-1.0, 3.0, 8)
    step = 4.0 / 255
    assert g.zero_point == int(np.rint(1.0 / step)) == 64
    assert alpha == pytest.approx(191 * step, rel=1e-15)
    np.testing.assert_allclose(g.levels(alpha)[[0, -1]], [-64 * step, 191 * step],
                               rtol=1e-15)
    # the range is widened to include 0; z = 0 is the uint grid
    g0, a0 = affine_range(0.5, 2.0, 4)
    assert g0.zero_point == 0 and not g0.signed and a0 == pytest.approx(2.0)
    np.testing.assert_array_equal(g0.levels(a0), UINT.levels(2.0, 4))
    with pytest.raises(ValueError, match="lo < hi"):
        affine_range(1.0, 1.0, 8)
    with pytest.raises(ValueError, match="zero_point"):
        AffineGrid(4, 16)


def test_registry_and_fixed_bits():
    for name in ("int", "uint", "fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2",
                 "fp4_e2m1", "nf4"):
        assert name in available() and get_format(name).name == name
    d = stats.norm()
    assert qerror.mse(d, 3.0, grid="fp4_e2m1") == qerror.mse(d, 3.0, 4, grid="fp4_e2m1")
    with pytest.raises(ValueError, match="has 4 bits"):
        qerror.mse(d, 3.0, 8, grid="fp4_e2m1")
    with pytest.raises(TypeError, match="bits is required"):
        qerror.mse(d, 3.0, grid="int")
    with pytest.raises(ValueError, match="fp8_e4m3.*nf4|nf4.*fp8_e4m3"):
        get_format("fp8")


@pytest.mark.parametrize("fmt", [FP8_E4M3, FP8_E5M2, FP6_E2M3, FP6_E3M2, FP4_E2M1, NF4,
                                 FloatFormat(5, 10), FloatFormat(3, 6, subnormals=False),
                                 FloatFormat(1, 6, specials="none")],
                         ids=lambda f: f.name)
def test_geometry_partitions_the_range(fmt):
    """Blocks and cells tile [lo, hi] exactly once, each cell's level is the format's
    level nearest to the cell's midpoint."""
    geo = fmt.geometry(np.array([3.0]), np.array([fmt.fixed_bits]))
    pieces = [(a0 + i * h, a0 + (i + 1) * h) for a0, h, n in
              ((float(a0[0]), float(h[0]), int(n[0])) for a0, h, n in geo.blocks)
              for i in range(n)]
    for a, b, c in geo.cells:
        pieces += list(zip(np.ravel(a), np.ravel(b)))
    pieces.sort()
    ends = np.array(pieces)
    assert ends[0, 0] == pytest.approx(float(geo.lo[0]), abs=1e-15)
    assert ends[-1, 1] == pytest.approx(float(geo.hi[0]), abs=1e-15)
    np.testing.assert_allclose(ends[1:, 0], ends[:-1, 1], rtol=1e-14, atol=1e-300)
    mids = ends.mean(axis=1)
    lv = fmt.levels(3.0)
    q = qerror.quantize(mids, 3.0, grid=fmt)
    assert np.isin(q, lv).all() and len(pieces) == lv.size
    # E5M10 (fp16 layout): its 2046 levels mostly go as blocks, one per binade
    if isinstance(fmt, FloatFormat) and fmt.mantissa_bits >= 10:
        assert len(geo.blocks) >= 58


def test_plot_levels_any_format(tmp_path):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    from qerror.plotting import plot_levels

    for grid, bits, n in (("nf4", None, 16), ("int", 4, 16), ("fp8_e4m3", None, 253)):
        ax = plot_levels(stats.norm(), 3.0, bits, grid=grid)
        labels = ax.get_legend_handles_labels()[1]
        assert any(lab.startswith(f"{n} levels") for lab in labels), labels
        plt.close(ax.figure)


@pytest.mark.parametrize("grid", ["nf4", "fp4_e2m1", "int"])
def test_cli_table_and_curve_take_every_format(grid, tmp_path, capsys):
    from qerror.cli import main

    extra = ["--bits", "4"] if grid == "int" else []
    assert main(["table", "--grid", grid, "--dist", "norm", *extra]) == 0
    out = capsys.readouterr().out
    assert "norm" in out and ("alpha_aciq" in out) == (grid == "int")
    assert main(["curve", "--grid", grid, "-o", str(tmp_path / "c.png"), *extra]) == 0
    assert (tmp_path / "c.png").exists()
