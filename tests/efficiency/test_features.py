"""Unit tests of reference.efficiency.features: the multinomial factorization and its rank."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reference.efficiency.features import FeatureMap, monomial_table, monomials, rank


@pytest.mark.parametrize(
    ("d", "g", "expected"), [(8, 4, 495), (8, 6, 3003), (8, 8, 12870), (16, 4, 4845), (1, 0, 1)]
)
def test_rank_matches_theory(d: int, g: int, expected: int) -> None:
    assert rank(d, g) == expected == monomial_table(d, g).rank


def test_monomials_are_each_multiset_once() -> None:
    table = monomial_table(3, 3)
    x = np.array([[2.0, 3.0, 5.0]])  # distinct primes: every monomial value is unique
    values = monomials(x, table).ravel()
    assert len(set(values.tolist())) == table.rank == math.comb(6, 3)


def test_multinomial_weights_sum_to_power_of_dimension() -> None:
    """Σ_{|α|=j} j!/α! = d^j (the multinomial theorem at x = 1)."""
    table = monomial_table(4, 5)
    for j in range(6):
        sel = table.degree_of == j
        assert table.multinomial[sel].sum() == 4**j


def test_factorization_with_negative_coefficients() -> None:
    coeffs = np.array([1.0, -2.0, 0.5, -0.25])
    fm = FeatureMap.build(coeffs, dim=3, scale=0.7)
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    kernel = fm.phi(q).T @ fm.psi(k)  # (5, 4)
    expected = np.polynomial.polynomial.polyval(0.7 * q @ k.T, coeffs)
    np.testing.assert_allclose(kernel, expected, rtol=1e-12, atol=1e-12)


def test_bad_inputs() -> None:
    fm = FeatureMap.build(np.array([1.0, 1.0]), dim=2, scale=1.0)
    with pytest.raises(ValueError, match="2 columns"):
        fm.phi(np.ones((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        fm.psi(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="at least one coefficient"):
        FeatureMap.build(np.array([]), dim=2, scale=1.0)
    with pytest.raises(ValueError, match="scale"):
        FeatureMap.build(np.array([1.0]), dim=2, scale=-1.0)


def test_overflowing_features_are_refused_naming_the_argument() -> None:
    from reference.efficiency.polyfit import FastAttentionRefused

    fm = FeatureMap.build(np.array([1.0, 1.0, 0.5]), dim=2, scale=1.0)
    q = np.ones((2, 2))
    with pytest.raises(FastAttentionRefused, match="q: the degree-2 features overflow"):
        fm.phi(q * 1e160)
    with pytest.raises(FastAttentionRefused, match="k: "):
        fm.psi(q * 1e160)


def test_oversized_tables_are_refused_before_any_allocation() -> None:
    """Issue 10: the size is checked (math.comb) before the table is built."""
    for dim, degree in ((3, 10**6), (10**6, 2)):
        with pytest.raises(ValueError, match="degree: the table"):
            monomial_table(dim, degree)


def test_oversized_tables_name_the_dimension_and_the_degree() -> None:
    with pytest.raises(ValueError, match="dim, degree"):
        monomial_table(10**6, 3)
