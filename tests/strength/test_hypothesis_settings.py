"""Every property takes its settings: the Hypothesis profile scales example counts and
``--hypothesis-seed`` decides the draws of :func:`verify.claims.properties.run_property`
(issue 16: the seed was fixed to 0 and counts hard-coded, so ``thorough`` and other seeds drew
the same ~30 cases)."""

from __future__ import annotations

from collections.abc import Iterator

import hypothesis.core
import pytest
from hypothesis import settings
from hypothesis import strategies as st

from verify.claims.properties import Observation, profile_examples, run_property


def _draws(count: int = 12) -> list[int]:
    drawn: list[int] = []

    def check(x: int) -> Observation:
        drawn.append(x)
        return Observation(0.0, 1.0)

    run_property("draws", st.integers(0, 2**62), check, max_examples=count)
    return drawn


@pytest.fixture
def forced_seed() -> Iterator[None]:
    before = hypothesis.core.global_force_seed
    yield
    hypothesis.core.global_force_seed = before


@pytest.fixture
def derandomized() -> Iterator[None]:
    """The ``ci`` profile's derandomize (the setting under which the seed was ignored)."""
    before = settings.get_current_profile_name()
    settings.register_profile("derandomized-probe", parent=settings(), derandomize=True)
    settings.load_profile("derandomized-probe")
    yield
    settings.load_profile(before)


def test_hypothesis_seed_decides_the_draws(forced_seed: None, derandomized: None) -> None:
    hypothesis.core.global_force_seed = 1  # what pytest's --hypothesis-seed=1 sets
    first = _draws()
    again = _draws()
    hypothesis.core.global_force_seed = 2
    other = _draws()
    assert first == again
    assert first != other


def test_an_explicit_seed_wins(forced_seed: None) -> None:
    hypothesis.core.global_force_seed = 5
    drawn: list[list[int]] = []
    for rng_seed in (0, 0, 1):
        cases: list[int] = []
        run_property(
            "draws",
            st.integers(0, 2**62),
            lambda x, cases=cases: (cases.append(x), Observation(0.0, 1.0))[1],
            max_examples=8,
            rng_seed=rng_seed,
        )
        drawn.append(cases)
    assert drawn[0] == drawn[1] != drawn[2]


def test_profile_scales_example_counts() -> None:
    loaded = settings().max_examples
    assert profile_examples(30) == max(1, round(30 * loaded / 25))
    assert profile_examples(30, profile_max=2000) == 2400 > profile_examples(30, profile_max=25)
