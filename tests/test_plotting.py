"""Tests of qerror.plotting: lazy import, return types, ``ax=``, and that what is drawn
is the engine's numbers (curves, optima, levels) in units of sigma."""

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

import qerror

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from qerror import plotting  # noqa: E402

SIGMA = 2.0
NORM = stats.norm(scale=SIGMA)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _line(ax, label):
    for ln in ax.get_lines():
        if ln.get_label() == label:
            return ln
    raise AssertionError(f"no line labelled {label!r}: "
                         f"{[ln.get_label() for ln in ax.get_lines()]}")


def test_import_qerror_does_not_import_matplotlib():
    code = ("import sys, qerror; assert 'matplotlib' not in sys.modules; "
            "qerror.plotting; assert 'matplotlib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plotting_is_lazy_attribute():
    assert qerror.plotting is plotting


def test_mse_curve_draws_engine_values_in_sigma_units():
    alpha = np.linspace(0.5, 8.0, 40)
    ax = plotting.plot_mse_curve(NORM, 4, alpha=alpha)
    assert isinstance(ax, Axes)
    for model, lab in (("exact", "exact"), ("aciq", "ACIQ")):
        t, r = qerror.error_parts(NORM, alpha, 4, model=model)
        tot = _line(ax, f"{lab}: total")
        np.testing.assert_allclose(tot.get_xdata(), alpha / SIGMA, rtol=1e-15)
        np.testing.assert_allclose(tot.get_ydata(), (t + r) / SIGMA**2, rtol=1e-15)
        rnd = _line(ax, f"{lab}: rounding")
        np.testing.assert_allclose(rnd.get_ydata(), r / SIGMA**2, rtol=1e-15)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "sigma" in ax.get_xlabel() and "sigma^2" in ax.get_ylabel()


def test_mse_curve_marks_solver_optimum():
    ax = plotting.plot_mse_curve(NORM, 3, model="exact", parts=False)
    r = qerror.optimal_alpha(NORM, 3)
    (mark,) = [ln for ln in ax.get_lines()
               if ln.get_label().startswith("exact: $\\alpha^*")]
    assert mark.get_xdata()[0] == pytest.approx(r.alpha / SIGMA, rel=1e-12)
    assert mark.get_ydata()[0] == pytest.approx(r.mse / SIGMA**2, rel=1e-12)
    # parts=False: only the total and the marker
    assert len(ax.get_lines()) == 2


def test_mse_curve_curve_optimum_and_none():
    alpha = np.geomspace(1.0, 10.0, 50)
    ax = plotting.plot_mse_curve(NORM, 4, model="aciq", alpha=alpha, optimum="curve",
                                 parts=False)
    e = qerror.mse(NORM, alpha, 4, model="aciq")
    mark = ax.get_lines()[-1]
    assert mark.get_xdata()[0] == pytest.approx(alpha[np.argmin(e)] / SIGMA)
    ax = plotting.plot_mse_curve(NORM, 4, alpha=alpha, optimum=None, parts=False)
    assert len(ax.get_lines()) == 2  # two models, no markers
    with pytest.raises(ValueError, match="optimum"):
        plotting.plot_mse_curve(NORM, 4, alpha=alpha, optimum="nope")


def test_mse_curve_draws_on_given_axes_and_raw_units():
    fig, axs = plt.subplots(1, 2)
    out = plotting.plot_mse_curve(stats.laplace(), 2, ax=axs[1], sigma=1.0, num=20)
    assert out is axs[1]
    assert not axs[0].get_lines()
    assert "sigma" not in out.get_xlabel()


def test_mse_curve_clamped_law_range_covers_d():
    w = qerror.clamp(NORM, 3.0)
    ax = plotting.plot_mse_curve(w, 4, model="exact", num=50)
    x = _line(ax, "exact: total").get_xdata()
    assert x.max() >= 1.5 * 3.0 / SIGMA * (1 - 1e-12)
    assert "clamp(norm(scale=2), d=3)" in ax.get_title()


def test_mse_curve_data():
    x = np.random.default_rng(1).laplace(size=2000)
    ax = plotting.plot_mse_curve(x, 3, model="exact", grid="midtread", num=30)
    assert "data" in ax.get_title()


@pytest.mark.parametrize("bad", [dict(bits=[3, 4]), dict(bits=0), dict(model="foo"),
                                 dict(grid="foo"), dict(sigma=-1.0)])
def test_mse_curve_bad_input(bad):
    kw = dict(bits=4)
    kw.update(bad)
    with pytest.raises((ValueError, TypeError)):
        plotting.plot_mse_curve(NORM, alpha=[1.0, 2.0], **kw)


def test_optimal_vs_bits_values_and_pair_axes():
    dists = {"norm": NORM, "laplace": stats.laplace(scale=1.5)}
    fig, pair = plt.subplots(1, 2)
    out = plotting.plot_optimal_vs_bits(dists, range(2, 6), model="aciq", ax=pair)
    assert out == tuple(pair)
    ax_a, ax_e = out
    r = qerror.optimal_alpha(dists["laplace"], np.arange(2, 6), model="aciq")
    s = dists["laplace"].std()
    np.testing.assert_allclose(_line(ax_a, "laplace, ACIQ").get_ydata(), r.alpha / s)
    np.testing.assert_allclose(_line(ax_e, "laplace, ACIQ").get_ydata(), r.mse / s**2)
    assert ax_e.get_yscale() == "log"
    with pytest.raises(ValueError, match="pair"):
        plotting.plot_optimal_vs_bits(NORM, [2], ax=[pair[0]])


def test_optimal_vs_bits_single_law_new_figure():
    ax_a, ax_e = plotting.plot_optimal_vs_bits(stats.uniform(-1, 2), [1, 2, 3])
    assert ax_a.figure is ax_e.figure
    assert len(ax_a.get_lines()) == 2  # exact and ACIQ


def test_clamped_lemma1_curve_below():
    d = 2.5
    alpha = np.geomspace(0.5, 8.0, 80)
    ax = plotting.plot_clamped(NORM, d, 4, alpha=alpha)
    e0 = _line(ax, "norm(scale=2) (unbounded)").get_ydata()
    e1 = next(ln for ln in ax.get_lines()
              if ln.get_label().startswith("clamped")).get_ydata()
    below = alpha < d
    assert np.all(e1[below] < e0[below])
    assert np.all(e1 <= e0 * (1 + 1e-12))
    # the markers are the two optima, clamped one lower (Lemmas 1 + 2)
    r0 = qerror.optimal_alpha(NORM, 4, model="aciq")
    r1 = qerror.optimal_alpha(qerror.clamp(NORM, d), 4, model="aciq")
    assert r1.mse < r0.mse
    xs = [ln.get_xdata()[0] for ln in ax.get_lines() if len(ln.get_xdata()) == 1]
    np.testing.assert_allclose(sorted(xs), sorted([r0.alpha / SIGMA, r1.alpha / SIGMA]))


def test_clamped_several_d_exact():
    ax = plotting.plot_clamped(stats.laplace(), [1.0, 3.0], 3, model="exact", num=60)
    assert sum(ln.get_label().startswith("clamped") for ln in ax.get_lines()) == 2


@pytest.mark.parametrize("grid,n", [("midrise", 8), ("midtread", 7), ("unsigned", 8)])
def test_levels_positions(grid, n):
    alpha = 3.0
    ax = plotting.plot_levels(NORM, alpha, 3, grid=grid)
    (levels,) = [c for c in ax.collections if c.get_label() == f"{n} levels"]
    xs = np.array([seg[0, 0] for seg in levels.get_segments()]) * SIGMA
    np.testing.assert_allclose(np.sort(xs), np.unique(qerror.quantize(
        np.linspace(-5, 5, 20001), alpha, 3, grid=grid)), atol=1e-12)


def test_levels_clamped_atoms_and_many_levels():
    ax = plotting.plot_levels(qerror.clamp(stats.norm(), 2.0), 1.8, 3)
    assert any("atom 0.0228" in t.get_text() for t in ax.texts)
    ax = plotting.plot_levels(stats.norm(), 4.0, 10)
    assert any("1024 levels" in t.get_text() for t in ax.texts)
    with pytest.raises(TypeError):
        plotting.plot_levels(np.ones(10), 1.0, 3)


def test_histogram_default_optimum_and_dict():
    x = np.random.default_rng(0).standard_t(5, size=5000)
    s = x.std()
    ax = plotting.plot_histogram(x, 4)
    r = qerror.optimal_alpha(x, 4)  # the default grid, as the plot's
    xs = sorted(ln.get_xdata()[0] for ln in ax.get_lines())
    np.testing.assert_allclose(xs, [-r.alpha / s, r.alpha / s])
    ax = plotting.plot_histogram(x, 4, alpha={"a": 1.0, "b": 2.0}, grid="midrise")
    assert len(ax.get_lines()) == 4
    ax = plotting.plot_histogram(np.abs(x), 4, alpha=2.0, grid="unsigned")
    assert len(ax.get_lines()) == 1
    with pytest.raises(ValueError):
        plotting.plot_histogram([np.nan, 1.0], 4)


def test_step_sensitivity_is_one_at_optimum_and_grows():
    c = np.array([0.5, 1.0, 2.0])
    dists = {"norm": NORM, "clamped": qerror.clamp(stats.laplace(), 2.0)}
    ax = plotting.plot_step_sensitivity(dists, 4, scale=c)
    for name in dists:
        y = _line(ax, name).get_ydata()
        assert y[1] == pytest.approx(1.0, rel=1e-12)
        assert y[0] > 1 and y[2] > 1
    ax = plotting.plot_step_sensitivity(stats.uniform(-1, 2), 3, model="aciq")
    assert len(ax.get_lines()[0].get_xdata()) == 301
