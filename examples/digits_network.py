r"""A real network, end to end: post-training weight quantization of a digits MLP.

Trains a small pure-numpy multilayer perceptron (64-64-64-10, ReLU hidden layers,
softmax output, float64) on scikit-learn's bundled 8x8 handwritten digits (no
download), in three variants that mirror the supplement's Fig. 2A,

``baseline``
    free weight matrices :math:`W`;
``satnl``
    :math:`W = c\tanh(V/c)` with a fixed per-layer bound :math:`c` (a saturating
    nonlinearity on the weights, Section 4.2/5 of the paper): odd, bounded by
    :math:`c`, slope decreasing away from 0, slope 1 at 0;
``satnl_symreg``
    ``satnl`` plus a *simple stand-in* for symmetry regularization,
    :math:`\lambda\sum_\ell [\bar W_\ell^2/\operatorname{var} W_\ell +
    \operatorname{skew}(W_\ell)^2]` (not the paper's exact SymReg),

and two more for the rows of the supplement's Table 2A (:data:`TABLE2A_VARIANTS`,
used by ``examples/digits_table2a.py``): ``kure``, the kurtosis regulariser of
Shkolnik et al. (2020), :math:`\lambda_K \frac1L\sum_\ell
(\operatorname{Kurt} W_\ell - 1.8)^2` added to the loss of the baseline, and
``satnl_symreg_kure`` (``satnl_symreg`` plus the same term),

then quantizes every layer's weight matrix (biases stay float) at 2-8 bits on the
signed midtread grid (:func:`qerror.quantize` with ``grid="midtread"``) with five
choices of the quantizer:

``maxabs``
    :math:`\alpha = \max|W|`;
``aciq_gauss``, ``aciq_laplace``
    ACIQ's :math:`\alpha` (:func:`qerror.optimal_alpha`, ``model="aciq"``) for
    :math:`N(0, \operatorname{std} W)` and for :math:`\operatorname{Laplace}(0, b)`
    with :math:`b = \operatorname{mean}|W - \operatorname{median} W|`;
``exact``
    the certified global minimiser of the data MSE
    (:func:`qerror.data.optimal_alpha_data`, ``model="exact"``);
``lloyd_max``
    the non-uniform minimum-MSE quantizer with :math:`2^b` levels
    (:func:`qerror.nonuniform.lloyd_max` on the data; no :math:`\alpha`).

For every variant, bit-width and method it records the per-layer weight MSE, and for
the network with *all* layers quantized by that method: test accuracy, the mean
:math:`KL(p_\text{float}\,\|\,p_\text{quant})` of the softmax outputs, and a per-layer
output-activation KL in the style of the supplement's Fig. 1A (histograms of each
layer's pre-activations on the test set, 128 bins spanning the float net's range,
quantized-net values outside it counted in the end bins, :math:`\varepsilon = 10^{-10}`
added to each bin probability before renormalising).

All randomness comes from ``numpy.random.default_rng(seed)``.  The results go to a
JSON cache; ``--figures DIR`` also writes PNG figures.  The full run::

    python examples/digits_network.py --out examples/results/digits_network.json

``--quick`` (fewer epochs, bits 2, 4, 8) is what the test suite runs.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

import qerror

__all__ = ["METHODS", "VARIANTS", "TABLE2A_VARIANTS", "load_data", "init_params",
           "train", "forward", "effective_weights", "symreg_penalty", "kure_penalty",
           "quantize_weights", "histogram_kl", "softmax_kl", "evaluate", "run",
           "write_figures", "main"]

#: quantizer choices, in the order of every table and figure
METHODS = ("maxabs", "aciq_gauss", "aciq_laplace", "exact", "lloyd_max")
#: training variants (Fig. 2A: Baseline / SatNL / SatNL+SymReg)
VARIANTS = ("baseline", "satnl", "satnl_symreg")
#: the four rows of Table 2A: baseline, ours (SatNL + symmetry), KURE, ours + KURE
TABLE2A_VARIANTS = ("baseline", "satnl_symreg", "kure", "satnl_symreg_kure")
#: every variant :func:`train` accepts
ALL_VARIANTS = VARIANTS + ("kure", "satnl_symreg_kure")
#: KURE (Shkolnik et al. 2020): target kurtosis and weight of the penalty
KURE_TARGET, KURE_LAMBDA = 1.8, 1.0
#: layer widths: 64 inputs (8x8 pixels), two hidden layers of 64, 10 classes
SIZES = (64, 64, 64, 10)
#: SatNL bound in units of the He-normal init std of the layer, c = C_FACTOR * init std
C_FACTOR = 2.0
#: weight of the symmetry penalty (satnl_symreg)
SYMREG_LAMBDA = 0.1
#: Adam step size and moment decay rates
LR, BETA1, BETA2, ADAM_EPS = 5e-3, 0.9, 0.999, 1e-8
#: full-run and quick-run settings
EPOCHS_FULL, EPOCHS_QUICK = 400, 150
BITS_FULL, BITS_QUICK = (2, 3, 4, 5, 6, 7, 8), (2, 4, 8)
#: Fig. 1A-style activation KL: bins over the float range, epsilon per bin
KL_BINS, KL_EPS = 128, 1e-10
#: bins of the stored weight histograms (Fig. 2A)
HIST_BINS = 60
#: fraction of the 1797 digits held out for testing
TEST_FRACTION = 0.3
#: significant digits kept in the JSON cache
SIG_DIGITS = 10


# ------------------------------------------------------------------------------ data
def load_data(seed: int = 0):
    """Digits scaled to [0, 1] with a fixed train/test split.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng`` that draws the split.

    Returns
    -------
    dict
        ``x_train``, ``y_train``, ``x_test``, ``y_test`` (features in [0, 1], float64;
        labels int).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(TEST_FRACTION * len(x)))
    test, tr = perm[:n_test], perm[n_test:]
    return {"x_train": x[tr], "y_train": y[tr], "x_test": x[test], "y_test": y[test]}


