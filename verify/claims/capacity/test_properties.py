"""Hypothesis properties of theory.md §4, each with a planted violation it must catch.

* the prompt-Lipschitz bound ``Λ`` holds for pairs of prompts in the box;
* the packing family behind ``M(eps)`` is ``C``-Lipschitz, ``[0,1]``-valued, ``4 eps``-separated;
* without positional encoding, outputs are permutation-equivariant for every prompt (the
  reason the Wang-style dataset has a loss floor at every prompt length);
* constructions have the formula's rows and memorize the packing family at packing centres off
  their boundary band (the covering theorem's premise).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from verify.claims.capacity import bounds as cap
from verify.claims.capacity.checks import lipschitz_pair_check, packing_check, permutation_check
from verify.claims.capacity.constructions import construction_observations
from verify.claims.capacity.strategies import (
    ConstructionCase,
    PackingCase,
    PromptPairCase,
    construction_cases,
    packing_cases,
    permutation_cases,
    prompt_pair_cases,
)
from verify.claims.properties import Observation, profile_examples, run_property


def _examples(base: int = 30) -> int:
    """``base`` cases at the default profile, scaled with ``--hypothesis-profile``."""
    return profile_examples(base)


# --------------------------------------------------------------------------- prompt Lipschitz
def test_prompt_lipschitz_bound_holds() -> None:
    out = run_property(
        "prompt Lipschitz", prompt_pair_cases(), lipschitz_pair_check(1.0), max_examples=_examples()
    )
    assert out.passed, out.counterexample
    assert 0 < out.worst_ratio <= 1


def test_planted_prompt_lipschitz_bound_too_small_is_caught() -> None:
    out = run_property(
        "planted prompt Lipschitz",
        prompt_pair_cases(),
        lipschitz_pair_check(1e-6),
        max_examples=_examples(),
    )
    assert not out.passed
    assert out.counterexample is not None
    assert "exceeds bound" in out.counterexample


# --------------------------------------------------------------------------- packing family
def test_packing_family_is_lipschitz_bounded_and_separated() -> None:
    out = run_property("packing", packing_cases(), packing_check(1.0), max_examples=_examples())
    assert out.passed, out.counterexample


def test_planted_packing_constant_too_small_is_caught() -> None:
    out = run_property(
        "planted packing", packing_cases(), packing_check(0.5), max_examples=_examples()
    )
    assert not out.passed
    assert out.counterexample is not None
    assert "Lipschitz" in out.counterexample


# --------------------------------------------------------------------------- permutation symmetry
def test_outputs_are_permutation_equivariant_for_every_prompt() -> None:
    out = run_property(
        "permutation", permutation_cases(), permutation_check, max_examples=_examples()
    )
    assert out.passed, out.counterexample


def test_planted_positional_encoding_breaks_equivariance() -> None:
    out = run_property(
        "planted permutation",
        permutation_cases(positional=True),
        permutation_check,
        max_examples=_examples(),
    )
    assert not out.passed


def _valid_draws(pair: tuple[PromptPairCase, PackingCase]) -> list[Observation]:
    prompts, packing = pair
    m = int(cap.packing_centres_per_axis_fn(packing.eps, packing.lipschitz))
    points = np.stack([packing.x, packing.y])  # (2, L, d)
    return [
        Observation(
            float(np.abs(np.stack([prompts.prompt, prompts.other])).max()),
            prompts.radius,
            "prompts inside the box",
        ),
        Observation(packing.eps, float(cap.packing_max_eps), "eps <= largest packing eps"),
        Observation(1.0, float(m), "at least one centre", exact=True),
        Observation(
            float(np.abs(points - 0.5).max()), 0.5, "packing inputs inside [0, 1]", exact=True
        ),
        Observation(
            float(abs(int((packing.signs != packing.other_signs).sum()) - 1)),
            0.0,
            "sign patterns differ in exactly one entry",
            exact=True,
        ),
        Observation(
            float(np.abs(np.abs(packing.signs) - 1).max()), 0.0, "signs are ±1", exact=True
        ),
    ]


def test_strategies_draw_valid_cases() -> None:
    out = run_property(
        "strategy sanity",
        st.tuples(prompt_pair_cases(), packing_cases()),
        _valid_draws,
        max_examples=_examples(10),
    )
    assert out.passed, out.counterexample


# --------------------------------------------------------------------------- memorization count
def test_constructions_meet_the_memorization_count() -> None:
    out = run_property(
        "memorization count",
        construction_cases(),
        construction_observations(),
        max_examples=_examples(6),
    )
    assert out.passed, out.counterexample
    assert out.cases >= 1


def test_planted_construction_missing_a_row_is_caught() -> None:
    cheap = st.sampled_from([ConstructionCase(1, 2, 0.25, 1.0), ConstructionCase(2, 1, 0.25, 1.0)])
    out = run_property(
        "planted memorization count", cheap, construction_observations(drop_row=0), max_examples=3
    )
    assert not out.passed
    assert out.counterexample is not None
    assert "rows - formula" in out.counterexample


def test_planted_prompt_for_the_wrong_target_is_caught() -> None:
    cheap = st.sampled_from([ConstructionCase(1, 1, 0.125, 1.0), ConstructionCase(1, 2, 0.25, 1.0)])
    out = run_property(
        "planted wrong target", cheap, construction_observations(wrong_target=True), max_examples=3
    )
    assert not out.passed
    assert out.counterexample is not None
    assert "memorization error" in out.counterexample
