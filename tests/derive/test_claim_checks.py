"""Derivations as report checks (verify/claims/derivations.py) and their rendering in index.md."""

from __future__ import annotations

import sympy as sp

from verify.claims.derivations import derivation_check, derivation_checks, planted_wrong_step
from verify.derive import Derivation, derivation, register, registry
from verify.report.markdown import _checks


def test_every_derivation_of_a_claim_is_an_exact_check() -> None:
    checks = derivation_checks("efficiency")
    assert {c.name for c in checks} >= {
        "derivation: efficiency.output_error_sharp",
        "derivation: efficiency.rank",
        "derivation: efficiency.rounding_count",
    }
    assert all(c.kind == "exact" and c.passed and c.worst_ratio is None for c in checks)
    sharp = derivation_check("efficiency.output_error_sharp")
    kinds = {p["kind"] for p in sharp.details["derivation"]["premises"]}
    assert kinds == {"definition", "hypothesis", "lemma"}
    assert [s["rule"] for s in sharp.details["derivation"]["steps"]] == [
        "start",
        "bound",
        "bound",
        "equal",
        "maximize",
        "equal",
    ]


def test_a_derivation_that_does_not_check_is_a_failed_check() -> None:
    x = sp.Symbol("x", positive=True)

    def broken() -> Derivation:
        return Derivation("demo.wrong", claim="demo", goal="g", quantity=x).start(x).equal(x + 1)

    register("demo.wrong", "a wrong step")(broken)
    try:
        check = derivation_check("demo.wrong")
        assert not check.passed and check.kind == "exact"
        assert check.counterexample is not None and "step 2 (equal)" in check.counterexample
    finally:
        registry._BUILDERS.pop("demo.wrong")
        registry._SUMMARIES.pop("demo.wrong")
        derivation.cache_clear()


def test_planted_wrong_step_is_caught_and_a_right_one_is_not() -> None:
    eps = sp.Symbol("epsilon", positive=True)
    W = sp.Symbol("W", nonnegative=True)
    wrong = planted_wrong_step("efficiency.output_error_simple", 3, eps / (1 + eps) * W / 2, "x")
    assert wrong.passed and wrong.kind == "planted"
    assert wrong.details["caught_by"] == "derivation: efficiency.output_error_simple"
    right = planted_wrong_step("efficiency.output_error_simple", 3, eps * W / (2 - 2 * eps), "y")
    assert not right.passed  # the same expression rewritten: nothing to catch


def test_index_md_shows_premises_with_kinds_and_steps_with_rules() -> None:
    check = derivation_check("efficiency.output_error_simple").to_json()
    text = "\n".join(_checks({"checks": [check]}))
    assert "Premises:" in text and "*lemma* `sharp`" in text and "*hypothesis*" in text
    assert "Steps (each checked by sympy):" in text and "— *relax*" in text
    assert "$err \\le" in text