# ----------------------------------------------------------------------------- model
def init_params(seed: int = 0):
    """He-normal weights and zero biases for the 64-64-64-10 MLP.

    Parameters
    ----------
    seed : int
        Seed of the generator (a stream separate from the split's).

    Returns
    -------
    list of (ndarray, ndarray)
        ``(V, bias)`` per layer; ``V`` has shape ``(fan_in, fan_out)``.  For the
        baseline ``V`` is the weight matrix, for SatNL it is the raw parameter.
    """
    rng = np.random.default_rng([seed, 1])
    return [(rng.normal(0.0, math.sqrt(2.0 / m), (m, n)), np.zeros(n))
            for m, n in zip(SIZES[:-1], SIZES[1:], strict=True)]


def satnl_bounds():
    """Per-layer SatNL bound c = C_FACTOR times the layer's He-normal init std."""
    return [C_FACTOR * math.sqrt(2.0 / m) for m in SIZES[:-1]]


def effective_weights(raw, variant: str):
    """Weight matrices the network uses: ``V`` (baseline) or ``c tanh(V/c)``.

    Parameters
    ----------
    raw : list of ndarray
        The trained parameters ``V`` of each layer.
    variant : str
        One of :data:`VARIANTS`.

    Returns
    -------
    list of ndarray
    """
    if not variant.startswith("satnl"):
        return [v.copy() for v in raw]
    return [c * np.tanh(v / c) for v, c in zip(raw, satnl_bounds(), strict=True)]


def forward(weights, biases, x):
    """Forward pass.

    Parameters
    ----------
    weights, biases : list of ndarray
        Per layer.
    x : ndarray, shape (n, 64)

    Returns
    -------
    list of ndarray
        The pre-activations ``z_l = h_{l-1} W_l + b_l`` of every layer; the last one
        holds the logits.
    """
    zs = []
    h = x
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = h @ w + b
        zs.append(z)
        if i < len(weights) - 1:
            h = np.maximum(z, 0.0)
    return zs


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def symreg_penalty(w):
    r"""Stand-in symmetry penalty of one layer and its gradient.

    .. math::

        P(W) = \frac{\bar W^2}{\operatorname{var} W} + \operatorname{skew}(W)^2,
        \qquad \operatorname{skew} W = \frac{\operatorname{mean}((W-\bar W)^3)}
        {(\operatorname{var} W)^{3/2}},

    with population moments over all elements.  It is zero for any weight set that
    is symmetric about 0 (mean and third central moment zero).  This is a simple
    stand-in, not the paper's SymReg.

    Parameters
    ----------
    w : ndarray

    Returns
    -------
    (float, ndarray)
        The penalty and its gradient with respect to `w`.
    """
    n = w.size
    m = w.mean()
    d = w - m
    v = np.mean(d * d)
    mu3 = np.mean(d**3)
    s = mu3 / v**1.5
    value = m * m / v + s * s
    g_mean = 2.0 * m / (n * v) - (m * m / (v * v)) * 2.0 * d / n
    g_skew = 2.0 * s * (3.0 * (d * d - v) - 3.0 * s * math.sqrt(v) * d) / (n * v**1.5)
    return float(value), g_mean + g_skew


