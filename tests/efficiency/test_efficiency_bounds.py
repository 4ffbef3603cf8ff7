"""Tests of verify.claims.efficiency.bounds: the sympy expressions, their numpy versions and their
agreement with the reference implementation."""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from reference.efficiency import certificate as fc
from reference.efficiency import planning as fp
from reference.efficiency import polynomial as fa
from reference.efficiency.features import rank as reference_rank
from reference.model.attention import resolve_scale
from verify.claims.efficiency import bounds as E


def test_rank_expressions_agree_with_the_feature_map() -> None:
    for d in (1, 2, 8, 16):
        for g in range(0, 9):
            assert E.rank(d, g) == reference_rank(d, g) == math.comb(d + g, g)
            assert E.rank_alman_song(d, g) == math.comb(2 * (g + d), 2 * g) >= E.rank(d, g)


def test_radius_from_entries_is_b_squared_for_alman_song_scale() -> None:
    assert sp.simplify(E.RADIUS_ENTRIES_ALMAN_SONG - E.B**2) == 0
    assert E.radius_from_entries(1 / 8, 8, 1.5) == 1.5**2


def test_output_error_matches_reference() -> None:
    """The reference certifies the sharp output error, the derivation's result (helper B's
    certificate.py adopts it); the simple and loose bounds are derived from it and larger."""
    for eps in (1e-6, 1e-3, 0.3):
        sharp = float(E.output_error(eps, 2.5))
        assert math.isclose(sharp, float(fc.certified_output_bound(eps, 2.5)), rel_tol=1e-14)
        simple = float(E.output_error_simple(eps, 2.5))
        assert math.isclose(simple, eps / (1 - eps) * 2.5 / 2, rel_tol=1e-14)
        # for V in [−1.25, 1.25] the simple bound is half the earlier 2ε/(1−ε)·‖V‖_max
        loose = float(E.output_error_loose(eps, 1.25))
        assert sharp <= simple and math.isclose(2 * simple, loose, rel_tol=1e-12)


def test_sharp_output_error_is_attained_by_the_two_point_family() -> None:
    """Mass p* = argmax on (V = W, ρ = +ε), the rest on (V = 0, ρ = −ε): the error is the
    sharp bound, and 1.87x below the simple one at ε = 0.5 (issue 15)."""
    for eps in (1e-3, 0.1, 0.5, 0.9):
        p = (math.sqrt(1 - eps**2) - 1 + eps) / (2 * eps)  # the critical point in (0, 1)
        perturbed = p * (1 + eps) / (p * (1 + eps) + (1 - p) * (1 - eps))
        error = 2.0 * (perturbed - p)  # W = 2
        assert math.isclose(error, float(E.output_error(eps, 2.0)), rel_tol=1e-12)
    ratio = float(E.output_error_simple(0.5, 1.0) / E.output_error(0.5, 1.0))
    assert round(ratio, 2) == 1.87


def test_rounding_bound_matches_reference() -> None:
    """The reference's rounding term (numpy) equals the sympy ROUNDING_ERROR (exact u)."""
    from reference.efficiency.polyfit import fit_exp

    for radius, eps, keys in [(1.0, 1e-3, 100), (6.0, 1e-6, 4096), (0.05, 1e-2, 1)]:
        fit = fit_exp(radius, eps)
        r = E.rank(3, fit.degree)
        eta = fc.rounding_relative(fit, keys, int(r))
        abs_poly = sum(abs(c) * radius**j for j, c in enumerate(fit.coefficients))
        expected = E.rounding_relative(fit.degree, keys, r, abs_poly, radius, fit.certified_error)
        assert math.isclose(eta, float(expected), rel_tol=1e-12)
        half, center = np.array([2.0, 0.5]), np.array([-3.0, 0.0])
        got = fc.rounding_bound(eta, half, center)
        for h, c, value in zip(half, center, got, strict=True):
            sym = E.rounding_error(fit.degree, keys, r, abs_poly, radius, fit.certified_error, h, c)
            assert math.isclose(value, float(sym), rel_tol=1e-12)


def test_rounding_count_matches_reference() -> None:
    assert E.ROUNDING_COUNT.subs({E.g: 4, E.keys: 100, E.r: 35}) == fc.rounding_count(4, 100, 35)


def test_issue_example_rounding_exceeds_eps() -> None:
    """d = 8, R = 9, ε = 1e-3 (r = 490314): the rounding term alone exceeds ε (issue 8)."""
    from reference.efficiency.polyfit import fit_exp

    fit = fit_exp(9.0, 1e-3)
    assert fc.rounding_relative(fit, 1024, int(E.rank(8, fit.degree))) > 1e-3


def test_cost_models_match_reference() -> None:
    for n, m, d, dv, r in [(1, 1, 1, 1, 1), (1024, 4096, 8, 8, 495), (7, 3, 2, 5, 10)]:
        assert E.exact_cost(n, m, d, dv, fp.EXP_COST) == fp.exact_cost(n, m, d, dv)
        assert E.polynomial_cost(n, m, r, dv) == fp.polynomial_cost(n, m, r, dv)


