"""The reusable checks of verify.identities and the foundation claim, each with a planted
violation showing it can fail."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import verify.bounds.foundation as bounds
import verify.claims.foundation as foundation
import verify.identities as identities
from reference import Transformer, prompt_loss_and_grad
from reference.attention import softmax_rows
from verify.claims.base import ClaimContext
from verify.identities import (
    check_bias_only,
    check_gradient,
    check_relative_pattern,
    finite_difference_gradient,
)
from verify.properties import FALSIFYING_CASE, run_property
from verify.strategies import PromptCase, prompt_cases


def _case(seed: int = 0, lp: int = 3) -> PromptCase:
    rng = np.random.default_rng(seed)
    model = Transformer.random(2, rng=rng, width=4, ffn_in_layers=1, ffn_out_layers=1)
    return PromptCase(
        model, rng.standard_normal((lp, 4)), rng.random((2, 3, 2)), rng.random((2, 3, 2)), seed
    )


def prompt_temperature_weights(model: Transformer, h: np.ndarray, rows: slice) -> np.ndarray:
    """Broken attention: keys of the first row (a prompt row, when there is one) are sharpened."""
    q = h[..., rows, :] @ model.attn.w_q  # (..., q, dk)
    k = h @ model.attn.w_k  # (..., n, dk)
    logits = (q @ np.swapaxes(k, -1, -2)) * model.attn.scale  # (..., q, n)
    logits[..., 0] *= 1.5
    return softmax_rows(logits)


def scaled_gradient(model, prompt, xs, ys):
    loss, grad = prompt_loss_and_grad(model, prompt, xs, ys)
    return loss, grad * (1 + 1e-4)


@pytest.mark.parametrize("check", [check_relative_pattern, check_bias_only, check_gradient])
def test_checks_hold_on_the_reference(check) -> None:
    outcome = run_property(check.__name__, prompt_cases(min_prompt=1), check, max_examples=15)
    assert outcome.passed and outcome.cases == 15 and outcome.worst_ratio < 1


@pytest.mark.parametrize("check", [check_relative_pattern, check_bias_only])
def test_planted_broken_attention_falsifies_the_identities(check) -> None:
    outcome = run_property(
        check.__name__,
        prompt_cases(min_prompt=1),
        lambda case: check(case, prompt_temperature_weights),
        max_examples=15,
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


def test_symbolic_identities_and_a_planted_wrong_formula(monkeypatch) -> None:
    assert bounds.identity_residuals(2, 3) == (0, 0)
    wrong = sp.Eq(bounds.s_with, (1 - bounds.a) ** 2 * bounds.s_without)
    monkeypatch.setattr(bounds, "RELATIVE_PATTERN", wrong)
    assert bounds.identity_residuals(2, 2)[0] != 0


def test_foundation_claim_smoke_and_planted_tolerance(monkeypatch, tmp_path) -> None:
    result = foundation.run(ClaimContext(figure_dir=tmp_path, mode="smoke"))
    assert result.passed and result.cases > 0
    assert {p.name for p in tmp_path.iterdir()} == {f.filename for f in result.figures}
    tiny = sp.Float("1e-30")  # below rounding: the float64 identities must now be "violated"
    for module in (identities, foundation):
        monkeypatch.setattr(module, "IDENTITY_TOLERANCE", tiny)
    broken = foundation.run(ClaimContext(figure_dir=tmp_path, mode="smoke"))
    failed = {c.name for c in broken.checks if not c.passed}
    assert "identities across prompt norm and length" in failed
    assert {"relative pattern invariance", "bias-only effect"} <= failed
    assert all(c.counterexample for c in broken.checks if not c.passed)