def kure_penalty(w, target: float = KURE_TARGET):
    r"""KURE's kurtosis penalty of one layer and its gradient (Shkolnik et al. 2020).

    .. math::

        P(W) = \bigl(\operatorname{Kurt} W - K_T\bigr)^2, \qquad
        \operatorname{Kurt} W = \frac{\operatorname{mean}((W-\bar W)^4)}
        {\operatorname{var}(W)^2},

    with population moments over all elements and :math:`K_T` = `target` (1.8, the
    kurtosis of a uniform law, as in the paper).

    Parameters
    ----------
    w : ndarray
    target : float

    Returns
    -------
    (float, ndarray)
        The penalty and its gradient with respect to `w`.
    """
    n = w.size
    d = w - w.mean()
    v = np.mean(d * d)
    m3 = np.mean(d**3)
    m4 = np.mean(d**4)
    k = m4 / (v * v)
    dk = (4.0 / n) * ((d**3 - m3) / (v * v) - m4 * d / v**3)
    return float((k - target) ** 2), 2.0 * (k - target) * dk


def train(data, variant: str, *, epochs: int = EPOCHS_FULL, seed: int = 0):
    """Train one variant with full-batch Adam on the softmax cross-entropy.

    Parameters
    ----------
    data : dict
        From :func:`load_data`.
    variant : str
        One of :data:`ALL_VARIANTS`.
    epochs : int
        Full-batch Adam steps.
    seed : int
        Seed of the initialisation (the same initial ``V`` for every variant).

    Returns
    -------
    dict
        ``raw`` (trained ``V``), ``weights`` (effective ``W``), ``biases``,
        ``loss`` (final cross-entropy) and ``penalty`` (final symmetry penalty, 0
        unless ``satnl_symreg``).
    """
    if variant not in ALL_VARIANTS:
        raise ValueError(f"variant must be one of {ALL_VARIANTS}, got {variant!r}")
    params = init_params(seed)
    raw = [v for v, _ in params]
    biases = [b for _, b in params]
    flat = raw + biases
    m1 = [np.zeros_like(p) for p in flat]
    m2 = [np.zeros_like(p) for p in flat]
    x, y = data["x_train"], data["y_train"]
    onehot = np.eye(SIZES[-1])[y]
    cs = satnl_bounds()
    nl = len(raw)
    loss = pen = 0.0
    for t in range(1, epochs + 1):
        weights = effective_weights(raw, variant)
        # forward, keeping the hidden activations
        hs = [x]
        for i in range(nl - 1):
            hs.append(np.maximum(hs[-1] @ weights[i] + biases[i], 0.0))
        logits = hs[-1] @ weights[-1] + biases[-1]
        logp = _log_softmax(logits)
        loss = float(-np.mean(np.sum(onehot * logp, axis=1)))
        # backward
        gz = (np.exp(logp) - onehot) / len(x)
        g_w = [None] * nl
        g_b = [None] * nl
        for i in range(nl - 1, -1, -1):
            g_w[i] = hs[i].T @ gz
            g_b[i] = gz.sum(axis=0)
            if i > 0:
                gz = (gz @ weights[i].T) * (hs[i] > 0)
        pen = 0.0
        if variant.startswith("satnl_symreg"):
            for i in range(nl):
                p, gp = symreg_penalty(weights[i])
                pen += p
                g_w[i] = g_w[i] + SYMREG_LAMBDA * gp
        if variant.endswith("kure"):  # KURE: lambda/L sum_l (Kurt W_l - 1.8)^2
            for i in range(nl):
                p, gp = kure_penalty(weights[i])
                pen += KURE_LAMBDA * p / nl
                g_w[i] = g_w[i] + (KURE_LAMBDA / nl) * gp
        if variant.startswith("satnl"):  # chain rule through W = c tanh(V/c)
            g_w = [g * (1.0 - np.tanh(v / c) ** 2)
                   for g, v, c in zip(g_w, raw, cs, strict=True)]
        grads = g_w + g_b
        for k, (p, g) in enumerate(zip(flat, grads, strict=True)):
            m1[k] = BETA1 * m1[k] + (1 - BETA1) * g
            m2[k] = BETA2 * m2[k] + (1 - BETA2) * g * g
            step = LR * (m1[k] / (1 - BETA1**t)) / (np.sqrt(m2[k] / (1 - BETA2**t))
                                                    + ADAM_EPS)
            p -= step  # in place: flat shares its arrays with raw and biases
    return {"raw": raw, "weights": effective_weights(raw, variant), "biases": biases,
            "loss": loss, "penalty": pen}


