"""The capacity bounds in sympy (precision, packing, token and covering counts) and the packing
family that attains them."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from verify.claims.capacity import bounds as cap
from verify.claims.capacity.packing import packing_centres, packing_member


# --------------------------------------------------------------------------- sympy bounds
def test_symbols_carry_assumptions() -> None:
    for s in (cap.d, cap.L, cap.K, cap.Q, cap.d_v, cap.D, cap.Lp):
        assert s.is_integer and s.is_positive
    for s in (cap.eps, cap.C, cap.Lam, cap.R_P):
        assert s.is_positive


def test_precision_bound_solves_the_counting_inequality() -> None:
    b = sp.Symbol("b", positive=True)
    solved = sp.solve(sp.Eq(b * (cap.d_v + 1), cap.table_bits), b)
    assert sp.simplify(solved[0] - cap.precision_bits_lower) == 0
    assert cap.precision_bits_lower_fn(2, 4, 2, 16, 3) == pytest.approx(2 * 16 * 4 / 4)


def test_precision_bound_is_exponential_in_d_times_l_minus_1() -> None:
    rate = sp.limit(sp.log(cap.precision_bits_lower.subs(cap.K, 4)) / cap.L, cap.L, sp.oo)
    assert sp.simplify(rate - cap.d * sp.log(4)) == 0


@pytest.mark.parametrize(("d", "length"), [(1, 1), (1, 2), (2, 2), (1, 3)])
def test_packing_is_polynomial_of_degree_dl_in_one_over_eps(d: int, length: int) -> None:
    n = d * length
    m_eps = cap.packing_log2_count.subs({cap.d: d, cap.L: length})
    lead = sp.limit(m_eps * cap.eps**n, cap.eps, 0, "+")
    assert sp.simplify(lead - n * (cap.C / 4) ** n) == 0
    assert sp.limit(m_eps * cap.eps ** (n + 1), cap.eps, 0, "+") == 0


@pytest.mark.parametrize(("d", "length"), [(1, 1), (1, 2), (2, 2)])
def test_token_bound_is_degree_dl_in_one_over_eps_up_to_a_log(d: int, length: int) -> None:
    n = d * length
    lb = cap.token_bound_formula.subs({cap.d: d, cap.L: length, cap.Lam: 10, cap.R_P: 1})
    lead = sp.limit(lb * cap.eps**n * sp.log(1 / cap.eps), cap.eps, 0, "+")
    assert sp.simplify(lead - n * (cap.C / 4) ** n * sp.log(2) / cap.D) == 0


def test_packing_and_token_bound_are_exponential_in_dl() -> None:
    at = {cap.eps: sp.Rational(1, 16), cap.C: 1}  # m = 4 centres per axis
    rate = sp.limit(sp.log(cap.packing_log2_count.subs(at)) / cap.L, cap.L, sp.oo)
    assert sp.simplify(rate - cap.d * sp.log(4)) == 0
    lb = cap.token_bound_formula.subs({**at, cap.Lam: 1000, cap.R_P: 1})
    assert sp.simplify(sp.limit(sp.log(lb) / cap.L, cap.L, sp.oo) - cap.d * sp.log(4)) == 0


def test_lambdified_bounds_match_the_expressions() -> None:
    at = {cap.eps: 0.03, cap.C: 2.0, cap.d: 2, cap.L: 2, cap.D: 7, cap.Lam: 1e9, cap.R_P: 3.0}
    assert cap.token_lower_bound_fn(0.03, 2.0, 2, 2, 7, 1e9, 3.0) == pytest.approx(
        float(cap.token_lower_bound.subs(at))
    )
    assert cap.packing_log2_count_fn(0.03, 2.0, 2, 2) == 4 * 16**4
    cov = cap.covering_log2_count_fn(0.03, 1e9, 3.0, 7, 5)
    assert cov == pytest.approx(35 * np.log2(4 * 1e9 * 3.0 / 0.03))
    # the required Lipschitz constant makes the token bound hold with equality
    log2_lam = cap.log2_lipschitz_required_fn(0.03, 2.0, 2, 2, 7, 50, 3.0)
    assert cap.token_lower_bound_fn(0.03, 2.0, 2, 2, 7, 2.0**log2_lam, 3.0) == pytest.approx(50)


def test_token_bound_is_where_the_covering_count_reaches_the_packing_count() -> None:
    # Lp prompt rows cover at most covering_count functions; 2^{M(eps)} must fit among them
    at_bound = cap.covering_count.subs(cap.Lp, cap.token_bound_formula)
    gap = sp.expand_log(sp.log(at_bound, 2), force=True) - cap.packing_log2_count
    assert sp.simplify(gap) == 0
    at = {cap.eps: 0.03, cap.C: 2.0, cap.d: 2, cap.L: 2, cap.D: 7, cap.Lam: 1e9, cap.R_P: 3.0}
    lp = float(cap.token_lower_bound.subs(at))
    for rows, fits in ((np.floor(lp), False), (np.ceil(lp), True)):
        log2_cover = float(sp.log(cap.covering_count.subs({**at, cap.Lp: rows}), 2))
        assert (log2_cover >= float(cap.packing_log2_count.subs(at))) == fits


def test_token_bound_is_infinite_for_a_prompt_insensitive_model() -> None:
    assert cap.token_lower_bound_fn(0.1, 1.0, 1, 1, 2, 0.01, 1.0) == np.inf
    at = {cap.eps: sp.Rational(1, 10), cap.C: 1, cap.d: 1, cap.L: 1, cap.D: 2, cap.R_P: 1}
    assert cap.token_lower_bound.subs({**at, cap.Lam: sp.Rational(1, 100)}) == sp.oo
    assert cap.token_lower_bound.subs({**at, cap.Lam: 1}) == cap.token_bound_formula.subs(
        {**at, cap.Lam: 1}
    )


def test_dataset_token_bound_is_the_packing_bound_with_n_points() -> None:
    # M(eps) is the dataset bound for the N = m^{dL} packing centres
    at = {cap.eps: sp.Rational(1, 16), cap.C: 1, cap.d: 2, cap.L: 1, cap.D: 3, cap.R_P: 1}
    at[cap.Lam] = 7
    n = cap.packing_centres_per_axis.subs(at) ** 2
    assert cap.dataset_token_lower_bound.subs({**at, cap.N: n}) == cap.token_lower_bound.subs(at)
    assert cap.dataset_token_lower_bound_fn(8, 0.1, 1, 1, 2, 100.0, 1.0) == pytest.approx(
        8 / (2 * np.log2(4000.0))
    )


def test_log2_lambda_forms_equal_the_bounds() -> None:
    ell = cap.log2_Lam
    for log_form, bound in (
        (cap.token_lower_bound_log2_lambda, cap.token_lower_bound),
        (cap.dataset_token_lower_bound_log2_lambda, cap.dataset_token_lower_bound),
    ):
        branch = log_form.args[0][0] - bound.args[0][0].subs(cap.Lam, 2**ell)
        assert sp.simplify(sp.expand_log(branch, force=True)) == 0
    args = (0.05, 1.0, 2, 1, 6)
    for lam in (0.2, 1.0, 3e3, 1e12):
        assert cap.token_lower_bound_log2_lambda_fn(*args, np.log2(lam), 2.0) == pytest.approx(
            cap.token_lower_bound_fn(*args, lam, 2.0)
        )
    assert cap.token_lower_bound_log2_lambda_fn(*args, np.log2(0.01), 2.0) == np.inf
    assert np.isfinite(cap.token_lower_bound_log2_lambda_fn(*args, 5000.0, 2.0))


def test_packing_constants() -> None:
    assert cap.packing_separation == 4 * cap.eps
    assert cap.bump_radius == 2 * cap.eps / cap.C
    # spacing 1/m is at least two bump radii: supports are disjoint
    assert float(cap.packing_spacing.subs({cap.eps: 0.01, cap.C: 1.0})) >= 2 * 0.02


# --------------------------------------------------------------------------- packing family
def test_packing_centres_and_member_values() -> None:
    assert packing_centres(eps=0.125, lipschitz=1.0).tolist() == [0.25, 0.75]
    signs = np.array([[[1]], [[-1]]])
    x = np.array([[[0.25]], [[0.75]], [[0.5]], [[0.3]]])
    assert packing_member(x, signs, eps=0.125, lipschitz=1.0).ravel().tolist() == pytest.approx(
        [0.75, 0.25, 0.5, 0.7]
    )


def test_packing_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="eps"):
        packing_centres(eps=0.3, lipschitz=10.0)
    with pytest.raises(ValueError, match="eps"):
        packing_centres(eps=0.2, lipschitz=0.5)
    with pytest.raises(ValueError, match="eps"):
        packing_centres(eps=1.5, lipschitz=1.0)
    with pytest.raises(ValueError, match="lipschitz"):
        packing_centres(eps=0.1, lipschitz=-1.0)
    with pytest.raises(ValueError, match="signs"):
        packing_member(np.zeros((1, 1)), np.ones((3, 1, 1)), eps=0.125, lipschitz=1.0)
    with pytest.raises(ValueError, match="signs"):
        packing_member(np.zeros((1, 1)), np.zeros((2, 1, 1)), eps=0.125, lipschitz=1.0)
