"""The shallow model (one FFN layer on each side of the attention): exactness, the bound off the
band on held-out targets, shapes equal to the sympy formulas, refusal above the budget."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

import reference.constructions.lookup as construction
from reference import construct_memorizer, construct_universal, prompt_forward
from reference.constructions.layout import Layout
from reference.constructions.limits import ffn_widths
from reference.constructions.sizes import shallow_precision_needed
from verify.claims.universality import bounds as ub
from verify.claims.universality import decoder_bounds as bd
from verify.claims.universality.checks import grid_deviation
from verify.claims.universality.strategies import grid_dataset
from verify.claims.universality.targets import make_clipped_affine, make_sawtooth, tight_sawtooth

CASES = [  # (d, L, lipschitz, eps): every d·L <= 4, float64
    (1, 1, 1.0, 2.0**-5),
    (1, 2, 1.0, 0.25),
    (1, 3, 0.5, 0.5),
    (1, 4, 1.0, 0.5),
    (2, 1, 1.0, 0.25),
    (2, 2, 0.5, 0.5),
    (3, 1, 0.5, 0.25),
]


def _held_out_targets(d: int, L: int, lipschitz: float, seed: int):
    rng = np.random.default_rng(seed)
    return [make_clipped_affine(d, L, rng, lipschitz), make_sawtooth(d, L, rng, lipschitz)]


def test_paper_shape_d1_L2_meets_the_bound_off_the_band_on_held_out_targets():
    d, L, C, eps = 1, 2, 1.0, 0.25
    xs = np.random.default_rng(100).random((400, L, d))  # (B, L, d)
    for seed in range(3):
        for f in _held_out_targets(d, L, C, seed):
            c = construct_universal(f, d=d, L=L, lipschitz=C, eps=eps, decoder="shallow")
            assert c.depth_in == c.depth_out == 1
            assert len(c.model.ffn_in) == len(c.model.ffn_out) == 1
            keep = c.off_band(xs)
            out = prompt_forward(c.model, c.prompt, xs[keep])  # the ordinary evaluation path
            err = np.abs(out - np.stack([f(x) for x in xs[keep]])).max()
            assert keep.sum() > 300
            assert err <= ub.error_bound_fn(C, c.K, c.Q) <= eps


@pytest.mark.parametrize(("d", "L", "lipschitz", "eps"), CASES)
def test_widths_and_resources_equal_the_sympy_formulas(d, L, lipschitz, eps):
    f = make_sawtooth(d, L, np.random.default_rng(1), lipschitz)
    c = construct_universal(f, d=d, L=L, lipschitz=lipschitz, eps=eps, decoder="shallow")
    K, Q = c.K, c.Q
    assert c.ffn_in_widths == (bd.shallow_ffn_in_width_fn(d, L, K),)
    assert c.ffn_out_widths == (bd.shallow_ffn_out_width_fn(d, L, K, Q),)
    assert c.model.width == bd.shallow_model_width_fn(d, L, K)
    assert c.model.attn.w_q.shape[1] == bd.shallow_key_width_fn(d, L)
    assert c.model.attn.w_v.shape[1] == bd.shallow_value_width_fn(d, L, K)
    assert c.prompt_rows == c.prompt.shape[0] == bd.shallow_prompt_rows_fn(d, L, K)
    assert c.precision_needed == bd.shallow_precision_needed(d, L, K, Q, c.band)
    assert c.beta == bd.shallow_inverse_temperature_fn(d, L, K, Q, c.precision_bits)
    assert c.bits_per_row == ub.bits_per_row_fn(d, L, K, Q)
    shape = bd.shape_formulas("shallow", d, L, K, Q, c.band)
    arrays = [c.model.embed, c.model.readout, c.model.positional, c.model.attn.w_q]
    arrays += [c.model.attn.w_k, c.model.attn.w_v, c.model.attn.w_o]
    arrays += [w for layer in (*c.model.ffn_in, *c.model.ffn_out) for w in vars(layer).values()]
    assert sum(a.size for a in arrays) == shape["parameters"]
    assert c.max_weight == max(float(np.abs(w).max()) for w in arrays)


@pytest.mark.parametrize(("d", "L", "lipschitz", "eps"), CASES)
def test_every_grid_sequence_decodes_exactly_and_agrees_with_deep(d, L, lipschitz, eps):
    f = make_clipped_affine(d, L, np.random.default_rng(2), lipschitz)
    c = construct_universal(f, d=d, L=L, lipschitz=lipschitz, eps=eps, decoder="shallow")
    assert grid_deviation(c, f).max() == 0.0
    deep = construct_universal(f, d=d, L=L, lipschitz=lipschitz, eps=eps)
    xs = np.random.default_rng(3).random((64, L, d))
    xs = xs[c.off_band(xs)]
    assert np.array_equal(c.forward(xs), deep.forward(xs))


def test_tight_sawtooth_attains_the_bound_exactly():
    K = Q = 4
    f = tight_sawtooth(1, 2, 1.0, K, Q)
    c = construct_universal(f, d=1, L=2, lipschitz=1.0, eps=1 / Q, decoder="shallow")
    x = np.zeros((2, 1))
    assert np.abs(c.forward(x) - f(x)).max() == ub.error_bound_fn(1.0, K, Q)


def test_mpmath_backend_is_exact_and_precision_formula_matches_reference():
    f = make_sawtooth(1, 2, np.random.default_rng(4), 1.0)
    c = construct_universal(
        f, d=1, L=2, lipschitz=1.0, eps=0.25, decoder="shallow", backend="mpmath"
    )
    assert c.prompt.dtype == object and c.precision_bits > c.precision_needed
    assert grid_deviation(c, f, limit=3).max() == 0.0
    for d, L, K, Q in [(1, 2, 4, 4), (2, 2, 2, 8), (4, 1, 16, 2), (1, 3, 8, 2)]:
        for eta in (Fraction(1, 64), Fraction(1, 1 << 30)):
            assert shallow_precision_needed(d, L, K, Q, eta) == bd.shallow_precision_needed(
                d, L, K, Q, float(eta)
            )


def test_prompt_rows_pass_ffn_in_and_gated_steps_are_exact():
    f = make_sawtooth(2, 2, np.random.default_rng(5), 0.5)
    c = construct_universal(f, d=2, L=2, lipschitz=0.5, eps=0.5, decoder="shallow")
    layer = c.model.ffn_in[0]
    assert np.array_equal(layer(c.prompt), c.prompt)
    x = np.array([[0.1, 0.9], [0.6, 0.3]])  # K = 2: cells (0, 1) at position 0, (1, 0) at 1
    z = layer(c.model.embed_inputs(x))  # (L, D)
    start, size = Layout(2, 2, 2, 2, "shallow").blocks()["g"]
    steps = z[:, start : start + size]  # g_{p,r,1}, p-major
    assert steps.tolist() == [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]


def test_memorizer_shallow():
    xs, ys = grid_dataset(np.random.default_rng(7), 12, 2, 1, 4)
    c = construct_memorizer(xs, ys, eps=0.25, separation=0.25, decoder="shallow")
    assert c.depth_in == c.depth_out == 1
    assert np.abs(c.forward(xs) - ys).max() <= ub.memorizer_error_bound_fn(c.Q)


def test_too_large_is_refused_by_name_before_any_allocation(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("allocated before the size check")

    monkeypatch.setattr(construction, "lookup_spec", forbidden)
    calls = []

    def f(x):
        calls.append(1)
        return np.full_like(x, 0.5)

    with pytest.raises(ValueError, match=r"shallow decoder's ramps.*exceeds the limit 16777216"):
        construct_universal(f, d=1, L=2, lipschitz=1.0, eps=2.0**-5, decoder="shallow")
    with pytest.raises(
        ValueError, match=r"dense FFN weights .* of the shallow model = \d+ exceeds"
    ):
        construct_universal(f, d=2, L=2, lipschitz=2.0, eps=0.5, decoder="shallow")
    assert not calls


SIZES = [
    (d, L, K, Q)
    for d, L, (K, Q) in itertools.product([1, 2, 3], [1, 2, 3, 4, 5], [(2, 2), (4, 4), (8, 2)])
    if K ** (d * (L - 1)) <= 64
]


@pytest.mark.parametrize(("d", "L", "K", "Q"), SIZES)
def test_reference_sizes_equal_the_sympy_expressions_without_building(d, L, K, Q):
    from reference.constructions.sizes import (
        shallow_inverse_temperature,
        shallow_prompt_rows,
        shallow_tie_rows,
    )

    widths_in, widths_out = ffn_widths(d, L, K, Q, "shallow")
    size = {"d": d, "L": L, "K": K, "Q": Q}
    assert widths_in == (bd.exact(bd.shallow_ffn_in_width, **size),)
    assert widths_out == (bd.exact(bd.shallow_ffn_out_width, **size),)
    assert Layout(d, L, K, Q, "shallow").width == bd.exact(bd.shallow_model_width, **size)
    assert shallow_tie_rows(L) == bd.shallow_tie_rows_fn(L) >= L + 1
    assert shallow_prompt_rows(d, L, K) == bd.shallow_prompt_rows_fn(d, L, K)
    for p in (21, 53, 200):
        assert shallow_inverse_temperature(d, L, K, Q, p) == bd.shallow_inverse_temperature_fn(
            d, L, K, Q, p
        )