# ------------------------------------------------------------------------ quantizers
def quantize_weights(w, bits: int, method: str):
    """Quantize one weight matrix with one of :data:`METHODS` using qerror.

    Parameters
    ----------
    w : ndarray
        The weights (float64).
    bits : int
        Bit-width, 2 to 8.
    method : str
        One of :data:`METHODS`.

    Returns
    -------
    (ndarray, dict)
        The quantized weights, and ``alpha`` (None for ``lloyd_max``), ``mse``
        (``mean((w - Q(w))**2)``, recomputed here), ``qerror_mse`` (the error qerror
        reports, exact and Lloyd-Max only, else None), ``n_distinct`` (distinct values
        of ``Q(w)``) and, for ``lloyd_max``, ``is_global`` (qerror's certificate).
    """
    from scipy import stats

    w = np.asarray(w, dtype=np.float64)
    info = {"alpha": None, "qerror_mse": None}
    if method == "lloyd_max":
        r = qerror.nonuniform.lloyd_max(w, bits)
        q = r.levels[np.searchsorted(r.thresholds, w, side="right")]
        info.update(qerror_mse=float(r.mse), is_global=bool(r.is_global))
    else:
        if method == "maxabs":
            alpha = float(np.max(np.abs(w)))
        elif method == "aciq_gauss":
            alpha = qerror.optimal_alpha(stats.norm(0.0, float(w.std())), bits,
                                         model="aciq", grid="midtread").alpha
        elif method == "aciq_laplace":
            b = float(np.mean(np.abs(w - np.median(w))))
            alpha = qerror.optimal_alpha(stats.laplace(0.0, b), bits, model="aciq",
                                         grid="midtread").alpha
        elif method == "exact":
            r = qerror.data.optimal_alpha_data(w, bits, model="exact", grid="midtread")
            alpha = r.alpha
            info["qerror_mse"] = float(r.mse)
        else:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        alpha = float(alpha)
        q = qerror.quantize(w, alpha, bits, grid="midtread")
        info["alpha"] = alpha
    info["mse"] = float(np.mean((w - q) ** 2))
    info["n_distinct"] = int(np.unique(q).size)
    return q, info


# --------------------------------------------------------------------------- metrics
def histogram_kl(z_float, z_quant, bins: int = KL_BINS, eps: float = KL_EPS) -> float:
    """KL divergence between the histograms of float and quantized activations.

    Both histograms use the same `bins` equal-width bins over the range of
    `z_float`; values of `z_quant` outside it are counted in the end bins.  `eps` is
    added to every bin probability before renormalising.

    Parameters
    ----------
    z_float, z_quant : ndarray
        Activations of the float and the quantized network (pooled over units).
    bins : int
    eps : float

    Returns
    -------
    float
        :math:`\\sum_i p_i \\log(p_i/q_i)`, natural log, >= 0.
    """
    zf = np.ravel(z_float)
    lo, hi = float(zf.min()), float(zf.max())
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    p = np.histogram(zf, edges)[0].astype(np.float64)
    q = np.histogram(np.clip(np.ravel(z_quant), lo, hi), edges)[0].astype(np.float64)
    p = p / p.sum() + eps
    q = q / q.sum() + eps
    p /= p.sum()
    q /= q.sum()
    return float(max(np.sum(p * np.log(p / q)), 0.0))


