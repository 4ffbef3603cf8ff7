"""The prompt-Lipschitz bound ``Λ`` on wide models, in the directions that move the output most.

Random pairs of prompts (``test_lipschitz.py``) reach a few percent of ``Λ`` and miss a bound
that uses a max-entry norm where an ℓ1 norm belongs (issue 16: measured 11.9 > 9 on a width-5
model). Here the difference quotient is taken along the sign of the steepest output row of the
Jacobian (the worst direction of the max norm), on random wide models and on two aligned
families built so that the value path and the logit path of ``Λ`` are nearly attained.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import reference.model.lipschitz as lipschitz
from reference import Attention, Transformer, prompt_forward
from reference.model.lipschitz import prompt_lipschitz_bound
from tests.strength.planting import mutant

Family = Callable[[], tuple[Transformer, np.ndarray, np.ndarray, float]]

# the two norms of Λ a plausible bug turns into max-entry norms
NORM_OF_MATRICES = ("return np.abs(a).sum(axis=0).max()", "return np.abs(a).max()")
LOGIT_ROW_L1 = (
    "qk_l1 = np.maximum(np.abs(qk_lo), np.abs(qk_hi)).sum(axis=1).max()",
    "qk_l1 = np.maximum(np.abs(qk_lo), np.abs(qk_hi)).max(axis=1).max()",
)


def worst_direction_quotient(
    model: Transformer, prompt: np.ndarray, xs: np.ndarray, radius: float
) -> float:
    """``‖τ(P') − τ(P)‖_max / ‖P' − P‖_max`` for a small step ``P' = P + h·sign(J_r)`` along the
    steepest output row ``r`` of the Jacobian (central differences), ``P'`` kept in the box."""
    h = 1e-6
    columns = []
    for k in range(prompt.size):
        e = np.zeros(prompt.size)
        e[k] = h
        e = e.reshape(prompt.shape)  # (Lp, D)
        diff = prompt_forward(model, prompt + e, xs) - prompt_forward(model, prompt - e, xs)
        columns.append(diff.ravel() / (2 * h))
    jacobian = np.array(columns).T  # (outputs, Lp·D)
    row = int(np.argmax(np.abs(jacobian).sum(axis=1)))
    direction = np.sign(jacobian[row]).reshape(prompt.shape)  # (Lp, D)
    moved = np.clip(prompt + 1e-5 * radius * direction, -radius, radius)
    change = np.abs(prompt_forward(model, moved, xs) - prompt_forward(model, prompt, xs)).max()
    return float(change / np.abs(moved - prompt).max())


def value_path_family(
    width: int = 5, prompt_rows: int = 8
) -> tuple[Transformer, np.ndarray, np.ndarray, float]:
    """No logit dependence (``w_q = 0``), rank-one all-ones value path: a shift of every prompt
    entry by ``h`` moves every output by ``h·width²·(prompt mass)``; ``Λ = width²``."""
    ones = np.ones((width, 1))
    attn = Attention(w_q=np.zeros((width, 1)), w_k=ones, w_v=ones, w_o=np.ones((1, width)))
    model = Transformer(embed=np.ones((1, width)), readout=ones, attn=attn)
    prompt = np.zeros((prompt_rows, width))  # (Lp, D)
    return model, prompt, np.full((1, 1, 1), 0.5), 1.0


def logit_path_family(
    width: int = 5, radius: float = 2.0
) -> tuple[Transformer, np.ndarray, np.ndarray, float]:
    """Values read coordinate 0, logits read the sum of all ``width`` prompt coordinates: at the
    prompt below the prompt and the input row have equal logits (``s = ½``) and values ``±R``."""
    e0 = np.eye(width, 1)  # (D, 1)
    attn = Attention(w_q=e0, w_k=np.ones((width, 1)), w_v=e0, w_o=e0.T)
    model = Transformer(embed=-radius * e0.T, readout=e0, attn=attn)
    row = np.full(width, -radius / (width - 1) * 2)  # Σ = −R with entry 0 equal to R
    row[0] = radius
    prompt = row[None, :]  # (1, D)
    return model, prompt, np.ones((1, 1, 1)), radius


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("width", [4, 6])
def test_bound_holds_in_the_worst_directions_of_random_wide_models(seed: int, width: int) -> None:
    rng = np.random.default_rng(seed)
    model = Transformer.random(
        2, rng=rng, width=width, ffn_in_layers=seed % 2, ffn_out_layers=0, weight_scale=1 + seed
    )
    radius = 1.5
    bound = prompt_lipschitz_bound(model, prompt_radius=radius, input_length=3).total
    for _ in range(8):
        prompt = rng.uniform(-radius, radius, (int(rng.integers(1, 4)), width))  # (Lp, D)
        xs = rng.random((1, 3, 2))  # (B, L, d)
        assert worst_direction_quotient(model, prompt, xs, radius) <= bound


@pytest.mark.parametrize("family", [value_path_family, logit_path_family])
def test_aligned_families_come_close_to_the_bound(family: Family) -> None:
    model, prompt, xs, radius = family()
    bound = prompt_lipschitz_bound(model, prompt_radius=radius, input_length=1).total
    measured = worst_direction_quotient(model, prompt, xs, radius)
    assert 0.2 * bound < measured <= bound


@pytest.mark.parametrize(
    ("family", "planted"),
    [(value_path_family, NORM_OF_MATRICES), (logit_path_family, LOGIT_ROW_L1)],
)
def test_planted_max_entry_norms_are_exceeded(family: Family, planted: tuple[str, str]) -> None:
    model, prompt, xs, radius = family()
    wrong = mutant(lipschitz, *planted).prompt_lipschitz_bound
    measured = worst_direction_quotient(model, prompt, xs, radius)
    assert measured > wrong(model, prompt_radius=radius, input_length=1).total
