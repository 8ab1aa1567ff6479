"""The issue-13 formats on data: quantizer oracles (PyTorch), the certified data optimum
against brute force (two-sided and magnitude solvers), per channel, Monte Carlo, bias,
and the affine range."""

import numpy as np
import pytest
from scipy import stats

import qerror
from qerror.affine import optimal_range
from qerror.formats import AffineGrid, FloatFormat, affine_range, get_format

FIXED = ("fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "nf4")


# ------------------------------------------------------------------ PyTorch oracle
def test_int_uint_affine_match_torch_fake_quantize():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(20_000) * 2.0).astype(np.float32)
    for b in (2, 4, 8):
        n = 2**b - 1
        alpha = 3.0  # a float32 number: PyTorch's max|x|
        scale = float(np.float32(2 * alpha / n))
        ref = torch.fake_quantize_per_tensor_affine(
            torch.from_numpy(x), scale, 0, -(2 ** (b - 1)), 2 ** (b - 1) - 1).numpy()
        q = qerror.quantize(x.astype(np.float64), 0.5 * scale * n, b, grid="int")
        # float32 near-ties aside: PyTorch multiplies by a float32 1/scale
        u = x.astype(np.float64) / scale
        clear = np.abs(u - np.floor(u) - 0.5) > 1e-5
        np.testing.assert_allclose(q[clear], ref[clear], rtol=1e-6, atol=1e-6 * scale)
        scale_u = float(np.float32(alpha / n))
        ref = torch.fake_quantize_per_tensor_affine(
            torch.from_numpy(x), scale_u, 0, 0, n).numpy()
        q = qerror.quantize(x.astype(np.float64), scale_u * n, b, grid="uint")
        u = x.astype(np.float64) / scale_u
        clear = np.abs(u - np.floor(u) - 0.5) > 1e-5
        np.testing.assert_allclose(q[clear], ref[clear], rtol=1e-6, atol=1e-6 * scale_u)
    # affine: the observer's scale and zero point, then fake-quantize
    obs = torch.ao.quantization.MinMaxObserver(dtype=torch.quint8,
                                               qscheme=torch.per_tensor_affine)
    xs = x * 0.7 + 0.9
    obs(torch.from_numpy(xs))
    s_t, z_t = (float(v) for v in obs.calculate_qparams())
    g, alpha = affine_range(float(xs.min()), float(xs.max()), 8)
    assert g.zero_point == int(z_t)
    assert alpha / max(g.zero_point, 255 - g.zero_point) == pytest.approx(s_t, rel=1e-6)
    ref = torch.fake_quantize_per_tensor_affine(torch.from_numpy(xs), s_t, int(z_t), 0,
                                                255).numpy()
    q = qerror.quantize(xs.astype(np.float64), alpha, grid=g)
    np.testing.assert_allclose(q, ref, rtol=0, atol=2e-6)


# ------------------------------------------------------------- data optimum (brute)
def _brute(x, fmt, bits):
    """Global minimum of the data MSE over the step by enumerating every piece: the
    kinks |x_j| / |theta_k|, and the vertex of the quadratic on each piece, evaluated
    with qerror.quantize (an independent path)."""
    bits = int(fmt.check_bits(bits))
    c, afac = fmt.signed_levels(bits)
    th = 0.5 * (c[1:] + c[:-1])
    th = th[th != 0]
    k = np.unique((np.abs(x)[:, None] / np.abs(th)[None, :]).ravel())
    k = k[k > 0]
    probes = np.concatenate([np.sqrt(k[1:] * k[:-1]), [k[0] * 0.5, k[-1] * 2.0]])
    best = (np.mean(x * x), 0.0)
    for d in probes:
        q = qerror.quantize(x, afac * d, bits, grid=fmt) / d  # level multiples
        C, B = np.sum(q * q), np.sum(q * x)
        if C <= 0:
            continue
        dv = B / C
        e = np.mean((x - qerror.quantize(x, afac * dv, bits, grid=fmt)) ** 2)
        if e < best[0]:
            best = (e, afac * dv)
    return best


