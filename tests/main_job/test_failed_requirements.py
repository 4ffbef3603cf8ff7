"""A check's own requirement failing (a reported bound that disagrees with its sympy formula) is a
falsification with its numbers (exit 1), never a crash (exit 3): inside a property and outside."""

from __future__ import annotations

import json

import pytest
from hypothesis import strategies as st

import verify.__main__
import verify.claims.efficiency.checks as checks
from verify.claims.base import REGISTRY, ClaimContext, ClaimResult, register
from verify.claims.efficiency.report_checks import tight_family_check
from verify.claims.efficiency.strategies import fast_attention_cases
from verify.claims.properties import Observation, run_property
from verify.run.runner import EXIT_FALSIFIED


@pytest.fixture
def mismatched_sympy_bounds(monkeypatch):
    """PLANT: the sympy column bounds one part in a million off the reported ones."""
    original = checks.sympy_column_bounds

    def shifted(*args, **kwargs):
        approx, rounding = original(*args, **kwargs)
        return approx * (1 + 1e-6), rounding * (1 + 1e-6)

    monkeypatch.setattr(checks, "sympy_column_bounds", shifted)


def test_a_property_whose_check_asserts_reports_the_message_and_counts_cases_once():
    def check(x: int) -> Observation:
        if x >= 7:
            raise AssertionError(f"reported bound {x} != sympy bound 6")
        return Observation(float(x), 10.0)

    out = run_property("demo", st.integers(0, 20), check, max_examples=200)
    assert not out.passed and "reported bound" in out.counterexample
    assert "!= sympy bound 6" in out.counterexample
    assert out.cases == len(out.ratios) and out.ratios[-1] == float("inf")  # shrinking not counted


def test_planted_mismatch_in_a_property_is_falsified_with_its_numbers(mismatched_sympy_bounds):
    out = run_property(
        "fast_attention_error", fast_attention_cases(), checks.check_fast_attention, max_examples=5
    )
    assert not out.passed
    assert "reported column bounds" in out.counterexample and "sympy bounds" in out.counterexample


def _tight_family_claim(ctx: ClaimContext) -> ClaimResult:
    return ClaimResult("tight", "t", "s", checks=[tight_family_check()])


def test_planted_mismatch_outside_a_property_makes_the_claim_falsified_exit_1(
    mismatched_sympy_bounds, tmp_path, capsys
):
    register("tight", "the tight family, called outside any property", order=998)(
        _tight_family_claim
    )
    try:
        out = tmp_path / "rep"
        code = verify.__main__.main(["--only", "tight", "--executor", "serial", "--out", str(out)])
    finally:
        REGISTRY.pop("tight", None)
    assert code == EXIT_FALSIFIED
    entry = json.loads((out / "results.json").read_text())["claims"]["tight"]
    assert entry["status"] == "falsified" and entry["error"] is None
    (check,) = entry["checks"]
    assert not check["passed"] and "reported column bounds [" in check["counterexample"]
    assert "FALSIFIED tight" in capsys.readouterr().out


def test_without_the_plant_the_tight_family_check_holds():
    assert tight_family_check().passed
