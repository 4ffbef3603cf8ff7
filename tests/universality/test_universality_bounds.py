"""Tests of verify.claims.universality.bounds: agreement with the reference, rounding,
asymptotics."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from reference.constructions.layout import Layout
from reference.constructions.limits import ffn_widths
from reference.constructions.sizes import (
    band_width,
    contexts,
    decoder_ramps,
    inverse_temperature,
    power_of_two_at_least,
    precision_needed,
)
from verify.claims.universality import bounds as ub

GRID = [
    (d, L, K, Q)
    for d, L, K, Q in itertools.product([1, 2, 3], [1, 2, 3], [2, 4, 8], [2, 4, 16])
    if K ** (d * (L - 1)) <= 64
]


@pytest.mark.parametrize(("d", "L", "K", "Q"), GRID)
def test_reference_formulas_equal_the_sympy_expressions(d, L, K, Q):
    for k in (3, 20, 60):  # the band term wins at the smallest bands
        eta = Fraction(1, 2**k) if Fraction(1, 2**k) < Fraction(1, 2 * K) else Fraction(1, 4 * K)
        assert ub.precision_needed_fn(d, L, K, Q, float(eta)) == precision_needed(d, L, K, Q, eta)
    assert ub.inverse_temperature_fn(d, L, K, Q) == inverse_temperature(d, L, K, Q)
    assert ub.model_width_fn(d, L, K, Q) == Layout(d, L, K, Q).width
    assert ub.contexts_fn(d, L, K) == contexts(d, L, K)
    widths_in, widths_out = ffn_widths(d, L, K, Q)
    assert ub.ffn_in_units_fn(d, L, K) == sum(widths_in)
    assert ub.ffn_out_units_fn(d, L, K, Q) == sum(widths_out)
    assert ub.depth_out_fn(d, L, K) == len(widths_out)


@pytest.mark.parametrize("exponent", range(-20, 21))
@pytest.mark.parametrize("shift", [-1e-9, 0.0, 1e-9])
def test_grid_sizes_round_up_to_powers_of_two(exponent, shift):
    ratio = 2.0**exponent * (1 + shift)
    eps = 2.0**-8
    K = ub.cells_per_axis_fn(eps, ratio * eps)
    assert K == power_of_two_at_least(ratio)
    assert K >= ratio and K >= 2
    if ratio > 1:  # rounding up to a power of two at most doubles ⌈C/ε⌉
        assert K < 2 * ub.cells_per_axis_unrounded_fn(eps, ratio * eps)
    q = ub.levels_fn(2.0**-exponent) if exponent > 0 else 2
    assert q >= 2.0**exponent


@pytest.mark.parametrize("eps", [0.3, 0.1, 2.0**-5, 1e-3])
@pytest.mark.parametrize("C", [0.1, 1.0, 7.5])
def test_bound_meets_eps(eps, C):
    K, Q = ub.cells_per_axis_fn(eps, C), ub.levels_fn(eps)
    assert ub.error_bound_fn(C, K, Q) <= eps
    assert (K, Q) == (power_of_two_at_least(C / eps), power_of_two_at_least(1 / eps))


@pytest.mark.parametrize(("d", "L"), [(1, 1), (1, 3), (2, 2)])
@pytest.mark.parametrize("eps", [0.25, 0.01])
def test_band_measure_bounded_by_eps(d, L, eps):
    K = ub.cells_per_axis_fn(eps, 1.0)
    eta = ub.band_eta_fn(eps, d, L, K)
    assert eta == float(band_width(eps, d, L, int(K)))
    exact = ub.band_measure_fn(d, L, eta, K)
    assert exact <= ub.band_measure_bound_fn(d, L, eta, K) <= eps
    # Monte Carlo agreement of the exact band measure with a wide band
    wide = 1 / (4 * K)
    x = np.random.default_rng(0).random((200_000, d * L)) * K
    inside = (np.abs(x - np.clip(np.rint(x), 1, K - 1)) < wide * K).any(axis=1)
    assert abs(inside.mean() - ub.band_measure_fn(d, L, wide, K)) < 0.01


def test_asymptotics_by_sympy_limits():
    k = sp.Symbol("k", positive=True)
    x = sp.Symbol("x", positive=True)  # x = 1/ε
    # error ∝ 1/K: K·bound → (C + 1)/2 when Q = K
    assert sp.limit(ub.error_bound.subs(ub.Q, ub.K) * ub.K, ub.K, sp.oo) == (ub.C + 1) / 2
    # with K = Q = 1/ε the bound is exactly (C + 1) ε / 2 ... and its ratio to ε tends to that
    bound_eps = ub.error_bound.subs({ub.K: x, ub.Q: x})
    assert sp.limit(bound_eps * x, x, sp.oo) == (ub.C + 1) / 2
    # prompt rows grow like (C/ε)^d and bits per row like (C/ε)^{d(L−1)} log2(1/ε), for d, L fixed
    for d, L in [(1, 2), (2, 2), (1, 3)]:
        rows = ub.prompt_rows.subs({ub.d: d, ub.L: L, ub.K: ub.C * x})
        assert sp.limit(rows / (ub.C * x) ** d, x, sp.oo) == L
        bits = ub.bits_per_row.subs({ub.d: d, ub.L: L, ub.K: ub.C * x, ub.Q: x})
        assert sp.limit(bits / ((ub.C * x) ** (d * (L - 1)) * sp.log(x, 2)), x, sp.oo) == d
        # the decoder's largest weight carries as many bits as one channel's table
        log_w = sp.log(ub.max_weight_decoder.subs({ub.d: d, ub.L: L, ub.Q: 2**k, ub.K: 2}), 2)
        per_channel = (ub.contexts * sp.log(ub.Q, 2)).subs({ub.d: d, ub.L: L, ub.Q: 2**k, ub.K: 2})
        assert sp.limit(sp.expand_log(log_w, force=True) / per_channel, k, sp.oo) == 1
    # precision needed / information per channel → 1 (the guard bits are negligible)
    need = (ub.contexts * sp.log(ub.Q, 2) + ub.GUARD_BITS).subs({ub.d: 1, ub.L: 2, ub.Q: 16})
    assert (
        sp.limit(
            need / (ub.contexts * sp.log(ub.Q, 2)).subs({ub.d: 1, ub.L: 2, ub.Q: 16}), ub.K, sp.oo
        )
        == 1
    )
    # band measure bound with the default η stays below ε
    assert (
        sp.limit(
            ub.band_measure_bound.subs(ub.eta, ub.eps / (2 * ub.d * ub.L * ub.K)) / ub.eps,
            ub.eps,
            0,
        )
        == 1
    )


def test_symbols_carry_assumptions():
    assert ub.d.is_integer and ub.d.is_positive and ub.K.is_integer and ub.eps.is_positive
    assert ub.error_bound.free_symbols == {ub.C, ub.K, ub.Q}


@pytest.mark.parametrize(
    ("d", "L", "K", "Q"), [g for g in GRID if g[3] ** g[2] ** (g[0] * (g[1] - 1)) <= 2**12]
)
def test_wide_decoder_formulas_equal_the_reference(d, L, K, Q):
    assert ub.wide_decoder_ramps_fn(d, L, K, Q) == decoder_ramps(d, L, K, Q, "wide")
    assert ub.wide_model_width_fn(d, L, K, Q) == Layout(d, L, K, Q, "wide").width
    _, widths_out = ffn_widths(d, L, K, Q, "wide")
    assert ub.wide_ffn_out_units_fn(d, L, K, Q) == sum(widths_out)
    assert ub.wide_depth_out_fn(d, L, K) == len(widths_out)


@pytest.mark.parametrize(("d", "L"), [(1, 1), (1, 3), (2, 2), (3, 2)])
@pytest.mark.parametrize("eps", [0.5, 0.25, 0.1, 2.0**-7])
@pytest.mark.parametrize("C", [0.1, 1.0, 7.5])
@pytest.mark.parametrize("p", [1, 2, 3.5])
def test_lp_bound_meets_its_closed_form(d, L, eps, C, p):
    K, Q = ub.cells_per_axis_fn(eps, C), ub.levels_fn(eps)
    eta = ub.band_eta_fn(eps, d, L, K)
    e, band = ub.error_bound_fn(C, K, Q), ub.band_error_bound_fn(Q)
    assert e <= band < 1  # the band's bound is the larger one, and below 1
    lp = ub.lp_error_bound_fn(C, K, Q, d, L, eta, p)
    assert e <= lp <= ub.lp_error_bound_eps_fn(eps, p)


def test_lp_bound_vanishes_with_eps_and_is_the_sup_bound_without_band():
    x = sp.Symbol("x", positive=True)  # x = 1/ε
    for p in (1, 2, 7):
        closed = ub.lp_error_bound_eps.subs({ub.eps: 1 / x, ub.p_norm: p})
        assert sp.limit(closed, x, sp.oo) == 0
    no_band = ub.lp_error_bound.subs(ub.eta, 0)
    assert sp.simplify(no_band - ub.error_bound) == 0
    # the Hoeffding slack vanishes with the number of samples, leaving the exact bounds
    assert sp.limit(ub.hoeffding_deviation, ub.samples, sp.oo) == 0
    n_free = {1 / sp.sqrt(ub.samples): 0}  # the deviation is ∝ 1/√n
    assert sp.simplify(ub.sample_lp_error_bound.subs(n_free) - ub.lp_error_bound) == 0
    assert ub.band_fraction_bound.subs(n_free) == ub.band_measure
