"""The definition premises of the universality derivations, read off the built objects, and the
derivations' planted wrong steps (``verify/derive/derivations/universality*.py``)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from reference import construct_universal
from reference.constructions.layout import Layout
from reference.constructions.limits import ffn_widths
from reference.constructions.sizes import band_bits, inverse_temperature, shallow_slope
from reference.constructions.spec import lookup_spec
from reference.constructions.universality import grid_sizes
from verify.claims.universality import bounds as ub
from verify.claims.universality.targets import make_sawtooth
from verify.derive import DerivationError, derivation, derivation_names
from verify.derive.derivations import universality as uu
from verify.derive.derivations import universality_sizes as us
from verify.derive.derivations import universality_widths as uw

SIZES = [(1, 1, 4, 4), (1, 2, 2, 4), (2, 2, 2, 2), (1, 3, 2, 2), (2, 1, 4, 2)]


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def test_off_the_band_the_quantizer_reads_the_cell_of_the_input():
    c = construct_universal(_identity, d=1, L=1, lipschitz=1.0, eps=0.125)
    xs = np.random.default_rng(0).random((400, 1, 1))  # (B, L, d)
    keep = c.off_band(xs)
    centres = (np.floor(xs[keep] * c.K) + 0.5) / c.K  # (B', 1, 1)
    levels = (np.minimum(np.floor(centres * c.Q), c.Q - 1) + 0.5) / c.Q
    assert np.array_equal(c.forward(xs[keep]), levels)  # the level of X's own cell centre
    assert np.abs(xs[keep] - centres).max() <= 1 / (2 * c.K)  # cell radius 1/(2K)


def test_grid_outputs_are_level_centres_within_half_a_level():
    f = make_sawtooth(2, 1, np.random.default_rng(1), 1.0)
    c = construct_universal(f, d=2, L=1, lipschitz=1.0, eps=0.25)
    centres = (np.stack(np.meshgrid(*[np.arange(c.K)] * 2), -1).reshape(-1, 1, 2) + 0.5) / c.K
    out = c.forward(centres)  # (S, 1, 2)
    level = out * c.Q - 0.5
    assert np.array_equal(level, np.round(level))  # level centres
    truth = np.stack([f(x) for x in centres])
    assert np.abs(out - truth).max() <= 1 / (2 * c.Q)


def test_the_band_is_the_union_of_the_boundary_intervals():
    c = construct_universal(_identity, d=1, L=1, lipschitz=1.0, eps=0.25)
    K, eta = c.K, c.band
    xs = np.linspace(0, 1, 4097)[:, None, None]  # (B, 1, 1), dyadic
    near = np.abs(xs[:, 0, 0, None] - np.arange(1, K) / K).min(axis=1) < eta  # (B,)
    assert np.array_equal(~c.off_band(xs), near)
    assert eta < 1 / (2 * K)  # the K − 1 intervals are disjoint
    measure = float(ub.band_measure_fn(1, 1, eta, K))
    assert measure == pytest.approx(near.mean(), abs=2 * K / 4096)  # grid points per edge


@pytest.mark.parametrize("decoder", ["deep", "wide", "shallow"])
def test_the_readout_is_the_level_plus_a_half_over_Q(decoder):
    d, L, K, Q = 2, 1, 2, 4
    spec = lookup_spec(d, L, K, Q, Fraction(1, 16), 16, decoder)
    lay = Layout(d, L, K, Q, decoder)
    for r in range(d):
        column = {c: w for (c, out), w in spec.readout.items() if out == r}
        assert column == {lay.at("acc", r): Fraction(1, Q), lay["one"]: Fraction(1, 2 * Q)}


def test_K_and_Q_are_the_smallest_powers_of_two_meeting_the_targets():
    for eps, C in [(0.1, 1.0), (0.25, 1.0), (0.375, 3.0), (0.3, 0.5), (0.5, 0.1)]:
        K, Q = grid_sizes(eps, C)
        assert K >= C / eps and (K == 2 or K / 2 < C / eps)
        assert Q >= 1 / eps and (Q == 2 or Q / 2 < 1 / eps)
        assert (K, Q) == (int(ub.cells_per_axis_fn(eps, C)), int(ub.levels_fn(eps)))


def test_the_default_band_is_the_largest_power_of_two_meeting_the_budget():
    for d, L, eps in [(1, 1, 0.1), (2, 2, 0.25), (1, 3, 0.25), (3, 1, 0.375)]:
        c = construct_universal(
            lambda x: np.clip(x, 0, 1), d=d, L=L, lipschitz=0.5, eps=eps, decoder="deep"
        )
        budget = eps / (2 * d * L * c.K)
        assert c.band <= budget < 2 * c.band
        assert c.band == float(ub.band_eta_fn(eps, d, L, c.K))


@pytest.mark.parametrize(("d", "L", "K", "Q"), SIZES)
def test_the_attention_weights_and_logit_inputs_read_off_the_spec(d, L, K, Q):
    beta = inverse_temperature(d, L, K, Q)
    spec = lookup_spec(d, L, K, Q, Fraction(1, 4 * K), beta, "deep")
    lay = Layout(d, L, K, Q, "deep")
    assert spec.w_k == {
        (lay["pk1"], 0): 2 * beta,
        (lay["one"], 1): beta,
        (lay["pk2"], 2): -beta,
    }
    assert spec.w_q == {(lay["u"], 0): 1, (lay["u2"], 1): 1, (lay["one"], 2): 1}
    n = L * K**d  # token ids u, m < n: logit partial sums <= 2βn̄² + βn̄² + βn̄²
    n_up = 2 ** int(np.ceil(np.log2(n)))
    bits = derivation("universality.logit_bits").result
    assert sp.nsimplify(bits.subs({us.beta: beta, us.rows_up: n_up})) == sp.log(
        4 * beta * n_up**2, 2
    )
    # the gap to non-matching rows is >= β: β(u² − (u − m)²) <= β(u² − 1) for m ≠ u
    gap = min(
        beta * (u * u) - beta * (u * u - (u - m) ** 2) for u in range(n) for m in range(n) if m != u
    )
    assert gap >= beta
    assert 2 * n * np.exp(-beta) <= 2.0 ** -(ub.contexts_fn(d, L, K) * np.log2(Q) + 4)


@pytest.mark.parametrize(("d", "L", "K", "Q"), SIZES)
def test_ffn_out_layer_widths_are_the_counted_units(d, L, K, Q):
    T = K ** (d * (L - 1))
    spec = lookup_spec(d, L, K, Q, Fraction(1, 4 * K), 16, "deep")
    widths = [len(layer) for layer in spec.ffn_out]
    assert len(widths) == 2 * T + 2 and len(spec.ffn_in) == 3
    assert tuple(widths) == ffn_widths(d, L, K, Q)[1]
    assert [len(layer) for layer in spec.ffn_in] == [d * (K - 1), 2 * d * (K - 1), L * K**d - 1 + L]
    for k in range(2, T):  # the middle layers A_k, B_k
        assert widths[2 * k] == d * (2 * Q + 3) and widths[2 * k + 1] == 2 * d * (Q - 1)
    assert sum(widths) == int(ub.ffn_out_units_fn(d, L, K, Q))
    wide = lookup_spec(d, L, K, Q, Fraction(1, 4 * K), 16, "wide")
    assert len(wide.ffn_out) == 3 + min(1, T - 1)
    assert sum(len(layer) for layer in wide.ffn_out) == int(ub.wide_ffn_out_units_fn(d, L, K, Q))
    shallow = lookup_spec(d, L, K, Q, Fraction(1, 4 * K), 64, "shallow")
    ramps = int(ub.wide_decoder_ramps_fn(d, L, K, Q))
    assert len(shallow.ffn_out[0]) == 2 * L * ramps


@pytest.mark.parametrize(("d", "L", "K", "Q"), SIZES)
def test_prompt_rows_and_contexts_of_the_built_model(d, L, K, Q):
    c = construct_universal(_identity, d=d, L=L, lipschitz=K / Q, eps=1 / Q)
    T, rows, bits = K ** (d * (L - 1)), L * K**d, K ** (d * (L - 1)) * d * (Q.bit_length() - 1)
    assert (c.K, c.Q, c.contexts, c.prompt_rows, c.bits_per_row) == (K, Q, T, rows, bits)
    assert int(ub.contexts_fn(d, L, K)) == T and int(ub.prompt_rows_fn(d, L, K)) == rows
    assert int(ub.bits_per_row_fn(d, L, K, Q)) == bits
    packed = c.prompt.shape[0]
    assert packed == rows  # one row per (position, cell) id


@pytest.mark.parametrize("decoder", ["deep", "wide", "shallow"])
@pytest.mark.parametrize(("d", "L", "K", "Q"), SIZES)
def test_layout_blocks_are_the_counted_coordinates(decoder, d, L, K, Q):
    blocks = Layout(d, L, K, Q, decoder).blocks()
    names = {
        "deep": list(uw._deep_blocks(d * (Q - 1))),
        "wide": list(uw._deep_blocks(uw.ramps_g)),
        "shallow": [
            "x",
            "one",
            "pos",
            "g",
            "pk",
            "pk2",
            "pkpos",
            "pv",
            "rem0",
            "ag",
            "apos",
            "acc",
        ],
    }[decoder]
    assert list(blocks) == names
    width = {"deep": ub.model_width_fn, "wide": ub.wide_model_width_fn}
    formula = (
        int(width[decoder](d, L, K, Q))
        if decoder in width
        else 5 * d + 3 * L + 2 + 2 * L * d * (K - 1)
    )
    assert Layout(d, L, K, Q, decoder).width == formula


@pytest.mark.parametrize(("d", "L", "K", "Q"), SIZES)
def test_the_largest_weight_is_within_its_kinds(d, L, K, Q):
    eta = Fraction(1, 4 * K)
    beta = inverse_temperature(d, L, K, Q)
    spec = lookup_spec(d, L, K, Q, eta, beta, "deep")
    weights = [
        abs(w)
        for layer in spec.ffn_in + spec.ffn_out
        for u in layer
        for w in [*u.w_in.values(), *u.w_out.values()]
    ]
    weights += [abs(w) for m in (spec.w_q, spec.w_k, spec.w_v, spec.w_o) for w in m.values()]
    T = K ** (d * (L - 1))
    assert max(weights) <= max(2 * Q**T, 1 / (2 * eta), 2 * beta, L * K**d, L + 1)
    first = max(w for u in spec.ffn_out[0] for w in u.w_in.values())
    assert first == 2 * Q**T  # the first decoder ramp attains 2Q^T


# ----------------------------------------------------------------- planted wrong steps
PLANTED = [  # (derivation, step, wrong expression, what was planted)
    ("universality.error_off_band", 2, ub.C / ub.K + uu.q_err, "1/K for 1/(2K)"),
    (
        "universality.precision_needed",
        4,
        sp.Max(us.t_bits + 6, us.log2(us.beta) + 2 * us.log2(us.rows_up) + 2),
        "the band term dropped from the precision",
    ),
    (
        "universality.band_measure",
        2,
        1 - (1 - 2 * ub.eta * ub.K) ** (ub.d * ub.L),
        "K boundaries for K − 1",
    ),
    ("universality.in_band_error_shallow", 4, 1 - 1 / ub.Q, "1 − 1/Q for 1 − 1/(2Q)"),
]


@pytest.mark.parametrize(("name", "step", "wrong", "what"), PLANTED)
def test_a_planted_wrong_step_is_rejected(name, step, wrong, what):
    with pytest.raises(DerivationError) as caught:
        derivation(name).replay(claims={step: wrong})
    assert caught.value.step == step, what


def test_every_universality_derivation_checks_and_shallow_band_bits_match_the_reference():
    for name in [n for n in derivation_names() if n.startswith("universality.")]:
        assert derivation(name).steps
    bits = derivation("universality.precision_band_shallow").result
    for k in (3, 7, 20):
        eta = Fraction(1, 2**k)
        assert int(bits.subs(ub.eta, sp.Rational(1, 2**k))) == band_bits(eta, 4, "shallow")
        assert shallow_slope(eta) == 2**k


@pytest.mark.parametrize(("d", "L", "K", "Q"), SIZES)
def test_the_deep_decoder_ramps_sit_half_way_at_their_thresholds(d, L, K, Q):
    """Every digit ramp of the deep decoder, ``ReLU(s (rem − j/Q) + 1/2)``, is exactly 1/2 at its
    threshold ``rem = j/Q``: equal margins below (``<= 0``) and above (``>= 1``), the margin the
    precision derivation assumes. (A bias of 1/4 leaves exact outputs unchanged and halves one
    margin: the mutation corpus's ``deep-decoder-ramp-bias``.)"""
    spec = lookup_spec(d, L, K, Q, Fraction(1, 8 * K), 4)
    lay = Layout(d, L, K, Q)
    start, size = lay.blocks()["dg"]
    rem0 = {lay.at("rem0", r) for r in range(d)}
    rem1 = {lay.at("rem1", r) for r in range(d)}
    ramps = [
        unit
        for layer in spec.ffn_out
        for unit in layer
        if len(unit.w_out) == 1 and start <= next(iter(unit.w_out)) < start + size
    ]
    assert ramps and len(ramps) % (d * (Q - 1)) == 0  # Q − 1 ramps per digit and channel
    for unit in ramps:
        j = (next(iter(unit.w_out)) - start) % (Q - 1) + 1
        (src,) = (c for c in unit.w_in if c in rem0 | rem1)
        first_digit = all(c in rem0 for c in unit.w_in)
        slope = unit.w_in[src] if first_digit else unit.w_in[src] / Q  # s, per unit of rem_k
        assert unit.bias + slope * Fraction(j, Q) == Fraction(1, 2)
