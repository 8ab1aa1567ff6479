"""The error engine against the 34-digit mpmath references of
``tests/reference/generate_core.py`` (mpmath only; it does not import qerror).

Tolerances are the level the code reaches (see the module constants), measured on the
whole reference set: closed-form families and their clamped laws to 5e-12 relative in
every bit-width 1-32 and alpha from 1e-6 to 25 scale units; the generic quadrature path
to 1e-9.  The truncation and rounding parts are checked relative to the total (a part
can be 1e-200 of it, e.g. truncation at 25 sigma), and relative to themselves where
they carry more than 1e-3 of it.
"""

import json
import pathlib

import pytest
from scipy import stats

import qerror

REF = json.loads((pathlib.Path(__file__).parent / "reference" /
                  "core_reference.json").read_text())
RECORDS = REF["records"]
CLOSED = {"norm", "laplace", "uniform"}

RTOL_CLOSED = 5e-12
RTOL_GENERIC = 1e-9


def _dist(rec):
    law = getattr(stats, rec["family"])(*rec["shapes"], loc=rec["loc"], scale=rec["scale"])
    return law if rec["d"] is None else qerror.clamp(law, rec["d"])


def _id(rec):
    return (f"{rec['family']}{rec['shapes'] or ''}-loc{rec['loc']}-s{rec['scale']}-"
            f"d{rec['d']}-{rec['model']}-{rec['grid']}-b{rec['bits']}-a{rec['alpha']:.3g}")


def _groups():
    """One test per (law, model, grid): the records are checked in one vectorised call."""
    groups = {}
    for rec in RECORDS:
        key = (rec["family"], tuple(rec["shapes"]), rec["loc"], rec["scale"], rec["d"],
               rec["model"], rec["grid"])
        groups.setdefault(key, []).append(rec)
    return groups


GROUPS = _groups()


def test_reference_covers_the_contract():
    fams = {r["family"] for r in RECORDS}
    assert CLOSED <= fams and {"t", "logistic", "gennorm"} <= fams
    closed = [r for r in RECORDS if r["family"] in CLOSED]
    assert {r["bits"] for r in closed} >= {1, 2, 8, 16, 32}
    assert min(r["alpha"] / r["scale"] for r in closed) <= 1e-6
    assert max(r["alpha"] / r["scale"] for r in closed) >= 25
    assert {r["grid"] for r in closed} >= {"midrise", "midtread"}
    assert any(r["d"] is not None and r["family"] == "norm" for r in RECORDS)
    assert any(r["d"] is not None and r["family"] == "laplace" for r in RECORDS)


@pytest.mark.parametrize("key", sorted(GROUPS, key=str), ids=lambda k: "-".join(map(str, k)))
def test_against_mpmath(key):
    recs = GROUPS[key]
    family, _, _, _, _, model, grid = key
    rtol = RTOL_CLOSED if family in CLOSED else RTOL_GENERIC
    dist = _dist(recs[0])
    worst = 0.0
    for rec in recs:
        t, r = qerror.error_parts(dist, rec["alpha"], rec["bits"], model=model, grid=grid)
        mse, tr, rd = float(rec["mse"]), float(rec["truncation"]), float(rec["rounding"])
        err = abs((t + r) / mse - 1)
        worst = max(worst, err)
        assert err <= rtol, (_id(rec), t + r, mse)
        for got, want in ((t, tr), (r, rd)):
            assert abs(got - want) <= rtol * mse, (_id(rec), got, want)
            if want > 1e-3 * mse:
                assert abs(got / want - 1) <= 10 * rtol, (_id(rec), got, want)
