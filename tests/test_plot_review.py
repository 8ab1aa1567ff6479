"""The figures of qerror.plotting pass the plot review of ``tests/plot_review.py``:
labelled axes with readable ticks, every curve in frame, no line hidden under another,
a legend that covers no data; and the review catches each of those faults."""

import numpy as np
import pytest
from scipy import stats

import qerror

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from plot_review import review  # noqa: E402

from qerror import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


LAPLACE = stats.laplace(scale=1 / np.sqrt(2))
T5 = stats.t(5, scale=np.sqrt(3 / 5))
STEP_LAWS = {"Gaussian": stats.norm(), "Laplace": LAPLACE,
             "uniform": stats.uniform(-np.sqrt(3), 2 * np.sqrt(3)),
             "clamped Gaussian": qerror.clamp(stats.norm(), 2.0)}


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_t(5, size=4096) * 0.05


FIGURES = {
    # the calls the docs, the notebooks and `qerror curve` make
    "mse_curve_norm": lambda: plotting.plot_mse_curve(stats.norm(), 4),
    "mse_curve_laplace": lambda: plotting.plot_mse_curve(stats.laplace(), 4),
    "mse_curve_laplace_2bits": lambda: plotting.plot_mse_curve(stats.laplace(), 2),
    "mse_curve_t5_both_models": lambda: plotting.plot_mse_curve(
        T5, 4, alpha=np.geomspace(0.5, 8.0, 24), optimum="curve"),
    "mse_curve_exact_only": lambda: plotting.plot_mse_curve(stats.norm(), 3,
                                                             model="exact"),
    "mse_curve_clamped": lambda: plotting.plot_mse_curve(qerror.clamp(stats.norm(), 2.5),
                                                          4),
    "optimal_vs_bits": lambda: plotting.plot_optimal_vs_bits(
        {"Gaussian": stats.norm(), "Laplace": LAPLACE})[0],
    "clamped": lambda: plotting.plot_clamped(stats.norm(), [1.5, 2.5], 4),
    "levels": lambda: plotting.plot_levels(stats.norm(), 2.0, 3),
    "levels_clamped": lambda: plotting.plot_levels(qerror.clamp(stats.norm(), 1.5),
                                                   1.4, 3),
    "histogram_one": lambda: plotting.plot_histogram(_data(), 4),
    "histogram_routes": lambda: plotting.plot_histogram(_data(), 4, alpha={
        k: r.alpha for k, r in qerror.data.routes.compare_alphas(_data(), 4).items()}),
    "step_sensitivity_narrow": lambda: plotting.plot_step_sensitivity(
        STEP_LAWS, 4, scale=np.linspace(0.5, 1.5, 101)),
    "step_sensitivity_default": lambda: plotting.plot_step_sensitivity(STEP_LAWS, 4),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_passes_review(name):
    ax = FIGURES[name]()
    assert review(ax.figure) == []


def test_curve_command_figure_passes_review(tmp_path, monkeypatch):
    from qerror.cli import main

    saved = []
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, *a, **k: saved.append(fig))
    assert main(["curve", "--dist", "laplace", "--bits", "2", "4", "-o",
                 str(tmp_path / "c.png")]) == 0
    (fig,) = saved
    assert review(fig) == []


# ------------------------------------------------------------ the review finds faults
def test_review_finds_missing_labels_and_single_tick():
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, ax = plt.subplots()  # notebook 04's old saturation plot: one decade tick each
    x = np.geomspace(0.25, 4.0, 5)
    ax.plot(x, 1e-2 / (1 + x))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    probs = review(fig)
    assert any("x axis has no label" in p for p in probs)
    assert any("labelled tick" in p for p in probs)


def test_review_finds_hidden_line_and_curve_out_of_frame():
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 50)
    ax.plot(x, x, label="under")
    ax.plot(x, x + 1e-4, lw=3, label="over")
    ax.plot(x, 10 * x, label="steep")
    ax.set_ylim(0, 2)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    probs = review(fig)
    assert any("'under' is hidden under 'over'" in p for p in probs)
    assert any("'steep'" in p and "outside the frame" in p for p in probs)


def test_review_finds_legend_over_data():
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 200)
    for k in range(6):
        ax.plot(x, np.full_like(x, k / 5), label=f"level {k}")
    ax.legend(loc="center")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    assert any("legend covers" in p for p in review(fig))