def softmax_kl(logits_float, logits_quant) -> float:
    """Mean over samples of KL(softmax(float) || softmax(quant)), natural log."""
    lp = _log_softmax(logits_float)
    lq = _log_softmax(logits_quant)
    kl = np.sum(np.exp(lp) * (lp - lq), axis=1)
    return float(max(np.mean(kl), 0.0))


def evaluate(weights, biases, x, y, float_zs=None):
    """Accuracy of a network, and its KL divergences from the float network.

    Parameters
    ----------
    weights, biases : list of ndarray
    x, y : ndarray
        Test features and labels.
    float_zs : list of ndarray, optional
        Pre-activations of the float network on `x` (from :func:`forward`).

    Returns
    -------
    dict
        ``accuracy``; with `float_zs` also ``kl_output`` (mean softmax KL) and
        ``kl_layers`` (per-layer histogram KL).
    """
    zs = forward(weights, biases, x)
    out = {"accuracy": float(np.mean(zs[-1].argmax(axis=1) == y))}
    if float_zs is not None:
        out["kl_output"] = softmax_kl(float_zs[-1], zs[-1])
        out["kl_layers"] = [histogram_kl(zf, zq)
                            for zf, zq in zip(float_zs, zs, strict=True)]
    return out


def _moments(w):
    d = w - w.mean()
    v = float(np.mean(d * d))
    return {"mean": float(w.mean()), "std": math.sqrt(v),
            "skew": float(np.mean(d**3) / v**1.5), "kurtosis": float(np.mean(d**4) / v**2),
            "maxabs_over_std": float(np.max(np.abs(w)) / math.sqrt(v))}


def _hist(w):
    counts, edges = np.histogram(np.ravel(w), HIST_BINS)
    return {"counts": counts.tolist(), "edges": edges.tolist()}


# ------------------------------------------------------------------------------- run
def run(*, seed: int = 0, epochs: int = EPOCHS_FULL, bits=BITS_FULL,
        variants=VARIANTS, methods=METHODS):
    """Train, quantize and evaluate; return the JSON-ready results.

    Parameters
    ----------
    seed : int
    epochs : int
    bits : sequence of int
        Bit-widths, each 2 to 8.
    variants, methods : sequence of str
        Subsets of :data:`VARIANTS` and :data:`METHODS`.

    Returns
    -------
    dict
        ``metadata``, ``float`` (per variant: test/train accuracy, final loss and
        penalty), ``weights`` (per variant and layer: histograms of ``W`` and, for the
        SatNL variants, of the raw ``V`` before ``tanh``, plus moments) and
        ``results[variant][method][str(bits)]`` with ``layers`` (per layer ``alpha``,
        ``mse``, ``qerror_mse``, ``n_distinct``, ...), ``accuracy``, ``kl_output`` and
        ``kl_layers``.
    """
    with _one_blas_thread():
        return _run(seed=seed, epochs=epochs, bits=bits, variants=variants,
                    methods=methods)


