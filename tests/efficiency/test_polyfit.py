"""Unit tests of reference.efficiency.polyfit: degrees of theory.md §5, certificates, caching, bad
input."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from reference.efficiency.polyfit import (
    ExpFit,
    certify_relative_error,
    chebyshev_coefficients,
    fit_exp,
    minimax_coefficients,
    taylor_coefficients,
)

# Degrees measured for relative error 1e-3 (theory.md §5).
MINIMAX = {0.5: 3, 1.0: 4, 2.0: 6, 3.0: 8, 4.0: 9, 6.0: 12, 9.0: 15}
CHEBYSHEV = {1.0: 5, 2.0: 7, 3.0: 9, 4.0: 11, 9.0: 23}
TAYLOR = {1.0: 6, 4.0: 17, 9.0: 35}


@pytest.mark.parametrize(
    ("method", "table"), [("minimax", MINIMAX), ("chebyshev", CHEBYSHEV), ("taylor", TAYLOR)]
)
def test_degrees_match_theory(method: str, table: dict[float, int]) -> None:
    for radius, degree in table.items():
        fit = fit_exp(radius, 1e-3, method)
        assert fit.degree == degree, (method, radius, fit.degree)
        assert fit.certified_error <= 1e-3


def test_certificate_bounds_mpmath_error_on_fine_grid() -> None:
    """The certificate is >= the relative error measured at 50 digits on 2001 points."""
    fit = fit_exp(4.0, 1e-3)
    with mpmath.workdps(50):
        worst = max(
            abs(mpmath.polyval(list(reversed(fit.coefficients)), t) * mpmath.exp(-t) - 1)
            for t in mpmath.linspace(-4, 4, 2001)
        )
    assert float(worst) <= fit.certified_error <= 1e-3


def test_certificate_catches_a_fit_that_is_only_good_on_the_grid_points() -> None:
    """A polynomial exact at the grid nodes but wrong between them is not certified."""
    c = taylor_coefficients(3)
    assert certify_relative_error(c, 1.0) > 0.01  # degree 3 Taylor misses 1e-2 near t = -1


def test_smaller_degree_is_not_certified() -> None:
    """Minimality: the degree below the chosen one does not certify."""
    fit = fit_exp(2.0, 1e-3)
    below = minimax_coefficients(2.0, fit.degree - 1)
    assert certify_relative_error(below, 2.0) > 1e-3


def test_fit_is_cached_and_frozen() -> None:
    a, b = fit_exp(1.0, 1e-3), fit_exp(1.0, 1e-3)
    assert a is b
    assert isinstance(a, ExpFit)
    with pytest.raises(AttributeError):
        a.degree = 3  # type: ignore[misc]


def test_coefficients_are_monomial_low_to_high() -> None:
    np.testing.assert_allclose(chebyshev_coefficients(1.0, 12), taylor_coefficients(12), atol=1e-8)
    assert taylor_coefficients(3).tolist() == [1.0, 1.0, 0.5, 1.0 / 6.0]


def test_fit_refuses_to_extrapolate() -> None:
    fit = fit_exp(1.0, 1e-3)
    assert math.isclose(float(fit(np.array([0.0]))[0]), 1.0, rel_tol=1e-3)
    with pytest.raises(ValueError, match="radius"):
        fit(np.array([1.5]))


@pytest.mark.parametrize("eps", [0.0, 1.0, -0.1, 2.0])
def test_eps_outside_unit_interval(eps: float) -> None:
    with pytest.raises(ValueError, match="eps"):
        fit_exp(1.0, eps)


@pytest.mark.parametrize(
    ("radius", "error"),
    [(0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError), ("1", TypeError)],
)
def test_bad_radius(radius: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="radius"):
        fit_exp(radius, 1e-3)  # type: ignore[arg-type]


def test_unknown_method_and_unreachable_degree() -> None:
    with pytest.raises(ValueError, match="method"):
        fit_exp(1.0, 1e-3, "pade")
    with pytest.raises(ValueError, match="no taylor fit"):
        fit_exp(9.0, 1e-3, "taylor", max_degree=10)


def test_radius_limit_is_refused_up_front_and_method_named() -> None:
    from reference.efficiency.polyfit import (
        FastAttentionRefused,
        check_method,
        largest_certifiable_radius,
    )

    limit = largest_certifiable_radius(0.5)
    with pytest.raises(FastAttentionRefused, match=f"{limit:.6g}"):
        fit_exp(710.0, 0.5)
    with pytest.raises(ValueError, match="fit_method"):
        check_method("pade", "fit_method")


def test_taylor_table_is_bounded_and_exact_at_its_end() -> None:
    """Issue 17: a degree of 10^6 is answered (1/j! is 0.0 beyond j = 180, no OverflowError),
    10^12 is refused by name before any allocation; 1/j! stays correctly rounded."""
    from reference.efficiency.polyfit import taylor_coefficients

    c = taylor_coefficients(1_000_000)
    assert c.shape == (1_000_001,) and c[181:].max() == 0.0 and 0 < c[177] < 1e-320
    assert c[20] == 1.0 / math.factorial(20)
    with pytest.raises(ValueError, match="degree"):
        taylor_coefficients(10**12)


def test_refusals_name_max_degree_and_methods_are_plain_strings() -> None:
    from reference.efficiency.polyfit import FastAttentionRefused, check_method, fit_exp

    with pytest.raises(FastAttentionRefused, match="max_degree"):
        fit_exp(1.0, 1e-3, max_degree=0)
    assert type(check_method(np.str_("taylor"))) is str
