"""The memorizer's separation test at its exact boundary: two tokens at distance exactly
``separation · (1 − SEPARATION_RTOL)`` are accepted, one float below it refused (a ``<`` written
``<=`` refused a dataset the theorem covers; nothing else in the suite met the boundary). All
numbers are dyadic, so every difference is exact.
"""

from __future__ import annotations

import numpy as np
import pytest

from reference import construct_memorizer
from reference.constructions.memorization import SEPARATION_RTOL

SEPARATION = 0.25


def dataset(gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Two one-token sequences at distance ``gap`` (computed exactly: both are dyadic)."""
    xs = np.array([[[0.125]], [[0.125 + gap]]])  # (N=2, L=1, d=1)
    assert xs[1, 0, 0] - xs[0, 0, 0] == gap  # no rounding: the boundary is met exactly
    return xs, np.array([[[0.25]], [[0.75]]])


def test_gap_exactly_at_the_limit_is_accepted() -> None:
    limit = SEPARATION * (1 - SEPARATION_RTOL)
    built = construct_memorizer(*dataset(limit), eps=0.25, separation=SEPARATION)
    assert built.error_bound > 0


def test_gap_just_below_the_limit_is_refused() -> None:
    below = SEPARATION * (1 - SEPARATION_RTOL) - 2.0**-42
    with pytest.raises(ValueError, match="separation"):
        construct_memorizer(*dataset(below), eps=0.25, separation=SEPARATION)