@pytest.mark.parametrize("grid,bits", [("int", 2), ("int", 3), ("int", 4), ("nf4", None),
                                       ("fp4_e2m1", None), ("fp6_e3m2", None),
                                       (AffineGrid(3, 2), None), ("uint", 3)],
                         ids=str)
def test_data_optimum_is_the_brute_force_minimum(grid, bits):
    rng = np.random.default_rng(11)
    fmt = get_format(grid)
    for trial in range(6):
        x = rng.standard_t(3, size=50) * rng.uniform(0.1, 10) + rng.uniform(-1, 1)
        if trial == 5:
            x = np.round(x, 1)  # ties and repeated values
        r = qerror.optimal_alpha(x, bits, grid=fmt)
        want, _ = _brute(x, fmt, bits)
        assert r.success
        assert r.mse <= want * (1 + 1e-12) + 1e-300
        assert r.mse >= want * (1 - 1e-9)
        # mse is the error at alpha, parts add up
        e = np.mean((x - qerror.quantize(x, r.alpha, bits, grid=fmt)) ** 2)
        assert e == pytest.approx(r.mse, rel=1e-12)
        assert r.truncation + r.rounding == pytest.approx(r.mse, rel=1e-12)


def test_twosided_solver_agrees_with_magnitude_solver_on_symmetric_levels():
    """The two-sided solver, given a symmetric level set, finds the magnitude solver's
    optimum (two independent certified solvers)."""
    from qerror.data._twosided import solve_twosided

    rng = np.random.default_rng(3)
    x = rng.laplace(size=(3, 5000))
    for grid, bits in (("midtread", 4), ("fp6_e2m3", None), ("fp4_e2m1", None)):
        fmt = get_format(grid)
        b = int(fmt.check_bits(bits))
        r = qerror.optimal_alpha(x, b, grid=fmt, axis=0)
        al, ms, tr, rd, *_ = solve_twosided(x, b, "exact", fmt)
        np.testing.assert_allclose(ms, r.mse, rtol=1e-12)


def test_data_optimum_large_and_per_channel():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 50_000)) * np.array([[1.0], [0.1], [3.0], [10.0]])
    x[1] += 0.05
    r = qerror.optimal_alpha(x, 8, grid="int", axis=0)
    assert r.alpha.shape == (4,) and np.all(r.success)
    for i in range(4):
        ri = qerror.optimal_alpha(x[i], 8, grid="int")
        assert ri.alpha == pytest.approx(r.alpha[i], rel=1e-12)
        # a local check around the optimum on a fine grid
        a = ri.alpha * (1 + np.linspace(-0.02, 0.02, 81))
        e = [np.mean((x[i] - qerror.quantize(x[i], aa, 8, grid="int")) ** 2) for aa in a]
        assert ri.mse <= min(e) * (1 + 1e-12)
    r = qerror.optimal_alpha(x, grid="nf4", axis=0)
    assert np.all(r.success) and "two-sided" in r.message


def test_data_aciq_on_int_is_convex_minimum():
    x = np.random.default_rng(2).standard_t(5, size=3000)
    r = qerror.optimal_alpha(x, 4, grid="int", model="aciq")
    f = [qerror.mse(x, r.alpha * (1 + e), 4, grid="int", model="aciq")
         for e in (-1e-7, 0.0, 1e-7)]
    assert f[1] <= f[0] * (1 + 1e-14) and f[1] <= f[2] * (1 + 1e-14)
    assert r.mse == pytest.approx(f[1], rel=1e-12)


