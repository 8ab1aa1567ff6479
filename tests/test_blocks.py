"""Block (group-wise) scaling: qerror.blocks.

Accuracy: the expected MSE of block-scaled laws against mpmath references
(tests/reference/generate_blocks.py, an independent m-space integral).  Consistency:
seeded Monte Carlo of i.i.d. blocks against the exact law values; brute force of the
data path (nearest level by enumeration, E4M3 scales by ml_dtypes, the OCP MX shared
exponent written out); the per-group optimum against a scan.
"""

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from scipy import stats

import qerror
from qerror.blocks import (
    SCALE_RULES,
    bits_per_element,
    group_mse,
    group_quantize,
    group_scales,
)
from qerror.blocks._rules import e4m3_round, e4m3_values
from qerror.formats import get_format

REF = json.loads((Path(__file__).parent / "reference" / "blocks_reference.json").read_text())
#: what the law engine reaches against the 30-digit references (measured: 4.2e-15)
RTOL_REF = 2e-14
GRID_OF = {"int4": ("int", 4), "fp4_e2m1": ("fp4_e2m1", None), "nf4": ("nf4", None)}
LAWS = {"norm": stats.norm(), "laplace": stats.laplace()}


# ------------------------------------------------------------------ accuracy
@pytest.mark.parametrize("row", REF["cases"], ids=lambda r: "{law}-{grid}-{scale}-{group_size}"
                         .format(**r))
def test_law_against_mpmath(row):
    grid, bits = GRID_OF[row["grid"]]
    got = group_mse(LAWS[row["law"]], row["group_size"], bits, grid=grid, scale=row["scale"])
    assert got == pytest.approx(float(row["mse"]), rel=RTOL_REF)


def test_top_level_export():
    assert qerror.group_mse is group_mse
    assert "group_mse" in qerror.__all__


# ------------------------------------------------------------------ Monte Carlo
def _mc(dist, n, bits, grid, scale, blocks, seed, **kw):
    """Mean and standard error of the per-block MSE of `blocks` sampled blocks."""
    x = dist.rvs(size=(blocks, n), random_state=np.random.default_rng(seed))
    q = group_quantize(x, n, bits, grid=grid, scale=scale, **kw)
    per = ((x - q) ** 2).mean(axis=1)
    return per.mean(), per.std(ddof=1) / np.sqrt(blocks)


@pytest.mark.parametrize("dist,n,bits,grid,scale", [
    (stats.norm(), 32, None, "fp4_e2m1", "pow2"),
    (stats.norm(), 16, None, "fp4_e2m1", "e4m3"),
    (stats.norm(), 128, 4, "int", "absmax"),
    (stats.norm(), 64, None, "nf4", "absmax"),
    (stats.norm(0.5, 2.0), 8, 3, "midrise", "pow2"),
    (stats.laplace(), 32, None, "fp6_e2m3", "pow2"),
    (stats.t(6), 16, None, "fp8_e4m3", "absmax"),
    (stats.uniform(-1, 2), 4, 2, "uint", "absmax"),
])
def test_law_against_monte_carlo(dist, n, bits, grid, scale):
    exact = group_mse(dist, n, bits, grid=grid, scale=scale)
    # the law's default tensor maximum is 448 times its scale parameter (here 1)
    kw = {"tensor_amax": 448.0} if scale == "e4m3" else {}
    mean, se = _mc(dist, n, bits, grid, scale, 40_000, 7, **kw)
    assert abs(mean - exact) < 5 * se, (mean, exact, se)
    assert se < 0.01 * exact  # the check has teeth


def test_scale_equivariance():
    base = stats.norm()
    for scale, sigma in (("absmax", 0.37), ("e4m3", 0.37), ("pow2", 4.0)):
        a = group_mse(base, 32, None, grid="fp4_e2m1", scale=scale)
        b = group_mse(stats.norm(scale=sigma), 32, None, grid="fp4_e2m1", scale=scale)
        assert b == pytest.approx(sigma**2 * a, rel=1e-12)


def test_block_of_one_is_exact_on_the_top_level():
    # absmax with one element per block maps every value onto the top level
    assert group_mse(stats.norm(), 1, 4, grid="midtread") == pytest.approx(0, abs=1e-30)
    assert group_mse(np.array([[0.3, -2.0]]), 1, 4, grid="midtread") < 1e-30


def test_law_tracks_block_size():
    # larger blocks: a larger maximum, a coarser step: more error (absmax)
    v = [group_mse(stats.norm(), n, None, grid="fp4_e2m1") for n in (8, 32, 128, 512)]
    assert np.all(np.diff(v) > 0)


