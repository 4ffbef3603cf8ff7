"""Unit tests of reference.construct_memorizer: memorization, resources, backends, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import reference.constructions.lookup as construction
from reference import construct_memorizer, prompt_forward
from reference.constructions.memorization import min_token_separation
from verify.claims.universality import bounds as ub
from verify.claims.universality.strategies import grid_dataset


def test_memorizes_the_largest_float64_dataset():
    # d = 1, L = 2, K = 32 cells, Q = 2 levels: T log2 Q + 6 = 38 bits; all K^{dL} = 1024 seqs.
    xs, ys = grid_dataset(np.random.default_rng(0), 1024, 2, 1, 32)
    c = construct_memorizer(xs, ys, eps=0.5, separation=1 / 32)
    err = np.abs(prompt_forward(c.model, c.prompt, xs) - ys).max()
    assert err <= ub.memorizer_error_bound_fn(c.Q) < 0.5
    assert c.prompt_rows == ub.prompt_rows_fn(1, 2, 32) == 64
    assert c.bits_per_row == ub.bits_per_row_fn(1, 2, 32, 2) == 32
    assert c.precision_needed == ub.precision_needed_fn(1, 2, 32, 2, c.band)
    assert c.precision_needed <= c.precision_bits == 53


@pytest.mark.parametrize(("n", "L", "d", "K", "eps"), [(5, 1, 1, 8, 0.1), (16, 2, 2, 2, 0.2)])
def test_memorizes_small_datasets(n, L, d, K, eps):
    xs, ys = grid_dataset(np.random.default_rng(n), n, L, d, K)
    c = construct_memorizer(xs, ys, eps=eps, separation=1 / K)
    assert np.abs(c.forward(xs) - ys).max() <= 1 / (2 * c.Q) < eps
    assert c.K == ub.memorizer_cells_per_axis_fn(1 / K)


def test_wide_decoder_memorizes_too():
    xs, ys = grid_dataset(np.random.default_rng(7), 12, 2, 1, 4)
    c = construct_memorizer(xs, ys, eps=0.25, separation=0.25, decoder="wide")
    assert c.depth_out == 4
    assert np.abs(c.forward(xs) - ys).max() <= 1 / (2 * c.Q)


def test_mpmath_memorizes_beyond_float64():
    # d = 1, L = 2, K = 16, Q = 16: 64 + 6 bits; 256 sequences; check a sample of them.
    xs, ys = grid_dataset(np.random.default_rng(1), 256, 2, 1, 16)
    with pytest.raises(ValueError, match="lacks the precision"):
        construct_memorizer(xs, ys, eps=1 / 16, separation=1 / 16)
    c = construct_memorizer(xs, ys, eps=1 / 16, separation=1 / 16, backend="mpmath")
    assert c.precision_bits >= c.precision_needed > 53
    assert np.abs(c.forward(xs[:2]) - ys[:2]).max() <= 1 / 32
    wrong = construct_memorizer(xs, ys, eps=1 / 16, separation=1 / 16, check_precision=False)
    assert np.abs(wrong.forward(xs) - ys).max() > 1 / 32


def test_model_does_not_depend_on_the_data():
    rng = np.random.default_rng(2)
    a = construct_memorizer(*grid_dataset(rng, 4, 2, 1, 4), eps=0.25, separation=0.25)
    b = construct_memorizer(*grid_dataset(rng, 9, 2, 1, 4), eps=0.25, separation=0.25)
    for la, lb in zip(a.model.ffn_out, b.model.ffn_out, strict=True):
        assert np.array_equal(la.w1, lb.w1) and np.array_equal(la.b1, lb.b1)
    assert np.array_equal(a.model.attn.w_k, b.model.attn.w_k)
    assert not np.array_equal(a.prompt, b.prompt)


def test_default_separation_is_the_data_minimum():
    xs = np.array([[[0.125], [0.625]], [[0.625], [0.375]]])
    ys = np.full_like(xs, 0.5)
    assert min_token_separation(xs) == 0.25
    c = construct_memorizer(xs, ys, eps=0.25)
    assert c.K == 4


# ----------------------------------------------------------------------------- bad input
def _forbid_allocation(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("allocated before validation")

    monkeypatch.setattr(construction, "lookup_spec", forbidden)


@pytest.mark.parametrize(
    ("xs", "ys", "kwargs", "match"),
    [
        ([[[0.1]], [[0.1]]], [[[0.2]], [[0.3]]], {}, r"duplicates at indices \[0, 1\]"),
        ([[[0.1]], [[0.2]]], [[[0.2]], [[0.3]]], {"separation": 0.25}, "token-separated"),
        ([[[0.1]], [[1.2]]], [[[0.2]], [[0.3]]], {}, r"xs: expected values in \[0, 1\]"),
        ([[[0.1]], [[0.7]]], [[[0.2]], [[1.3]]], {}, r"ys: expected values in \[0, 1\]"),
        ([[[0.1]], [[0.7]]], [[[0.2]]], {}, "ys: expected the shape of xs"),
        (
            [[[0.1]], [[0.5]]],
            [[[0.2]], [[0.3]]],
            {"separation": 0.25},
            "exactly on the cell boundary 2/4: no band excludes it",
        ),
        ([[[0.1]], [[0.5 + 1e-12]]], [[[0.2]], [[0.3]]], {"separation": 0.25}, "within the band"),
        ([[[0.1]], [[0.7]]], [[[0.2]], [[0.3]]], {"eps": 1.0}, "eps"),
        ([[[0.1]], [[0.7]]], [[[0.2]], [[0.3]]], {"backend": "x"}, "backend"),
        ([[[0.1]], [[0.7]]], [[[0.2]], [[0.3]]], {"decoder": "x"}, "decoder"),
        ([[[0.1]], [[0.7]]], [[[0.2]], [[0.3]]], {"separation": -1.0}, "separation"),
        ([[[0.1]], [[0.7]]], [[[0.2]], [[0.3]]], {"band": 0.4}, "band"),
        ([0.1, 0.7], [0.2, 0.3], {}, "xs: expected an array of rank 3"),
    ],
)
def test_bad_datasets_are_rejected_before_allocation(monkeypatch, xs, ys, kwargs, match):
    _forbid_allocation(monkeypatch)
    args = {"eps": 0.25, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        construct_memorizer(np.array(xs), np.array(ys), **args)


def test_lacking_precision_is_refused_before_allocation(monkeypatch):
    _forbid_allocation(monkeypatch)
    xs, ys = grid_dataset(np.random.default_rng(3), 8, 2, 1, 16)
    with pytest.raises(ValueError, match="lacks the precision"):
        construct_memorizer(xs, ys, eps=1 / 16, separation=1 / 16)


def test_separation_rounded_below_a_power_of_two_does_not_double_K():
    # 0.35 − 0.1 = 0.24999999999999997 in binary: K stays 4 (it was 8, and 262 bits for d = 2)
    xs = np.array([[[0.1, 0.1], [0.35, 0.35]], [[0.35, 0.1], [0.1, 0.35]]])
    ys = np.full_like(xs, 0.5)
    c = construct_memorizer(xs, ys, eps=0.25)
    assert c.K == 4 == ub.memorizer_cells_per_axis_fn(0.25)
    assert c.precision_needed <= 53
    assert np.abs(c.forward(xs) - ys).max() <= 1 / (2 * c.Q)
    c = construct_memorizer(xs, ys, eps=0.25, separation=0.25)  # the stated δ is accepted too
    assert c.K == 4


def test_memorizer_size_hint_names_the_separation(monkeypatch):
    _forbid_allocation(monkeypatch)
    xs = np.array([[[0.001], [0.5]], [[0.5], [0.001]]])
    with pytest.raises(ValueError, match="cells K = 1024 come from separation"):
        construct_memorizer(xs, np.full_like(xs, 0.5), eps=0.25, separation=2.0**-10)


def test_min_token_separation_validates_xs() -> None:
    with pytest.raises(ValueError, match="xs: expected at least two distinct tokens"):
        min_token_separation(np.zeros((2, 3, 1)))
    with pytest.raises(ValueError, match="xs: token differences overflow"):
        min_token_separation(np.array([[[1.5e308], [-1.5e308]]]))
    with pytest.raises(TypeError, match="xs:"):
        min_token_separation("x")