def _one_blas_thread():
    """Limit BLAS to one thread: the matrices are small, and a multithreaded BLAS on a
    loaded machine is many times slower (and may round differently)."""
    try:
        from threadpoolctl import threadpool_limits  # a scikit-learn dependency
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _run(*, seed, epochs, bits, variants, methods):
    import scipy
    import sklearn

    bits = _check_bits(bits)
    for name, given, allowed in (("variants", variants, VARIANTS),
                                 ("methods", methods, METHODS)):
        bad = [g for g in given if g not in allowed]
        if bad or not given:
            raise ValueError(f"{name} must be a non-empty subset of {allowed}, "
                             f"got {list(given)}")
    data = load_data(seed)
    res = {
        "metadata": {
            "seed": seed, "epochs": epochs, "bits": list(bits),
            "variants": list(variants), "methods": list(methods),
            "layer_shapes": [[m, n] for m, n in zip(SIZES[:-1], SIZES[1:], strict=True)],
            "n_train": int(len(data["y_train"])), "n_test": int(len(data["y_test"])),
            "grid": "midtread", "optimizer": "full-batch Adam",
            "lr": LR, "satnl_c": satnl_bounds(), "satnl_c_factor": C_FACTOR,
            "symreg_lambda": SYMREG_LAMBDA, "kl_bins": KL_BINS, "kl_eps": KL_EPS,
            "hist_bins": HIST_BINS,
            "numpy_version": np.__version__, "scipy_version": scipy.__version__,
            "sklearn_version": sklearn.__version__, "qerror_version": qerror.__version__,
            "python_version": platform.python_version(),
        },
        "float": {}, "weights": {}, "results": {},
    }
    xt, yt = data["x_test"], data["y_test"]
    for variant in variants:
        net = train(data, variant, epochs=epochs, seed=seed)
        ws, bs = net["weights"], net["biases"]
        float_zs = forward(ws, bs, xt)
        res["float"][variant] = {
            "test_accuracy": evaluate(ws, bs, xt, yt)["accuracy"],
            "train_accuracy": evaluate(ws, bs, data["x_train"],
                                       data["y_train"])["accuracy"],
            "loss": net["loss"], "penalty": net["penalty"]}
        res["weights"][variant] = [
            {"W": _hist(w), "V": None if variant == "baseline" else _hist(v),
             "moments": _moments(w)} for w, v in zip(ws, net["raw"], strict=True)]
        per_method = {}
        for method in methods:
            per_bits = {}
            for b in bits:
                qs, infos = [], []
                for w in ws:
                    q, info = quantize_weights(w, b, method)
                    qs.append(q)
                    infos.append(info)
                ev = evaluate(qs, bs, xt, yt, float_zs)
                per_bits[str(b)] = {"layers": infos, **ev}
            per_method[method] = per_bits
        res["results"][variant] = per_method
    return _round(res)


def _check_bits(bits):
    out = []
    for b in bits:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 2 <= b <= 8:
            raise ValueError(f"bits must be integers from 2 to 8, got {b!r}")
        out.append(int(b))
    if not out:
        raise ValueError("bits must not be empty")
    return tuple(out)


def _round(obj):
    if isinstance(obj, float):
        return float(f"{obj:.{SIG_DIGITS}g}") if math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- figures