def test_infinite_variance_law():
    assert group_mse(stats.t(2), 16, 4, grid="int") == np.inf


# ------------------------------------------------------------------ brute force (data)
def _nearest(v, levels):
    """Nearest level by enumeration (saturating), v any shape."""
    i = np.argmin(np.abs(v[..., None] - levels), axis=-1)
    return levels[i]


E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6.0])
E2M1_ALL = np.concatenate([-E2M1[:0:-1], E2M1])


def test_mx_pow2_brute_force():
    # OCP MX v1.0 Sec. 6.3: X = 2^(floor(log2 amax) - emax_elem), emax(E2M1) = 2;
    # P_i = E2M1(V_i / X) with saturation to +-6
    x = np.random.default_rng(3).standard_t(3, size=(7, 64)) * 0.8
    g = x.reshape(7, 2, 32)
    amax = np.abs(g).max(axis=-1)
    X = 2.0 ** (np.floor(np.log2(amax)) - 2)
    want = (_nearest(g / X[..., None], E2M1_ALL) * X[..., None]).reshape(x.shape)
    got = group_quantize(x, 32, grid="fp4_e2m1", scale="pow2")
    assert np.array_equal(got, want)
    d = x - want
    assert group_mse(x, 32, grid="fp4_e2m1", scale="pow2") == pytest.approx(np.mean(d * d))


def test_nvfp4_brute_force():
    # NVFP4: tensor scale tau = amax_t / (448 * 6); block scale E4M3(amax_b / 6 / tau)
    x = np.random.default_rng(4).standard_normal((5, 48)) * 3.0
    tau = np.abs(x).max() / (448 * 6)
    g = x.reshape(5, 3, 16)
    code = (np.abs(g).max(axis=-1) / 6 / tau).astype(ml_dtypes.float8_e4m3fn)
    s = code.astype(np.float64) * tau
    want = (_nearest(g / s[..., None], E2M1_ALL) * s[..., None]).reshape(x.shape)
    assert np.allclose(group_quantize(x, 16, grid="fp4_e2m1", scale="e4m3"), want,
                       rtol=1e-15, atol=0)
    assert np.allclose(group_scales(x, 16, grid="fp4_e2m1", scale="e4m3"), 6 * s,
                       rtol=1e-15)


def test_absmax_brute_force_nf4_and_int():
    x = np.random.default_rng(5).laplace(size=(3, 4, 64))
    g = x.reshape(3, 4, 1, 64)
    amax = np.abs(g).max(axis=-1, keepdims=True)
    nf4 = get_format("nf4").levels(1.0)
    assert np.allclose(group_quantize(x, 64, grid="nf4"),
                       (_nearest(g / amax, nf4) * amax).reshape(x.shape), rtol=1e-15)
    lv = np.arange(-8, 8) / 7.0  # int4 with the group maximum on +7
    assert np.allclose(group_quantize(x, 64, 4, grid="int"),
                       (_nearest(g / amax, lv) * amax).reshape(x.shape), rtol=1e-14)


def test_e4m3_round_matches_ml_dtypes():
    v = np.concatenate([np.random.default_rng(6).lognormal(0, 4, 20_000),
                        e4m3_values(), 0.5 * (e4m3_values()[1:] + e4m3_values()[:-1])])
    v = v[v < 448]
    want = v.astype(ml_dtypes.float8_e4m3fn).astype(np.float64)
    assert np.array_equal(e4m3_round(v), want)
    assert e4m3_round(1e6) == 448.0


def test_pow2_ratio_is_the_mx_emax():
    from qerror.blocks._rules import format_ratio

    for name in ("fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1"):
        f = get_format(name)
        assert format_ratio(f, f.fixed_bits, 1.0) == f.max_value / 2.0**f.emax
    assert format_ratio(get_format("int"), 8, 127 / 127.5) == 127 / 64  # MXINT8


def test_optimal_scale_per_group():
    x = np.random.default_rng(8).standard_t(4, size=(2, 64))
    opt = group_mse(x, 32, 4, grid="midtread", scale="optimal")
    assert opt <= group_mse(x, 32, 4, grid="midtread") + 1e-15
    al = group_scales(x, 32, 4, grid="midtread", scale="optimal")
    # brute force: a scan of alpha per group never beats the certified optimum
    for a, row in zip(al.ravel(), x.reshape(-1, 32), strict=True):
        scan = np.linspace(0.05, 1.2, 4000) * np.abs(row).max()
        q = qerror.quantize(row[None, :], scan[:, None], 4, grid="midtread")
        best = ((row - q) ** 2).mean(axis=1).min()
        mine = ((row - qerror.quantize(row, a, 4, grid="midtread")) ** 2).mean()
        assert mine <= best * (1 + 1e-12)


