"""Optimal clipping: published constants, closed forms, global optimality, clamped laws.

mpmath references for the optimum are checked in ``test_accuracy_optimal.py``.
"""

import numpy as np
import pytest
from scipy import special, stats

import qerror

# Banner et al., "ACIQ: analytical clipping for integer quantization" (2018): optimal
# alpha in units of sigma (Gaussian) and of the Laplace scale b, for 1..8 bits.  The
# printed values are two-decimal approximations (some rounded, some truncated: e.g.
# 2.5591 is printed 2.55 and 1.2399 is printed 1.24), so each must be within 0.01.
BANNER_GAUSS = [1.24, 1.71, 2.15, 2.55, 2.94, 3.29, 3.61, 3.92]
BANNER_LAPLACE = [1.86, 2.83, 3.89, 5.03, 6.20, 7.41, 8.64, 9.89]

# J. Max, "Quantizing for minimum distortion", IRE Trans. Inf. Theory 6 (1960), Table II
# (optimum uniform quantizer, unit-variance Gaussian): N levels, step, MSE.
MAX_TABLE = [(2, 1.596, 0.3634), (4, 0.9957, 0.1188), (8, 0.5860, 0.03744),
             (16, 0.3352, 0.01154)]


@pytest.mark.parametrize("bits", range(1, 9))
def test_banner_constants(bits):
    g = qerror.optimal_alpha(stats.norm(), bits, model="aciq")
    lap = qerror.optimal_alpha(stats.laplace(), bits, model="aciq")
    assert abs(g.alpha - BANNER_GAUSS[bits - 1]) <= 0.0101
    assert abs(lap.alpha - BANNER_LAPLACE[bits - 1]) <= 0.0101
    assert g.success and lap.success


@pytest.mark.parametrize("n_levels, step, mse", MAX_TABLE)
def test_max_1960_table(n_levels, step, mse):
    bits = int(np.log2(n_levels))
    r = qerror.optimal_alpha(stats.norm(), bits)
    assert r.success
    # every printed digit: step to 4 significant digits, MSE to 4
    assert 2 * r.alpha / n_levels == pytest.approx(step, abs=0.6 * 10 ** (np.floor(
        np.log10(step)) - 3))
    assert r.mse == pytest.approx(mse, abs=0.6 * 10 ** (np.floor(np.log10(mse)) - 3))


@pytest.mark.parametrize("grid, k", [("midrise", None), ("midtread", None),
                                     ("unsigned", None)])
def test_laplace_lambert_w_matches_root_finding(grid, k):
    # centred Laplace: closed form; shifted by a hair: the root-finding path
    for bits in (2, 5, 8, 16, 32, 64):
        closed = qerror.optimal_alpha(stats.laplace(0, 0.7), bits, model="aciq", grid=grid)
        assert closed.method == "lambertw"
        if grid == "midrise":
            assert closed.alpha == pytest.approx(0.7 * special.lambertw(3 * 4.0**bits).real,
                                                 rel=1e-15)
        clamped = qerror.optimal_alpha(qerror.clamp(stats.laplace(0, 0.7), 1e3), bits,
                                       model="aciq", grid=grid)
        assert clamped.method == "stationarity"
        assert clamped.alpha == pytest.approx(closed.alpha, rel=1e-13)


def test_aciq_gaussian_all_bits_is_stationary_and_minimal():
    res = qerror.optimal_alpha(stats.norm(), np.arange(1, 65), model="aciq")
    assert res.alpha.shape == (64,) and res.success.all()
    assert np.all(np.diff(res.alpha) > 0)
    for b, a in zip(range(1, 65), res.alpha):
        e0 = qerror.mse(stats.norm(), a, b, model="aciq")
        for f in (1 - 1e-6, 1 + 1e-6):
            assert qerror.mse(stats.norm(), a * f, b, model="aciq") >= e0


@pytest.mark.parametrize("dist", [stats.norm(), stats.laplace(0.1, 1.0),
                                  stats.uniform(-1, 2), qerror.clamp(stats.norm(), 2.0),
                                  qerror.clamp(stats.laplace(), 1.0)])
