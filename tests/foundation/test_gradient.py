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


def _gradient_case(seed: int, lp: int, length: int, batch: int = 1):
    rng = np.random.default_rng(seed)
    model = Transformer.random(2, rng=rng, width=4, ffn_in_layers=2, ffn_out_layers=1)
    p = 0.5 * rng.standard_normal((lp, 4))  # (Lp, D)
    return model, p, rng.random((batch, length, 2)), rng.random((batch, length, 2))


@pytest.mark.parametrize("chunk", [1, 7, 40, 1 << 20])
def test_chunked_gradient_equals_a_single_block(chunk: int) -> None:
    """Blocks of one row, of part of a sequence, of whole sequences: the same loss and gradient
    as one block holding every weight (to rounding)."""
    model, p, xs, ys = _gradient_case(8, lp=3, length=5, batch=3)
    whole = prompt_loss_and_grad(model, p, xs, ys, chunk_elements=10**9)
    loss, grad = prompt_loss_and_grad(model, p, xs, ys, chunk_elements=chunk)
    assert loss == pytest.approx(whole[0], rel=1e-13)
    np.testing.assert_allclose(grad, whole[1], rtol=1e-12, atol=1e-15)


def test_gradient_memory_is_linear_in_the_sequence_length() -> None:
    """No ``(B, L, Lp + L)`` array: with blocks of 2^14 weights the traced peak stays below one
    such array (a single block, the planted unchunked case, exceeds it)."""
    import tracemalloc

    length = 1024
    model, p, xs, ys = _gradient_case(9, lp=length, length=length)
    one_matrix = length * 2 * length * 8  # bytes of one (1, L, Lp + L) float64 array

    def peak(chunk: int) -> int:
        tracemalloc.start()
        prompt_loss_and_grad(model, p, xs, ys, chunk_elements=chunk)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    assert peak(1 << 14) < one_matrix / 4
    assert peak(10**9) > one_matrix  # the unchunked computation would be caught
