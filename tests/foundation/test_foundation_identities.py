"""The reusable checks of verify.claims.foundation.identities and the foundation claim, each with a
planted violation showing it can fail."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import verify.claims.foundation.bounds as bounds
import verify.claims.foundation.claim as foundation
from reference import Transformer, prompt_loss_and_grad
from verify.claims.base import CHECK_KINDS, ClaimContext
from verify.claims.foundation.identities import (
    check_bias_only,
    check_gradient,
    check_relative_pattern,
    finite_difference_gradient,
    scaled_gradient,
    sharpened_first_key_weights,
    softplus_kernel_weights,
)
from verify.claims.properties import FALSIFYING_CASE, profile_examples, run_property
from verify.claims.strategies import PromptCase, prompt_cases


def _case(seed: int = 0, lp: int = 3) -> PromptCase:
    rng = np.random.default_rng(seed)
    model = Transformer.random(2, rng=rng, width=4, ffn_in_layers=1, ffn_out_layers=1)
    return PromptCase(
        model, rng.standard_normal((lp, 4)), rng.random((2, 3, 2)), rng.random((2, 3, 2)), seed
    )


@pytest.mark.parametrize("check", [check_relative_pattern, check_bias_only, check_gradient])
def test_checks_hold_on_the_reference(check) -> None:
    outcome = run_property(
        check.__name__, prompt_cases(min_prompt=1), check, max_examples=profile_examples(15)
    )
    assert outcome.passed and outcome.cases == profile_examples(15) and outcome.worst_ratio < 1


@pytest.mark.parametrize("check", [check_relative_pattern, check_bias_only])
def test_planted_broken_attention_falsifies_the_identities(check) -> None:
    outcome = run_property(
        check.__name__,
        prompt_cases(min_prompt=1),
        lambda case: check(case, sharpened_first_key_weights),
        max_examples=profile_examples(15),
    )
    assert not outcome.passed and FALSIFYING_CASE.search(outcome.counterexample)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_scaled_gradient_is_caught_by_the_high_precision_oracle(seed) -> None:
    case = _case(seed)
    assert check_gradient(case).holds
    broken = check_gradient(case, scaled_gradient)
    assert not broken.holds and broken.ratio > 10


def test_high_precision_differences_agree_with_float64() -> None:
    case = _case(1)
    fd64, valid64 = finite_difference_gradient(case)
    fd_hp, valid_hp = finite_difference_gradient(case, step=1e-12, min_step=1e-15, digits=30)
    assert valid64.all() and valid_hp.all()
    np.testing.assert_allclose(fd_hp, fd64, rtol=1e-6, atol=1e-9)
    _, grad = prompt_loss_and_grad(case.model, case.prompt, case.xs, case.ys)
    np.testing.assert_allclose(fd_hp, grad, rtol=1e-9)


def test_empty_prompt_is_handled() -> None:
    case = _case(2, lp=0)
    assert check_relative_pattern(case).error == 0.0
    assert check_bias_only(case).holds and check_gradient(case).error == 0.0


def test_planted_non_softmax_kernel_passes_relative_pattern_and_is_caught_by_bias_only() -> None:
    cases = prompt_cases(min_prompt=1)
    passes = run_property(
        "softplus, relative pattern",
        cases,
        lambda case: check_relative_pattern(case, softplus_kernel_weights),
        max_examples=100,
    )
    assert passes.passed and passes.cases == 100  # relative pattern does not pin softmax
    caught = run_property(
        "softplus, bias-only",
        cases,
        lambda case: check_bias_only(case, softplus_kernel_weights),
        max_examples=profile_examples(15),
        shrink=False,
    )
    assert not caught.passed and FALSIFYING_CASE.search(caught.counterexample)


def test_symbolic_identities_and_planted_wrong_formulas() -> None:
    assert bounds.identity_residuals(2, 3) == (0, 0)
    wrong = sp.Eq(bounds.s_with, (1 - bounds.a) ** 2 * bounds.s_without)
    assert bounds.identity_residuals(2, 2, pattern=wrong)[0] != 0
    no_prompt_term = sp.Eq(bounds.o_with, (1 - bounds.a) * bounds.o_without)
    assert bounds.identity_residuals(2, 2, bias=no_prompt_term)[1] != 0


def test_planted_broken_attention_is_caught_by_the_sweep() -> None:
    items = [(0.3, 4, 0), (1.0, 1, 1)]
    assert foundation.sweep_check([foundation.sweep_point(item) for item in items]).passed
    rows = [foundation.sweep_point(item, sharpened_first_key_weights) for item in items]
    broken = foundation.sweep_check(rows)
    assert not broken.passed and "sweep_case(" in broken.counterexample


def test_foundation_claim_smoke(tmp_path) -> None:
    result = foundation.run(ClaimContext(figure_dir=tmp_path, mode="smoke"))
    assert result.passed and result.cases > 0
    assert {p.name for p in tmp_path.iterdir()} == {f.filename for f in result.figures}
    kinds = {c.name: c.kind for c in result.checks}
    assert set(kinds.values()) <= set(CHECK_KINDS)
    evidence = {name for name, kind in kinds.items() if kind in ("bound", "exact")}
    caught_by = {c.details["caught_by"] for c in result.checks if c.kind == "planted"}
    assert caught_by == evidence  # one planted violation (at least) per evidence check
    kernel = next(c for c in result.checks if c.name == "non-softmax kernel caught")
    assert kernel.passed and kernel.details["caught_by"] == "bias-only effect"
