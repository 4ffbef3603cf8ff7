"""Smoke run of the report claim ``universality``: every check passes, figures are written,
every check has an explicit kind, and every planted violation is caught by the check it names."""

from __future__ import annotations

import json

import numpy as np

from verify.claims import load_all
from verify.claims.base import CHECK_KINDS, ClaimContext
from verify.claims.universality.checks import check_slope_fit, error_vs_K
from verify.claims.universality.claim import PLANTED_STEPS
from verify.claims.universality.memorization import largest_memorization_check, memorization_job
from verify.claims.universality.planted import flat_fit

PLANTED = {
    "understated constant caught": "error tracks the Lipschitz bound",
    "corrupted prompt row caught": "error tracks the Lipschitz bound",
    "band wider than stated caught": "whole cube: pointwise and L_p error, band included",
    "band wider than stated caught (wide decoder)": (
        "whole cube, wide decoder: pointwise and L_p error, band included"
    ),
    "band wider than stated caught (shallow decoder)": (
        "whole cube, shallow decoder: pointwise and L_p error, band included"
    ),
    **{
        f"wrong step in {name} caught ({what})": f"derivation: {name}"
        for name, _, _, what in PLANTED_STEPS
    },
    "corrupted memorization row caught": "memorization meets eps and the formulas",
    "missing memorization prompt row caught": "memorization meets eps and the formulas",
    "non-refining model caught": "error falls like 1/K",
    "corrupted largest dataset caught": "memorization, largest datasets",
    "extra FFN layer caught": "width-depth trade-off: shapes equal the formulas",
    "prompt of another target caught": "shallow model meets the bound off the band",
    "corrupted packed digit caught (exact backend)": (
        "largest cases: every grid digit of a random table"
    ),
    "overstated precision caught": "precision phase transition",
    "understated precision caught": (
        "precision law: bits needed between the lower bound and the prediction"
    ),
}


def test_universality_claim_smoke(tmp_path):
    claim = load_all()["universality"]
    assert claim.order == 30
    result = claim.run(ClaimContext(figure_dir=tmp_path, mode="smoke"))
    assert result.passed, [c.name for c in result.checks if not c.passed]
    kinds = {c.name: c.kind for c in result.checks}
    assert set(kinds.values()) <= set(CHECK_KINDS)
    planted = {c.name: c.details["caught_by"] for c in result.checks if c.kind == "planted"}
    assert planted == PLANTED and set(planted.values()) <= set(kinds)
    assert kinds["bound attained by the tight sawtooth"] == "attainment"
    # the attainment family reaches the bound but never sets the claim's worst ratio
    tight = next(c for c in result.checks if c.kind == "attainment")
    assert tight.worst_ratio > 1 - 1e-6
    assert result.worst_ratio == max(c.worst_ratio or 0 for c in result.evidence)
    for fig in result.figures:
        assert (tmp_path / fig.filename).stat().st_size > 10_000
    json.dumps(result.tables)  # tables are JSON-ready
    json.dumps([c.to_json() for c in result.checks])


def test_planted_corrupted_largest_dataset_is_caught():
    item = (64, 2, 1, 8, 2.0**-5, "float64", None)
    assert largest_memorization_check([memorization_job(item)]).passed
    broken = memorization_job((*item, True))
    assert broken["max_error"] > broken["bound"]
    assert not largest_memorization_check([broken]).passed


def test_planted_non_refining_fit_is_caught_by_the_slope_check():
    fit = error_vs_K(1, 1, [2, 4, 8], seed=0, targets=2, samples=16)
    assert all(o.holds for o in check_slope_fit(fit))
    flat = flat_fit(fit)
    observations = check_slope_fit(flat)
    assert not observations[0].holds  # the slope, not an error bound, catches it
    assert all(o.holds for o in observations[1:]) and np.ptp(flat.errors) == 0


def test_planted_overstated_precision_fails_the_claims_transition_predicate():
    from verify.claims.universality.scale.transition import (
        precision_job,
        precision_transition_holds,
    )

    point = precision_job((1, 2, 16, 16, "float64", None, None))  # 64 table bits: wrong
    assert not point["exact"] and precision_transition_holds([point], [], [])
    liar = {**point, "precision_bits": 80}  # claims enough bits
    assert not precision_transition_holds([liar], [], [])
