"""Optimal alpha against the 40-digit mpmath references of
``tests/reference/generate_optimal.py`` (regenerate with
``python tests/reference/generate_optimal.py``; about 8 minutes).
"""

import json
import pathlib

import numpy as np
import pytest
from scipy import stats

import qerror

REF = json.loads((pathlib.Path(__file__).parent / "reference" /
                  "optimal_reference.json").read_text())
LAWS = {"normal": stats.norm(), "laplace": stats.laplace()}

#: ACIQ model: the stationarity root is solved to 4 eps by Brent's method
RTOL_ACIQ_ALPHA = 2e-15
RTOL_ACIQ_MSE = 2e-15
#: exact model: Newton on a 5-point derivative; the issue asks for 1e-9 in alpha
RTOL_EXACT_ALPHA = 1e-9
RTOL_EXACT_MSE = 1e-14


def _law(rec):
    law = LAWS[rec["dist"]]
    return law if rec["d"] is None else qerror.clamp(law, float(rec["d"]))


def _ids(recs):
    return [f"{r['section']}-{r['model']}-{r['dist']}-{r['grid']}-b{r['bits']}-d{r['d']}"
            for r in recs]


ACIQ = [r for r in REF["records"] if r["model"] == "aciq"]
EXACT = [r for r in REF["records"] if r["model"] == "exact"]


@pytest.mark.parametrize("rec", ACIQ, ids=_ids(ACIQ))
def test_aciq_optimum(rec):
    r = qerror.optimal_alpha(_law(rec), rec["bits"], model="aciq", grid=rec["grid"])
    assert r.success
    assert r.alpha == pytest.approx(float(rec["alpha"]), rel=RTOL_ACIQ_ALPHA)
    assert r.mse == pytest.approx(float(rec["mse"]), rel=RTOL_ACIQ_MSE)


@pytest.mark.parametrize("rec", EXACT, ids=_ids(EXACT))
def test_exact_optimum_is_global(rec):
    r = qerror.optimal_alpha(_law(rec), rec["bits"], model="exact", grid=rec["grid"])
    assert r.success, r.message
    assert r.alpha == pytest.approx(float(rec["alpha"]), rel=RTOL_EXACT_ALPHA)
    assert r.mse == pytest.approx(float(rec["mse"]), rel=RTOL_EXACT_MSE)
    assert r.truncation == pytest.approx(float(rec["truncation"]), rel=1e-9,
                                         abs=1e-12 * r.mse)


MAX_ROWS = [row for row in REF["max_table"]["rows"]
            if row["N"] in (2, 4, 8, 16, 32, 3, 7, 15, 31)]


@pytest.mark.parametrize("row", MAX_ROWS, ids=[f"N{r['N']}" for r in MAX_ROWS])
def test_max_table_high_precision(row):
    n = row["N"]
    if n % 2 == 0:
        r = qerror.optimal_alpha(stats.norm(), int(np.log2(n)))
        step = 2 * r.alpha / n
    else:
        r = qerror.optimal_alpha(stats.norm(), int(np.log2(n + 1)), grid="midtread")
        step = r.alpha / ((n - 1) // 2)
    assert step == pytest.approx(float(row["step"]), rel=RTOL_EXACT_ALPHA)
    assert r.mse == pytest.approx(float(row["mse"]), rel=RTOL_EXACT_MSE)
    # the 4-digit values a printed table shows
    assert float(f"{step:.4g}") == float(row["step_4_decimals"])
