"""Unit tests of reference.efficiency.prompt_cache: the exact caches to rounding, the polynomial
cache within its certified tolerance, refusals and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from reference import Transformer, prompt_forward, prompt_loss_and_grad
from reference.efficiency.prompt_cache import (
    ExactPromptCache,
    InputBlockCache,
    PolynomialPromptCache,
    output_gain,
)


def _setup(seed: int = 0, lp: int = 20, positional: bool = True):
    rng = np.random.default_rng(seed)
    model = Transformer.random(
        3,
        rng=rng,
        width=5,
        ffn_in_layers=2,
        ffn_out_layers=2,
        max_length=6 if positional else None,
    )
    prompt = 0.5 * rng.standard_normal((lp, 5))  # (Lp, D)
    xs = rng.random((4, 6, 3))  # (B, L, d)
    ys = rng.random((4, 6, 3))
    return model, prompt, xs, ys


def test_exact_cache_matches_prompt_forward() -> None:
    model, prompt, xs, _ = _setup()
    cache = ExactPromptCache.build(model, prompt)
    np.testing.assert_allclose(cache.forward(xs), prompt_forward(model, prompt, xs), atol=1e-12)
    np.testing.assert_allclose(
        cache.forward(xs[0]), prompt_forward(model, prompt, xs[0]), atol=1e-12
    )


def test_input_block_cache_matches_exact_gradient() -> None:
    model, prompt, xs, ys = _setup()
    loss, grad = InputBlockCache.build(model, xs, ys).loss_and_grad(prompt)
    ref_loss, ref_grad = prompt_loss_and_grad(model, prompt, xs, ys)
    assert np.isclose(loss, ref_loss, rtol=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13)


def test_input_block_cache_is_reused_across_prompts() -> None:
    model, prompt, xs, ys = _setup()
    cache = InputBlockCache.build(model, xs, ys)
    for scale in (0.1, 1.0, 3.0):
        p = prompt * scale
        np.testing.assert_allclose(
            cache.loss_and_grad(p)[1], prompt_loss_and_grad(model, p, xs, ys)[1], atol=1e-12
        )


def test_polynomial_cache_within_certified_tolerances() -> None:
    model, prompt, xs, _ = _setup(positional=False)
    cache = PolynomialPromptCache.build(model, prompt, eps=1e-3, radius=4.0)
    res = cache.forward(xs)
    exact_att = ExactPromptCache.build(model, prompt).attention_output(xs)
    assert np.abs(res.attention_output - exact_att).max() <= res.attention_bound
    assert np.abs(res.output - prompt_forward(model, prompt, xs)).max() <= res.output_bound
    assert res.output_bound == pytest.approx(res.attention_bound * output_gain(model))
    assert (
        cache.rank
        == {g: __import__("math").comb(model.attn.w_k.shape[1] + g, g) for g in range(30)}[
            cache.fit.degree
        ]
    )


def test_polynomial_cache_refuses_inputs_beyond_radius() -> None:
    model, prompt, xs, _ = _setup(positional=False)
    cache = PolynomialPromptCache.build(model, prompt, eps=1e-3, radius=4.0)
    with pytest.raises(ValueError, match="refusing to extrapolate"):
        cache.forward(xs * 1e3)


def test_bad_input() -> None:
    model, prompt, xs, ys = _setup()
    with pytest.raises(ValueError, match="eps"):
        PolynomialPromptCache.build(model, prompt, eps=1.5, radius=1.0)
    with pytest.raises(ValueError, match="radius"):
        PolynomialPromptCache.build(model, prompt, eps=1e-3, radius=0.0)
    with pytest.raises(ValueError, match="model width"):
        ExactPromptCache.build(model, prompt[:, :2])
    with pytest.raises(TypeError, match="Transformer"):
        ExactPromptCache.build("model", prompt)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        ExactPromptCache.build(model, prompt).forward(xs * np.nan)
    with pytest.raises(ValueError, match="shape of xs"):
        InputBlockCache.build(model, xs, ys[:, :2])


def test_overflowing_prompt_summary_is_refused_naming_the_prompt() -> None:
    from reference import FastAttentionRefused, Transformer
    from reference.efficiency.prompt_cache import PolynomialPromptCache

    rng = np.random.default_rng(0)
    m = Transformer.random(2, rng=rng, width=4, ffn_in_layers=0)
    with pytest.raises(FastAttentionRefused, match="prompt: "):
        PolynomialPromptCache.build(m, np.full((3, 4), 1e150), eps=1e-3, radius=4.0)


@pytest.mark.parametrize("chunk", [1, 5, 1 << 20])
def test_input_block_cache_chunks_equal_the_exact_gradient(chunk: int) -> None:
    model, prompt, xs, ys = _setup(3)
    loss, grad = InputBlockCache.build(model, xs, ys, chunk_elements=chunk).loss_and_grad(prompt)
    ref_loss, ref_grad = prompt_loss_and_grad(model, prompt, xs, ys)
    assert np.isclose(loss, ref_loss, rtol=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13)


def test_input_block_cache_memory_is_linear() -> None:
    """The cache holds no ``(B, L, L)`` weights and the step no ``(B, L, Lp)`` ones: with blocks of
    2^14 entries the traced peak stays below one ``(L, L)`` float64 array; one block (the
    planted unchunked case) exceeds it."""
    import tracemalloc

    rng = np.random.default_rng(4)
    model = Transformer.random(2, rng=rng, width=4)
    length = 1024
    xs, ys, p = rng.random((1, length, 2)), rng.random((1, length, 2)), rng.random((length, 4))
    one_matrix = length * length * 8

    def peak(chunk: int) -> int:
        tracemalloc.start()
        InputBlockCache.build(model, xs, ys, chunk_elements=chunk).loss_and_grad(p)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    assert peak(1 << 14) < one_matrix / 4
    assert peak(10**9) > one_matrix


def test_overflowing_inputs_are_refused_by_name_without_warnings() -> None:
    import warnings

    from reference._validation import NumericalOverflow

    model, prompt, xs, ys = _setup()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NumericalOverflow, match=r"^xs: "):
            InputBlockCache.build(model, xs * 1e307, ys)
        with pytest.raises(NumericalOverflow, match=r"^prompt: "):
            InputBlockCache.build(model, xs, ys).loss_and_grad(prompt * 1e307)
        with pytest.raises(NumericalOverflow, match=r"^prompt: "):
            ExactPromptCache.build(model, prompt / np.abs(prompt).max() * 1.7e308)
        with pytest.raises(NumericalOverflow, match=r"^x: "):
            ExactPromptCache.build(model, prompt).forward(xs / np.abs(xs).max() * 1.7e308)
    with pytest.raises(TypeError, match=r"^xs: expected dtype"):
        InputBlockCache.build(model, xs.astype(bool), ys)
