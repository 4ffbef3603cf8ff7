"""Hypothesis properties of theory.md §4, each with a planted violation it must catch.

* the prompt-Lipschitz bound ``Λ`` holds for pairs of prompts in the box;
* the packing family behind ``M(eps)`` is ``C``-Lipschitz, ``[0,1]``-valued, ``4 eps``-separated;
* without positional encoding, outputs are permutation-equivariant for every prompt (the
  reason the Wang-style dataset has a loss floor at every prompt length);
* constructions meet the memorization count (rows = formula, never below the lower bounds).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from reference import prompt_forward
from reference.capacity import permutation_defect
from reference.lipschitz import prompt_lipschitz_bound
from verify.capacity_checks import packing_member
from verify.properties import Observation, run_property
from verify.strategies.capacity import (
    PackingCase,
    PermutationCase,
    PromptPairCase,
    packing_cases,
    permutation_cases,
    prompt_pair_cases,
)

EXAMPLES = 30


# --------------------------------------------------------------------------- prompt Lipschitz
def _lipschitz_check(factor: float):
    def check(case: PromptPairCase) -> Observation:
        bound = prompt_lipschitz_bound(
            case.model, prompt_radius=case.radius, input_length=case.xs.shape[1]
        ).total
        change = np.abs(
            prompt_forward(case.model, case.prompt, case.xs)
            - prompt_forward(case.model, case.other, case.xs)
        ).max()
        distance = np.abs(case.prompt - case.other).max()
        return Observation(float(change / distance), factor * bound, "output change / distance")

    return check


def test_prompt_lipschitz_bound_holds() -> None:
    out = run_property(
        "prompt Lipschitz", prompt_pair_cases(), _lipschitz_check(1.0), max_examples=EXAMPLES
    )
    assert out.passed, out.counterexample
    assert 0 < out.worst_ratio <= 1


def test_planted_prompt_lipschitz_bound_too_small_is_caught() -> None:
    out = run_property(
        "planted prompt Lipschitz",
        prompt_pair_cases(),
        _lipschitz_check(1e-6),
        max_examples=EXAMPLES,
    )
    assert not out.passed
    assert "exceeds bound" in out.counterexample


# --------------------------------------------------------------------------- packing family
def _packing_check(claimed_factor: float):
    """Members built with slope ``C``, checked against the claimed constant ``factor · C``."""

    def check(case: PackingCase) -> list[Observation]:
        slope = case.lipschitz
        eps = case.eps
        f = packing_member(np.stack([case.x, case.y]), case.signs, eps=eps, lipschitz=slope)
        distance = np.abs(case.x - case.y).max()
        flipped = np.argwhere(case.signs != case.other_signs)[0][: case.d * case.L]
        m = case.signs.shape[0]
        centre = ((flipped + 0.5) / m).reshape(case.L, case.d)  # (L, d)
        at_centre = [
            packing_member(centre, s, eps=eps, lipschitz=slope)
            for s in (case.signs, case.other_signs)
        ]
        separation = np.abs(at_centre[0] - at_centre[1]).max()
        return [
            Observation(
                float(np.abs(f[0] - f[1]).max()),
                claimed_factor * slope * distance * (1 + 1e-12) + 1e-15,  # rounding
                "Lipschitz",
            ),
            Observation(float(np.abs(f - 0.5).max()), 0.5, "|f - 1/2|"),
            Observation(2 * eps, float(separation), "2 eps / separation"),
        ]

    return check


def test_packing_family_is_lipschitz_bounded_and_separated() -> None:
    out = run_property("packing", packing_cases(), _packing_check(1.0), max_examples=EXAMPLES)
    assert out.passed, out.counterexample


def test_planted_packing_constant_too_small_is_caught() -> None:
    out = run_property(
        "planted packing", packing_cases(), _packing_check(0.5), max_examples=EXAMPLES
    )
    assert not out.passed
    assert "Lipschitz" in out.counterexample


# --------------------------------------------------------------------------- permutation symmetry
def _permutation_check(case: PermutationCase) -> Observation:
    defect = permutation_defect(case.model, case.prompt, case.x, case.permutation)
    scale = np.abs(prompt_forward(case.model, case.prompt, case.x)).max()
    return Observation(defect, 1e-12 * max(1.0, float(scale)), "permutation defect")


def test_outputs_are_permutation_equivariant_for_every_prompt() -> None:
    out = run_property(
        "permutation", permutation_cases(), _permutation_check, max_examples=EXAMPLES
    )
    assert out.passed, out.counterexample


def test_planted_positional_encoding_breaks_equivariance() -> None:
    out = run_property(
        "planted permutation",
        permutation_cases(positional=True),
        _permutation_check,
        max_examples=EXAMPLES,
    )
    assert not out.passed


def test_strategies_draw_valid_cases() -> None:
    out = run_property(
        "strategy sanity",
        st.tuples(prompt_pair_cases(), packing_cases()),
        lambda pair: Observation(
            float(np.abs(pair[0].other).max()), pair[0].radius, "prompt inside the box"
        ),
        max_examples=10,
    )
    assert out.passed, out.counterexample
