"""Accuracy of the exact MSE of the issue-13 formats against mpmath references
(``tests/reference/generate_formats.py``), and the ACIQ model where it has no meaning."""

import json
import pathlib

import numpy as np
import pytest
from scipy import stats

import qerror

REF = json.loads((pathlib.Path(__file__).parent / "reference" /
                  "formats_reference.json").read_text())["cases"]

#: closed-form families (normal, Laplace): every cell and tail in closed form
RTOL_CLOSED = 1e-12
#: Student t (quadrature family)
RTOL_GENERIC = 1e-9

LAWS = {"norm": stats.norm, "laplace": stats.laplace, "t5": lambda loc, scale:
        stats.t(5, loc, scale)}


def _id(c):
    return f"{c['law']}({c['loc']},{c['scale']})-{c['grid']}{c['bits']}-a{c['alpha']}"


@pytest.mark.parametrize("case", REF, ids=_id)
def test_format_mse_against_mpmath(case):
    law = LAWS[case["law"]](loc=case["loc"], scale=case["scale"])
    bits = case["bits"] if case["grid"] in ("int", "uint") else None
    t, r = qerror.error_parts(law, case["alpha"], bits, grid=case["grid"])
    rtol = RTOL_GENERIC if case["law"] == "t5" else RTOL_CLOSED
    want = float(case["mse"])
    assert abs((t + r) / want - 1) <= rtol, (t + r, want)
    assert abs(t - float(case["truncation"])) <= rtol * want
    assert abs(r - float(case["rounding"])) <= rtol * want


def test_reference_covers_every_new_format():
    grids = {c["grid"] for c in REF}
    assert grids == {"int", "uint", "fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2",
                     "fp4_e2m1", "nf4"}


@pytest.mark.parametrize("grid", ["fp8_e4m3", "fp8_e5m2", "fp4_e2m1", "nf4"])
def test_aciq_refused_for_nonuniform_formats(grid):
    for f in (lambda: qerror.mse(stats.norm(), 3.0, grid=grid, model="aciq"),
              lambda: qerror.optimal_alpha(stats.norm(), grid=grid, model="aciq"),
              lambda: qerror.optimal_alpha(np.arange(-5.0, 6.0), grid=grid,
                                           model="aciq")):
        with pytest.raises(ValueError, match="model='aciq' needs a uniform grid"):
            f()


def test_aciq_defined_for_int_on_its_own_range():
    # int: range [-2^(b-1) D, (2^(b-1)-1) D], D = 2 alpha/(2^b-1); ACIQ measures
    # clipping against those ends and adds D^2/12
    b, alpha = 4, 2.0
    D = 2 * alpha / 15
    lo, hi = -8 * D, 7 * D
    d = stats.norm()
    want = (d.expect(lambda x: (x - hi) ** 2, lb=hi) + d.expect(lambda x: (x - lo) ** 2,
                                                                  ub=lo) + D * D / 12)
    assert qerror.mse(d, alpha, b, grid="int", model="aciq") == pytest.approx(want,
                                                                              rel=1e-9)
    r = qerror.optimal_alpha(d, b, grid="int", model="aciq")
    f = [qerror.mse(d, r.alpha * (1 + e), b, grid="int", model="aciq")
         for e in (-1e-6, 0.0, 1e-6)]
    assert f[1] <= f[0] and f[1] <= f[2]
