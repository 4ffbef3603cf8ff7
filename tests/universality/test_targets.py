"""Tests of the Lipschitz target strategies: no sampled pair exceeds the stated constant."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from verify.claims.properties import Observation, run_property
from verify.claims.universality.targets import (
    lipschitz_targets,
    make_sawtooth,
    tight_sawtooth,
    unit_box_pairs,
    with_constant,
    zigzag,
)

SHAPES = [(1, 1), (1, 2), (2, 1), (2, 2), (1, 4)]


@st.composite
def target_and_pair(draw, kinds=("clipped_affine", "sawtooth", "tanh_network"), wrong=1.0):
    d, L = draw(st.sampled_from(SHAPES))
    f = draw(lipschitz_targets(d, L, kinds=kinds))
    x, y = draw(unit_box_pairs(d, L))
    return with_constant(f, f.lipschitz * wrong), x, y


def lipschitz_ratio(case) -> Observation:
    """``‖f(x) − f(y)‖_max`` against ``C ‖x − y‖_max`` (plus float64 rounding slack)."""
    f, x, y = case
    gap = float(np.abs(f(x) - f(y)).max())
    allowed = f.lipschitz * float(np.abs(x - y).max()) + 1e-12
    return Observation(gap, allowed, f"Lipschitz quotient ({f.kind})")


def test_no_sampled_pair_exceeds_the_stated_constant():
    out = run_property(
        "targets are C-Lipschitz", target_and_pair(), lipschitz_ratio, max_examples=300
    )
    assert out.passed, out.counterexample
    assert out.cases == 300


def test_sawtooth_constant_is_tight():
    out = run_property(
        "sawtooth tightness",
        target_and_pair(kinds=("sawtooth",)),
        lipschitz_ratio,
        max_examples=200,
    )
    assert out.passed and out.worst_ratio > 0.999


def test_planted_wrong_constant_is_caught():
    out = run_property(
        "targets claiming C/2",
        target_and_pair(kinds=("sawtooth",), wrong=0.5),
        lipschitz_ratio,
        max_examples=200,
    )
    assert not out.passed
    assert "exceeds bound" in out.counterexample


@given(st.sampled_from(SHAPES), st.integers(0, 2**32 - 1))
def test_targets_map_the_box_into_the_box(shape, seed):
    d, L = shape
    rng = np.random.default_rng(seed)
    f = make_sawtooth(d, L, rng, 4.0)
    y = f(rng.random((L, d)))
    assert y.shape == (L, d) and y.min() >= 0 and y.max() <= 1


def test_zigzag_and_tight_sawtooth():
    s = np.linspace(-3, 3, 601)
    z = zigzag(s)
    assert z.min() == 0 and z.max() == 1
    assert np.abs(np.diff(z) / np.diff(s)).max() <= 1 + 1e-9
    f = tight_sawtooth(2, 2, 1.0, 8, 8)
    assert f(np.zeros((2, 2))).tolist() == [[0.0625] * 2] * 2