def write_figures(res, out_dir, *, hist_layer: int = 1):
    """Write the PNG figures of a results dict.

    Parameters
    ----------
    res : dict
        From :func:`run` (or the JSON cache).
    out_dir : path-like
        Created if needed.
    hist_layer : int
        0-based layer shown in the Fig. 2A-style histograms.

    Returns
    -------
    list of Path
        The files written: ``fig1a_layer_kl.png``, ``fig2a_weight_histograms.png``,
        ``accuracy_vs_bits.png``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = res["metadata"]
    variants, methods = meta["variants"], meta["methods"]
    nl = len(meta["layer_shapes"])
    paths = []

    def save(fig, name):
        fig.tight_layout()
        paths.append(out_dir / name)
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)

    show_bits = [b for b in (8, 4) if b in meta["bits"]]
    if show_bits:
        fig, axes = plt.subplots(len(show_bits), len(methods), squeeze=False,
                                 figsize=(3.2 * len(methods), 2.8 * len(show_bits)),
                                 sharey="row")
        width = 0.8 / len(variants)
        for r, b in enumerate(show_bits):
            for c, method in enumerate(methods):
                ax = axes[r, c]
                for k, variant in enumerate(variants):
                    kl = res["results"][variant][method][str(b)]["kl_layers"]
                    ax.bar(np.arange(nl) + (k - (len(variants) - 1) / 2) * width, kl,
                           width, label=variant)
                ax.set_xticks(range(nl), [f"L{i + 1}" for i in range(nl)])
                ax.set_title(f"{method}, {b} bits", fontsize=9)
                ax.set_yscale("log")
            axes[r, 0].set_ylabel("KL(float || quant)")
        axes[0, 0].legend(fontsize=7)
        fig.suptitle("Per-layer output-activation KL (Fig. 1A style)")
        save(fig, "fig1a_layer_kl.png")

    fig, axes = plt.subplots(1, len(variants), figsize=(4 * len(variants), 3),
                             squeeze=False)
    for k, variant in enumerate(variants):
        ax = axes[0, k]
        lay = res["weights"][variant][hist_layer]
        for key, style in (("V", {"histtype": "step", "color": "0.5",
                                  "label": "V (before tanh)"}),
                           ("W", {"alpha": 0.7, "label": "W"})):
            h = lay[key]
            if h is None:
                continue
            e = np.asarray(h["edges"])
            ax.hist(e[:-1], e, weights=h["counts"], density=True, **style)
        if variant != "baseline":
            cval = meta["satnl_c"][hist_layer]
            for s in (-1, 1):
                ax.axvline(s * cval, color="k", ls=":", lw=1)
        ax.set_title(f"{variant}, layer {hist_layer + 1}", fontsize=9)
        ax.set_xlabel("weight")
        if k == 0:
            ax.set_ylabel("density")
        ax.legend(fontsize=7)
    fig.suptitle("Weight histograms (Fig. 2A style)")
    save(fig, "fig2a_weight_histograms.png")

    fig, axes = plt.subplots(1, len(variants), figsize=(4 * len(variants), 3),
                             squeeze=False, sharey=True)
    for k, variant in enumerate(variants):
        ax = axes[0, k]
        for method in methods:
            acc = [res["results"][variant][method][str(b)]["accuracy"]
                   for b in meta["bits"]]
            ax.plot(meta["bits"], acc, marker="o", label=method)
        ax.axhline(res["float"][variant]["test_accuracy"], color="k", ls="--", lw=1,
                   label="float")
        ax.set_xlabel("bits")
        ax.set_title(variant, fontsize=9)
    axes[0, 0].set_ylabel("test accuracy")
    axes[0, 0].legend(fontsize=7)
    save(fig, "accuracy_vs_bits.png")
    return paths


# ------------------------------------------------------------------------------ main
def _parser():
    p = argparse.ArgumentParser(
        description="Train a digits MLP (baseline, SatNL, SatNL+SymReg), quantize its "
                    "weights with qerror at 2-8 bits and cache the results as JSON.")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"
                                        / "digits_network.json"),
                   help="JSON cache to write (default: examples/results/"
                        "digits_network.json)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"Adam steps (default {EPOCHS_FULL}, {EPOCHS_QUICK} with --quick)")
    p.add_argument("--quick", action="store_true",
                   help=f"fewer epochs and bits {BITS_QUICK} (for tests)")
    p.add_argument("--bits", type=int, nargs="+", default=None, metavar="B",
                   help=f"bit-widths, 2 to 8 (default {list(BITS_FULL)}, "
                        f"{list(BITS_QUICK)} with --quick)")
    p.add_argument("--figures", default=None, metavar="DIR",
                   help="also write PNG figures to DIR")
    return p


def main(argv=None):
    """Command-line entry point; returns the results dict.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    dict
        The results written to ``--out``.

    Raises
    ------
    ValueError
        If ``--seed`` is negative, ``--epochs`` is not positive, a ``--bits`` value is
        outside 2-8 or ``--out`` does not end in ``.json``.
    """
    args = _parser().parse_args(argv)
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    epochs = args.epochs if args.epochs is not None else (
        EPOCHS_QUICK if args.quick else EPOCHS_FULL)
    if epochs < 1:
        raise ValueError(f"--epochs must be a positive integer, got {epochs}")
    out = Path(args.out)
    if out.suffix != ".json":
        raise ValueError(f"--out must be a .json file, got {str(out)!r}")
    bits = args.bits if args.bits is not None else (
        BITS_QUICK if args.quick else BITS_FULL)
    bits = _check_bits(bits)
    t0 = time.perf_counter()
    res = run(seed=args.seed, epochs=epochs, bits=bits)
    res["metadata"]["quick"] = bool(args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - t0
    print(f"wrote {out} in {elapsed:.1f} s", file=sys.stderr)
    for v, f in res["float"].items():
        print(f"  {v:>13}: float test accuracy {f['test_accuracy']:.4f}", file=sys.stderr)
    if args.figures is not None:
        for path in write_figures(res, args.figures):
            print(f"  figure {path}", file=sys.stderr)
    return res


if __name__ == "__main__":
    main()