@pytest.mark.parametrize("grid", ["midrise", "midtread"])
@pytest.mark.parametrize("bits", [2, 4, 6])
def test_exact_optimum_beats_a_dense_scan(dist, grid, bits):
    r = qerror.optimal_alpha(dist, bits, grid=grid)
    assert r.success, r.message
    alphas = np.geomspace(r.alpha / 4, r.alpha * 3, 20001)
    scan = qerror.mse(dist, alphas, bits, grid=grid)
    assert r.mse <= scan.min() * (1 + 1e-12)
    assert r.mse == pytest.approx(qerror.mse(dist, r.alpha, bits, grid=grid), rel=1e-15)
    assert r.mse == pytest.approx(r.truncation + r.rounding, rel=1e-15)


@pytest.mark.parametrize("grid", ["midrise", "midtread"])
def test_exact_optimum_generic_family(grid):
    # quadrature path (slow per evaluation): a coarse check around the optimum
    dist = stats.t(5)
    r = qerror.optimal_alpha(dist, 3, grid=grid)
    assert r.success, r.message
    alphas = r.alpha * np.array([0.9, 0.99, 0.999, 1.001, 1.01, 1.1])
    scan = qerror.mse(dist, alphas, 3, grid=grid)
    assert r.mse <= scan.min() * (1 + 1e-12)


def test_uniform_optimum_is_the_support():
    # U[-1, 1], midrise: every alpha != 1 wastes levels or clips; alpha* = 1 exactly
    r = qerror.optimal_alpha(stats.uniform(-1, 2), 4)
    assert r.alpha == pytest.approx(1.0, rel=1e-9)
    assert r.mse == pytest.approx(1 / (3 * 4.0**4), rel=1e-9)


def test_clamped_law_has_many_local_minima_and_the_global_is_found():
    w = qerror.clamp(stats.norm(), 2.0)
    r = qerror.optimal_alpha(w, 8)
    assert r.success
    n_local = int(r.message.split(" local minima")[0].split()[-1])
    assert n_local >= 12
    # Lemma 2 in the exact model: no boundary on a fine scan is better
    alphas = np.linspace(0.5, 2.5, 400001)
    assert r.mse <= qerror.mse(w, alphas, 8).min() * (1 + 1e-12)


def test_clamped_aciq_optimum_below_d_and_beyond():
    # small d: alpha' reaches d (no truncation left); ACIQ alpha' is then < d since
    # at alpha = d the derivative is 2c d > 0
    for d in (0.5, 1.0, 3.0):
        r = qerror.optimal_alpha(qerror.clamp(stats.norm(), d), 4, model="aciq")
        assert r.success and r.alpha < d
    # exact model: alpha' may exceed d (outer level alpha - step/2 lands on d)
    r = qerror.optimal_alpha(qerror.clamp(stats.norm(), 0.5), 3)
    assert r.alpha > 0.5


def test_result_is_frozen_and_documented():
    r = qerror.optimal_alpha(stats.norm(), 4)
    with pytest.raises(Exception):
        r.alpha = 1.0
    assert "OptimalAlpha" in repr(r)
    for field in ("alpha", "mse", "truncation", "rounding", "bits", "model", "grid",
                  "success", "message", "nfev"):
        assert field in qerror.OptimalAlpha.__doc__


def test_table():
    rows = qerror.optimal_alpha_table({"norm": stats.norm()}, [2, 3])
    assert [r["bits"] for r in rows] == [2, 3]
    assert all(r["penalty_aciq_in_exact"] >= 1.0 for r in rows)


def test_bad_input():
    with pytest.raises(ValueError, match="bits"):
        qerror.optimal_alpha(stats.norm(), 0)
    with pytest.raises(ValueError, match="model"):
        qerror.optimal_alpha(stats.norm(), 4, model="nope")
    with pytest.raises(ValueError, match="axis"):
        qerror.optimal_alpha(stats.norm(), 4, axis=0)
    with pytest.raises(TypeError, match="frozen"):
        qerror.optimal_alpha(stats.norm, 4)