def test_zero_groups():
    x = np.zeros((2, 8))
    x[1, :4] = [1.0, -0.5, 0.25, 0.0]
    for scale in SCALE_RULES:
        assert group_mse(x, 4, 4, grid="int", scale=scale) >= 0.0
        assert np.all(group_quantize(x, 4, 4, grid="int", scale=scale)[0] == 0.0)


def test_bits_per_element():
    assert bits_per_element(32, grid="fp4_e2m1", scale="pow2") == 4.25       # MXFP4
    assert bits_per_element(16, grid="fp4_e2m1", scale="e4m3") == 4.5        # NVFP4
    assert bits_per_element(128, 4, grid="int") == 4.125                     # INT4-g128
    assert bits_per_element(16, grid="fp4_e2m1", scale="e4m3",
                            tensor_size=1024) == 4.5 + 32 / 1024


# ------------------------------------------------------------------ bad input
def test_bad_input():
    x = np.ones((4, 30))
    with pytest.raises(ValueError, match="group_size=32 does not divide the last axis"):
        group_mse(x, 32, 4, grid="int")
    with pytest.raises(ValueError, match="grid must be one of .*fp4_e2m1"):
        group_mse(x, 10, 4, grid="fp3")
    with pytest.raises(ValueError, match="scale must be one of .*pow2"):
        group_mse(x, 10, 4, grid="int", scale="max")
    with pytest.raises(ValueError, match="group_size must be >= 1"):
        group_mse(x, 0, 4, grid="int")
    with pytest.raises(TypeError, match="group_size"):
        group_mse(x, True, 4, grid="int")
    with pytest.raises(TypeError, match="group_size"):
        group_mse(x, 2.5, 4, grid="int")
    bad = x.copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        group_mse(bad, 10, 4, grid="int")
    with pytest.raises(ValueError, match="scale='optimal' needs data"):
        group_mse(stats.norm(), 16, 4, grid="int", scale="optimal")
    with pytest.raises(ValueError, match="clamped law has atoms"):
        group_mse(qerror.clamp(stats.norm(), 2.0), 16, 4, grid="int")
    with pytest.raises(ValueError, match="tensor_amax"):
        group_mse(x, 10, grid="fp4_e2m1", scale="e4m3", tensor_amax=-1)
    with pytest.raises(ValueError, match="at least one dimension"):
        group_mse(np.float64(2.0), 1, 4, grid="int")
    with pytest.raises(ValueError, match="bits must be a single integer"):
        group_mse(x, 10, [4, 8], grid="int")


# ------------------------------------------------------------------ command line
def _cli(*argv):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "qerror", *argv], capture_output=True,
                          text=True, timeout=300)


def test_cli_table_group_size():
    r = _cli("table", "--dist", "norm", "--grid", "fp4_e2m1", "--group-size", "16", "32",
             "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert [row["group_size"] for row in rows] == [16, 32]
    for row in rows:
        for rule in ("absmax", "pow2", "e4m3"):
            want = group_mse(stats.norm(), row["group_size"], grid="fp4_e2m1", scale=rule)
            assert row[f"mse_{rule}"] == pytest.approx(want, rel=1e-12)
    assert rows[1]["bpe_pow2"] == 4.25


def test_cli_curve_group_size(tmp_path):
    r = _cli("curve", "--dist", "laplace", "--grid", "int", "--bits", "4",
             "--group-size", "32", "--scale", "absmax")
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip().splitlines()[-1].split(",")
    sigma2 = stats.laplace().var()
    assert float(line[3]) == pytest.approx(group_mse(stats.laplace(), 32, 4, grid="int")
                                           / sigma2, rel=1e-9)
    out = tmp_path / "g.png"
    r = _cli("curve", "--grid", "fp4_e2m1", "--group-size", "16", "64", "-o", str(out))
    assert r.returncode == 0 and out.stat().st_size > 1000, r.stderr


def test_cli_group_size_errors():
    for argv, msg in ((("table", "--group-size", "0"), "must be >= 1"),
                      (("table", "--dist", "clamp(norm, 2)", "--grid", "int", "--bits", "4",
                        "--group-size", "8"), "clamped law has atoms"),
                      (("curve", "--kind", "bits", "--group-size", "8"), "drop --kind")):
        r = _cli(*argv)
        assert r.returncode != 0
        assert msg in r.stderr and "Traceback" not in r.stderr, r.stderr