def test_data_nonfinite_and_empty():
    with pytest.raises(ValueError, match="non-finite"):
        qerror.optimal_alpha(np.array([1.0, np.nan, 2.0]), 4, grid="int")
    with pytest.raises(ValueError, match="non-finite"):
        qerror.mse(np.array([1.0, np.inf]), 2.0, grid="nf4")
    r = qerror.optimal_alpha(np.zeros(10), grid="nf4")
    assert r.alpha == 0.0 and r.mse == 0.0


# ------------------------------------------------------------ Monte Carlo and bias
@pytest.mark.parametrize("grid", ["int", "uint", *FIXED])
def test_law_mse_vs_monte_carlo(grid):
    bits = 4 if grid in ("int", "uint") else None
    d = stats.norm(0.2, 1.3)
    alpha = 2.5 if grid != "fp8_e5m2" else 40.0
    mc = qerror.simulate_mse(d, alpha, bits, n=400_000, seed=1, grid=grid)
    exact = qerror.mse(d, alpha, bits, grid=grid)
    assert abs(mc.mse - exact) <= 5 * mc.stderr


@pytest.mark.parametrize("grid", ["int", "nf4", "fp4_e2m1"])
def test_bias_law_vs_data(grid):
    bits = 4 if grid == "int" else None
    d = stats.laplace(0.1, 0.8)
    x = d.rvs(size=400_000, random_state=np.random.default_rng(4))
    b_law = qerror.bias(d, 2.0, bits, grid=grid)
    b_data = qerror.bias(x, 2.0, bits, grid=grid)
    err = x - qerror.quantize(x, 2.0, bits, grid=grid)
    assert abs(b_law - b_data) <= 5 * err.std() / np.sqrt(x.size)


# --------------------------------------------------------------------- law optimum
@pytest.mark.parametrize("grid", ["fp4_e2m1", "nf4", "fp6_e2m3"])
def test_law_optimum_beats_a_fine_scan(grid):
    d = stats.norm()
    r = qerror.optimal_alpha(d, grid=grid)
    a = np.geomspace(0.3, 30, 4000)
    assert r.success and r.mse <= qerror.mse(d, a, grid=grid).min() * (1 + 1e-12)


def test_optimal_range_law_and_data():
    d = stats.norm(0.5, 1.0)
    r = optimal_range(d, 3)
    # against every zero point solved by hand, and a (lo, hi) grid search
    for z in range(8):
        rz = qerror.optimal_alpha(d, grid=AffineGrid(3, z))
        assert r.mse <= rz.mse * (1 + 1e-14)
    g, alpha = affine_range(r.lo, r.hi, 3)
    assert g.zero_point == r.zero_point
    assert qerror.mse(d, alpha, grid=g) == pytest.approx(r.mse, rel=1e-9)
    lo, hi = np.meshgrid(np.linspace(-3, -0.2, 30), np.linspace(0.8, 4.5, 30))
    grid_best = np.inf
    for a, b in zip(lo.ravel(), hi.ravel()):
        g_ab, alpha_ab = affine_range(a, b, 3)
        grid_best = min(grid_best, qerror.mse(d, alpha_ab, grid=g_ab))
    assert r.mse <= grid_best * (1 + 1e-12)
    x = d.rvs(size=(2, 400), random_state=np.random.default_rng(9))
    rd = optimal_range(x, 3, axis=0)
    for i in range(2):
        ri = optimal_range(x[i], 3)
        assert ri.mse == pytest.approx(rd.mse[i], rel=1e-12)
        assert bool(ri.success)
    with pytest.raises(ValueError, match="axis"):
        optimal_range(d, 3, axis=0)


def test_generic_float_format_data_and_law():
    f = FloatFormat(3, 3, specials="none", subnormals=False)
    x = np.random.default_rng(8).standard_normal(2000)
    r = qerror.optimal_alpha(x, grid=f)
    want, _ = _brute(x[:60], f, None)
    assert qerror.optimal_alpha(x[:60], grid=f).mse <= want * (1 + 1e-12)
    assert r.success
