"""The hand-written prompt gradient against central finite differences (float64, with the
high-precision recheck of ``verify.claims.foundation.identities.check_gradient``; tolerance from
``verify.claims.foundation.bounds``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from reference import Transformer, prompt_forward, prompt_loss_and_grad
from reference.model.transformer import FFNLayer
from verify.claims.foundation.identities import check_gradient
from verify.claims.properties import assert_within
from verify.claims.strategies import PromptCase, prompt_cases


@given(prompt_cases(min_prompt=1, max_prompt=4, max_d=3, max_length=4))
def test_gradient_matches_finite_differences(case: PromptCase) -> None:
    assert_within(check_gradient(case), context=repr(case))


@pytest.mark.parametrize("lp", [1, 3, 8])
@pytest.mark.parametrize("batch", [1, 4])
def test_gradient_with_ffn_on_both_sides(lp: int, batch: int) -> None:
    rng = np.random.default_rng(lp * 10 + batch)
    model = Transformer.random(
        3, rng=rng, width=5, ffn_in_layers=2, ffn_out_layers=2, max_length=4, key_width=3
    )
    case = PromptCase(
        model, rng.standard_normal((lp, 5)), rng.random((batch, 4, 3)), rng.random((batch, 4, 3)), 0
    )
    assert_within(check_gradient(case), context=repr(case))


def test_loss_matches_forward() -> None:
    rng = np.random.default_rng(5)
    model = Transformer.random(2, rng=rng, width=4)
    p, xs, ys = rng.standard_normal((3, 4)), rng.random((2, 5, 2)), rng.random((2, 5, 2))
    loss, _ = prompt_loss_and_grad(model, p, xs, ys)
    assert loss == pytest.approx(
        float(((prompt_forward(model, p, xs) - ys) ** 2).mean()), rel=1e-14
    )


def test_single_sequence_equals_batch_of_one() -> None:
    rng = np.random.default_rng(6)
    model = Transformer.random(2, rng=rng, width=3)
    p, x, y = rng.standard_normal((2, 3)), rng.random((4, 2)), rng.random((4, 2))
    l1, g1 = prompt_loss_and_grad(model, p, x, y)
    l2, g2 = prompt_loss_and_grad(model, p, x[None], y[None])
    assert l1 == l2
    np.testing.assert_array_equal(g1, g2)


def test_planted_broken_backward_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dropping the hidden path of the FFN backward must break the finite-difference check."""
    rng = np.random.default_rng(7)
    model = Transformer.random(2, rng=rng, width=4, ffn_in_layers=1, ffn_out_layers=1)
    xs, ys = rng.random((2, 3, 2)), rng.random((2, 3, 2))
    case = PromptCase(model, rng.standard_normal((3, 4)), xs, ys, 0)
    assert check_gradient(case).holds
    monkeypatch.setattr(FFNLayer, "backward", lambda self, grad_out, pre: grad_out)
    broken = check_gradient(case)
    assert not broken.holds and broken.ratio > 100
