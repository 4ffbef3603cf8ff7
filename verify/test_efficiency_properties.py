"""Hypothesis properties of the polynomial method (theory.md §5), each with a planted violation.

Every property runs through :func:`verify.properties.run_property` (which ``target()``s
error/bound) with the example count of the active Hypothesis profile; every plant feeds a
deliberately broken implementation to the same check and asserts the property reports a failure.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from verify import efficiency_checks as checks
from verify.properties import run_property
from verify.strategies.efficiency import attention_cases, fit_pairs, prompt_cache_cases


def _examples() -> int:
    return settings().max_examples


PROPERTIES = {
    "factorization": (lambda: attention_cases(max_rows=32), checks.check_factorization),
    "fast_attention_error": (attention_cases, checks.check_fast_attention),
    "degree_monotone": (fit_pairs, checks.check_degree_monotone),
    "prompt_cache_agrees": (prompt_cache_cases, checks.check_prompt_cache),
    "low_rank_gradient": (attention_cases, checks.check_low_rank_grad),
}

PLANTS = {
    "factorization": lambda c: checks.check_factorization(
        c, build=checks.build_without_multinomials
    ),
    "fast_attention_error": lambda c: checks.check_fast_attention(
        c, attend=checks.extrapolating_attention
    ),
    "degree_monotone": lambda c: checks.check_degree_monotone(
        c, degree=checks.degree_with_offset_bug
    ),
    "prompt_cache_agrees": lambda c: checks.check_prompt_cache(c, build=checks.build_stale_cache),
    "prompt_cache_inflated_bound": lambda c: checks.check_prompt_cache(
        c, build=checks.build_inflated_bound_cache
    ),
    "low_rank_gradient": lambda c: checks.check_low_rank_grad(
        c, grad=checks.grad_with_wrong_sign_delta
    ),
}

# The degree plant breaks monotonicity only across R = 2, so it needs more draws to be hit.
PLANT_EXAMPLES = {"degree_monotone": 200}


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_property_holds(name: str) -> None:
    strategy, check = PROPERTIES[name]
    outcome = run_property(name, strategy(), check, max_examples=_examples())
    assert outcome.passed, outcome.counterexample
    assert outcome.cases >= 1
    assert outcome.worst_ratio <= 1.0


# plants of a property other than the one named after them
PLANT_PROPERTY = {"prompt_cache_inflated_bound": "prompt_cache_agrees"}


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_planted_violation_is_caught(name: str) -> None:
    strategy, _ = PROPERTIES[PLANT_PROPERTY.get(name, name)]
    outcome = run_property(
        f"planted {name}",
        strategy(),
        PLANTS[name],
        max_examples=PLANT_EXAMPLES.get(name, _examples()),
    )
    assert not outcome.passed
    assert outcome.worst_ratio > 1.0
    assert outcome.counterexample
