"""Invariances of prompt tuning: permuting prompt rows leaves outputs unchanged; outputs of one
sequence do not depend on the other sequences of the batch; without positional encoding, permuting
input rows permutes outputs. (The exact identities of theory.md §2 are checked in
``tests/foundation/test_foundation_identities.py`` through ``verify.claims.foundation.identities``.)
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from reference import Transformer, prompt_forward
from verify.claims.strategies import PromptCase, prompt_cases


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
