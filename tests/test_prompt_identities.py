"""theory.md §2: relative pattern invariance and the bias-only effect of the prompt (exact).

Also: permuting prompt rows leaves outputs unchanged; outputs of one sequence do not depend on the
other sequences of the batch; without positional encoding, permuting input rows permutes outputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given

from reference import Transformer, prompt_forward
from reference.attention import softmax_rows
from reference.prompt_tuning import attended_sequence
from verify.strategies import PromptCase, prompt_cases

IDENTITY_RTOL = 1e-12

WeightsFn = Callable[[Transformer, np.ndarray, slice], np.ndarray]


def exact_weights(model: Transformer, h: np.ndarray, rows: slice) -> np.ndarray:
    return model.attn.weights(h, rows)


def identity_errors(case: PromptCase, weights: WeightsFn = exact_weights) -> tuple[float, float]:
    """Relative errors of (pattern invariance, bias-only effect), max over batch and rows."""
    model, lp = case.model, case.prompt.shape[0]
    h = attended_sequence(model, case.prompt, case.xs)  # (B, n, D)
    for layer in model.ffn_in:
        h = layer(h)
    h_x = h[:, lp:]  # (B, L, D): FFN_in is token-wise, so these are the no-prompt rows
    s = weights(model, h, slice(lp, None))  # (B, L, n)
    s0 = weights(model, h_x, slice(None))  # (B, L, L)
    a = s[..., :lp].sum(axis=-1, keepdims=True)  # (B, L, 1)
    pattern_err = np.abs(s[..., lp:] - (1 - a) * s0).max() / np.abs(s0).max()
    v = h @ model.attn.w_v  # (B, n, dv)
    out = s @ v  # (B, L, dv)
    out0 = s0 @ v[:, lp:]  # (B, L, dv)
    prompt_avg = (s[..., :lp] @ v[:, :lp]) / a  # (B, L, dv)
    predicted = (1 - a) * out0 + a * prompt_avg
    bias_err = np.abs(out - predicted).max() / np.abs(v).max()
    return float(pattern_err), float(bias_err)


@given(prompt_cases(min_prompt=1))
def test_relative_pattern_invariance_and_bias_only_effect(case: PromptCase) -> None:
    pattern_err, bias_err = identity_errors(case)
    assert pattern_err <= IDENTITY_RTOL, (pattern_err, case)
    assert bias_err <= IDENTITY_RTOL, (bias_err, case)


def test_planted_length_dependent_temperature_is_caught() -> None:
    """An attention whose temperature depends on the sequence length violates §2."""

    def length_scaled(model: Transformer, h: np.ndarray, rows: slice) -> np.ndarray:
        q = h[..., rows, :] @ model.attn.w_q
        k = h @ model.attn.w_k
        return softmax_rows((q @ np.swapaxes(k, -1, -2)) * model.attn.scale * h.shape[-2])

    rng = np.random.default_rng(0)
    model = Transformer.random(2, rng=rng, width=3, ffn_in_layers=1)
    case = PromptCase(
        model, rng.standard_normal((2, 3)), rng.random((1, 3, 2)), rng.random((1, 3, 2)), 0
    )
    assert max(identity_errors(case)) <= IDENTITY_RTOL
    assert min(identity_errors(case, length_scaled)) > 1e-6


@given(prompt_cases(min_prompt=2))
def test_prompt_row_permutation_leaves_outputs_unchanged(case: PromptCase) -> None:
    perm = np.random.default_rng(case.seed).permutation(case.prompt.shape[0])
    out = prompt_forward(case.model, case.prompt, case.xs)
    out_perm = prompt_forward(case.model, case.prompt[perm], case.xs)
    np.testing.assert_allclose(out_perm, out, rtol=1e-12, atol=1e-12)


def test_planted_prompt_positional_encoding_breaks_permutation_invariance() -> None:
    """If positional encoding were (wrongly) added to prompt rows, permuting them would matter."""
    rng = np.random.default_rng(1)
    model = Transformer.random(2, rng=rng, width=3, max_length=8)
    p, x = rng.standard_normal((3, 3)), rng.random((2, 2))
    pos_p = p + model.positional[:3]
    perm = np.array([2, 0, 1])
    broken = prompt_forward(model, pos_p, x)
    broken_perm = prompt_forward(model, p[perm] + model.positional[:3], x)
    assert not np.allclose(broken, broken_perm, rtol=1e-12, atol=1e-12)


@given(prompt_cases(max_batch=3))
def test_sequences_in_a_batch_are_independent(case: PromptCase) -> None:
    out = prompt_forward(case.model, case.prompt, case.xs)  # (B, L, d)
    for b in range(case.xs.shape[0]):
        np.testing.assert_allclose(
            prompt_forward(case.model, case.prompt, case.xs[b]), out[b], rtol=1e-12, atol=1e-12
        )


@given(prompt_cases(positional=False))
def test_input_rows_are_permutation_equivariant_without_positional_encoding(
    case: PromptCase,
) -> None:
    perm = np.random.default_rng(case.seed).permutation(case.xs.shape[1])
    out = prompt_forward(case.model, case.prompt, case.xs)
    np.testing.assert_allclose(
        prompt_forward(case.model, case.prompt, case.xs[:, perm]),
        out[:, perm],
        rtol=1e-11,
        atol=1e-12,
    )


def test_empty_prompt_is_the_model_without_prompt() -> None:
    rng = np.random.default_rng(2)
    model = Transformer.random(2, rng=rng, width=4, ffn_in_layers=1, ffn_out_layers=1)
    x = rng.random((3, 2))
    direct = model(model.embed_inputs(x)) @ model.readout
    np.testing.assert_allclose(prompt_forward(model, np.zeros((0, 4)), x), direct, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_keeps_dtype(dtype: type) -> None:
    rng = np.random.default_rng(3)
    model = Transformer.random(2, rng=rng, width=3).with_dtype(dtype)
    out = prompt_forward(
        model, rng.standard_normal((2, 3)).astype(dtype), rng.random((4, 2)).astype(dtype)
    )
    assert out.dtype == dtype
