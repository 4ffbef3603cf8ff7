"""The quantizer's precision (issue 15): the band term of ``precision_needed`` for every decoder,
read off the built spec; the reproducer and its ``band`` variants right or refused by name."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from reference import construct_memorizer, construct_universal
from reference.constructions.limits import check_sizes
from reference.constructions.sizes import (
    band_bits,
    decoder_precision_needed,
    preactivation_bits,
    precision_needed,
    quantizer_ramp,
    shallow_ramp_bias,
    shallow_slope,
)
from reference.constructions.spec import lookup_spec

#: The issue's reproducer: a memorizer with every default (band 2^-30) on the mpmath backend.
XS = np.array([[[0.125], [0.375]], [[0.625], [0.875]]])  # (N, L, d)
YS = np.array([[[0.9], [0.2]], [[0.3], [0.4]]])  # (N, L, d)


def _error(c, xs, truth) -> float:
    return float(np.abs(np.asarray(c.forward(xs, on_band="ignore"), float) - truth).max())


def test_the_reproducer_memorizer_default_on_mpmath_is_right():
    c = construct_memorizer(XS, YS, eps=0.25, backend="mpmath")  # all defaults
    assert c.precision_needed == 31 == band_bits(Fraction(1, 2**30), c.K)
    assert c.precision_bits >= c.precision_needed
    assert _error(c, XS, YS) <= c.error_bound == 0.125


@pytest.mark.parametrize("backend", ["float64", "mpmath", "exact"])
def test_the_memorizer_defaults_build_on_every_backend(backend):
    c = construct_memorizer(XS, YS, eps=0.25, backend=backend)  # a refused default is a bug
    assert _error(c, XS, YS) <= c.error_bound


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def test_float64_band_variants_are_right_up_to_the_term_and_refused_beyond():
    xs = np.random.default_rng(0).random((64, 1, 1))  # (B, L, d)
    for k in (40, 52):
        c = construct_universal(_identity, d=1, L=1, lipschitz=1.0, eps=0.25, band=2.0**-k)
        assert c.precision_needed == k + 1 <= 53
        keep = c.off_band(xs)
        assert _error(c, xs[keep], xs[keep]) <= c.error_bound
    for k in (53, 55, 60):
        with pytest.raises(ValueError, match=r"band: .* needs .* bits .*backend='exact'"):
            construct_universal(_identity, d=1, L=1, lipschitz=1.0, eps=0.25, band=2.0**-k)


def test_the_band_term_is_what_keeps_float64_right():
    """The planted violation of the term: building anyway past it gives wrong outputs off the band
    (the issue's k >= 55), which a precision without the band term would have accepted."""
    xs = np.random.default_rng(1).random((64, 1, 1))  # (B, L, d)
    c = construct_universal(
        _identity, d=1, L=1, lipschitz=1.0, eps=0.25, band=2.0**-56, check_precision=False
    )
    keep = c.off_band(xs)
    assert precision_needed(1, 1, c.K, c.Q) <= 53 < c.precision_needed  # without, with the term
    assert _error(c, xs[keep], xs[keep]) > c.error_bound


@pytest.mark.parametrize("k", [30, 40])
def test_mpmath_band_variants_are_right(k):
    xs = np.random.default_rng(2).random((16, 1, 1))  # (B, L, d)
    c = construct_universal(
        _identity, d=1, L=1, lipschitz=1.0, eps=0.25, backend="mpmath", band=2.0**-k
    )
    assert c.precision_needed == k + 1
    keep = c.off_band(xs)
    assert _error(c, xs[keep], xs[keep]) <= c.error_bound


@pytest.mark.parametrize("decoder", ["deep", "wide"])
@pytest.mark.parametrize(("K", "k"), [(2, 3), (4, 5), (4, 30), (8, 12)])
def test_quantizer_ramp_slope_and_bias_read_off_the_built_spec(decoder, K, k):
    """Definition premise ``universality:ramp``: every first-layer ``FFN_in`` unit is
    ``ReLU(x_r/(2η) − flag + 1/2 − j/(2ηK))``, and ``band_bits`` equals the bits read off it."""
    eta = Fraction(1, 2**k)
    spec = lookup_spec(2, 1, K, 2, eta, 4, decoder)  # T = 1: the wide spec stays small
    ramps = spec.ffn_in[0]
    assert len(ramps) == 2 * (K - 1)
    for i, unit in enumerate(ramps):
        j = i % (K - 1) + 1
        slope, bias = sorted(unit.w_in.values(), reverse=True)
        assert (slope, bias) == (1 / (2 * eta), -1)  # the weight on x_r, the flag's
        assert unit.bias == Fraction(1, 2) - Fraction(j) / (2 * eta * K)
        assert (slope, unit.bias) == quantizer_ramp(eta, K, j)
    read = max(preactivation_bits(list(u.w_in.values()), u.bias) for u in ramps)
    assert read == band_bits(eta, K) == k + 1


@pytest.mark.parametrize(("K", "k"), [(2, 3), (4, 5), (4, 20)])
def test_shallow_gated_step_ramps_read_off_the_built_spec(K, k):
    eta = Fraction(1, 2**k)
    spec = lookup_spec(1, 2, K, 2, eta, 64, "shallow")
    s = shallow_slope(eta)
    for unit in spec.ffn_in[0]:
        assert sorted(unit.w_in.values()) == [s, s]
        assert unit.bias in {shallow_ramp_bias(eta, K, j) - e for j in range(1, K) for e in (0, 1)}
    read = max(preactivation_bits(list(u.w_in.values()), u.bias) for u in spec.ffn_in[0])
    assert read == band_bits(eta, K, "shallow")


@pytest.mark.parametrize("decoder", ["deep", "wide", "shallow"])
def test_every_decoder_counts_the_band(decoder):
    small, tiny = Fraction(1, 2**6), Fraction(1, 2**40)
    assert decoder_precision_needed(1, 2, 2, 2, decoder, tiny) >= band_bits(tiny, 2, decoder)
    assert decoder_precision_needed(1, 2, 2, 2, decoder, tiny) > decoder_precision_needed(
        1, 2, 2, 2, decoder, small
    )


def test_a_band_that_is_not_a_power_of_two_is_refused_by_name():
    with pytest.raises(ValueError, match="band: expected a power of two"):
        construct_memorizer(XS, YS, eps=0.25, band=0.01)
    with pytest.raises(ValueError, match="band: expected a power of two"):
        band_bits(Fraction(3, 64), 4)


def test_the_float64_refusal_sends_users_to_the_exact_backend():
    f = _identity
    with pytest.raises(ValueError, match=r"backend: 'float64'.*backend='exact'"):
        construct_universal(f, d=1, L=2, lipschitz=4.0, eps=1 / 16)  # a 64-bit table
    c = construct_universal(f, d=1, L=2, lipschitz=4.0, eps=1 / 16, backend="exact")
    assert c.precision_needed > 53 and c.forward(np.array([[0.3], [0.6]])).shape == (2, 1)


def test_the_exact_backend_is_not_refused_by_the_dense_weight_limit():
    with pytest.raises(ValueError, match="dense FFN weights"):
        check_sizes(1, 11, 2, 2)
    check_sizes(1, 11, 2, 2, backend="exact")  # no dense weights: only the spec's limits apply


@pytest.mark.parametrize("bits", [True, "40", 2j, -1])
def test_mpmath_precision_bits_are_checked_before_the_band_check(bits: object) -> None:
    """The band check compared ``precision_bits`` before it was validated (the hostile fuzz:
    a ``TypeError`` naming nothing for a string, the band blamed for ``-1``)."""
    with pytest.raises((TypeError, ValueError), match=r"^precision_bits: "):
        construct_universal(
            _identity, d=1, L=2, lipschitz=1.0, eps=0.25, backend="mpmath", precision_bits=bits
        )