def test_crossover_balances_the_costs() -> None:
    n_star = E.crossover_n_default(8, 8, 495)
    assert math.isclose(
        fp.exact_cost(n_star, n_star, 8, 8),
        fp.polynomial_cost(n_star, n_star, 495, 8),
        rel_tol=1e-12,
    )
    assert E.crossover_n_default(8, 8, E.rank(8, 15)) > 2**17  # R = 9 loses on the whole sweep


def test_asymptotics() -> None:
    checks = E.asymptotic_checks()
    assert checks["branch_ratio_small_R"] == 0
    assert checks["log_r_over_log_n_small_R"] == 0
    large = checks["log_r_over_log_n_large_R"]
    assert large.subs({E.a_R: 1, E.c_d: 1}) == sp.log(2)
    assert float(large.subs({E.a_R: 0.5, E.c_d: 3})) > 0


def test_degree_shape_grows_with_interval_and_accuracy() -> None:
    """In the shape's regime (``log(1/δ)`` well above ``B``) it grows with ``B`` and ``1/δ``."""
    shape = np.array(
        [[float(E.degree_shape(b, delta)) for delta in (1e-30, 1e-60)] for b in (1.0, 4.0, 16.0)]
    )
    assert np.all(np.diff(shape, axis=0) > 0) and np.all(np.diff(shape, axis=1) > 0)


def test_gradient_bounds_are_the_sympy_expressions() -> None:
    eps = 1e-3
    eta, kappa = 2 * eps / (1 - eps), (1 + eps) / (1 - eps)
    assert math.isclose(float(E.grad_v_error(eps, 2.0, 3.0)), eta * kappa * 6.0)
    assert math.isclose(
        float(E.grad_k_error(eps, 0.5, 2.0, 3.0, 4.0, 5.0)),
        eta * (2 * kappa + 1) * 0.5 * 2 * 3 * 4 * 5,
    )


def test_guaranteed_radius_is_the_sympy_radius() -> None:
    rng = np.random.default_rng(0)
    for n, m, d, s in [(1, 1, 1, 1.0), (7, 5, 3, 0.25), (40, 30, 8, 1 / math.sqrt(8))]:
        q, k = rng.standard_normal((n, d)), 2.0 * rng.standard_normal((m, d))
        q_norm = float(np.linalg.norm(q, axis=1).max())
        k_norm = float(np.linalg.norm(k, axis=1).max())
        assert math.isclose(
            fp.guaranteed_radius(q, k, s), float(E.radius(s, q_norm, k_norm)), rel_tol=1e-15
        )
        # and it bounds every logit (Cauchy–Schwarz)
        assert np.abs(s * q @ k.T).max() <= fp.guaranteed_radius(q, k, s)


def test_plan_predicts_the_sympy_speedup() -> None:
    for n, m, d, dv, radius in [
        (1024, 4096, 8, 8, 1.0),
        (7, 3, 2, 5, 4.0),
        (1 << 16, 1 << 16, 8, 8, 0.5),
    ]:
        fit, r, predicted = fp.plan(n, m, d, dv, radius=radius, eps=1e-3)
        assert r == E.rank(d, fit.degree)
        expected = float(E.predicted_speedup(n, m, d, dv, r, fp.EXP_COST))
        assert math.isclose(predicted, expected, rel_tol=1e-12)


def test_public_planning_functions_name_bad_arguments() -> None:
    import pytest

    with pytest.raises(TypeError, match="d:"):
        fp.plan(8, 8, True, 8, radius=1.0, eps=1e-3)
    with pytest.raises(ValueError, match="n:"):
        fp.plan(0, 8, 8, 8, radius=1.0, eps=1e-3)
    with pytest.raises(TypeError, match="d:"):
        resolve_scale(1.0, 1j)
    with pytest.raises(ValueError, match="relative_error"):
        fc.certified_output_bound(math.nan, 1.0)
    # the sharp bound is below the spread (ε/(1 + √(1 − ε²)) < 1): it cannot overflow
    assert float(fc.certified_output_bound(1 - 1e-16, 1.7e308)) <= 1.7e308
    with pytest.raises(ValueError, match="v_spread"):
        fc.certified_output_bound(0.5, np.array([1.0, -1.0]))
    with pytest.raises(TypeError, match="dim:"):
        E.crossover_n_default(math.nan, 8, 495)


def test_plan_names_fit_method_and_fast_attention_names_ragged_q() -> None:
    import pytest

    with pytest.raises(ValueError, match="fit_method:"):
        fp.plan(2, 2, 2, 2, radius=0.5, eps=0.5, fit_method="cubic")
    with pytest.raises(ValueError, match="q:"):
        fa.fast_attention([[1.0], [1.0, 2.0]], np.ones((2, 1)), np.ones((2, 1)), scale=1.0, eps=0.1)
