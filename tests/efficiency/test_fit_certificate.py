"""The certificate of ``exp`` fits checked independently of itself.

* **Exact supremum.** ``e(t) = p(t) e^{-t} − 1`` has ``e' = (p' − p) e^{-t}``, so its supremum
  on ``[-R, R]`` is attained at an end or at a real root of the polynomial ``p' − p``: roots
  found by ``mpmath.polyroots`` at 50 digits, ``|e|`` evaluated there in mpmath. This is the true
  sup to far more digits than the certificate, not a sample (the old test sampled 2001 points,
  fewer than the certificate's own 4096 cells, and passed a certificate made of the grid nodes
  only: 5.034968e-4 certified, 5.034971e-4 true, issue 16).
* **Rounding.** Horner's rule in float64 has ``|fl(p(t)) − p(t)| <= γ_{2g} Σ_j |c_j| |t|^j``
  (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., eq. (5.3)); relative to
  ``e^t >= e^{-R}`` the allowance must be at least ``γ_{2g} Σ_j |c_j| R^j e^R``.
"""

from __future__ import annotations

import types

import mpmath
import numpy as np
import pytest

import reference.efficiency.polyfit as polyfit
from reference.efficiency.polyfit import FastAttentionRefused, fit_exp, gamma
from tests.strength.planting import mutant

FITS = [(1.0, 1e-3, "minimax"), (4.0, 1e-3, "minimax"), (6.0, 1e-5, "minimax"),
        (2.0, 1e-6, "chebyshev"), (3.0, 1e-4, "taylor")]  # fmt: skip
NODES_ONLY = ("+ h * slope * decay  # (N,)", "+ 0.0 * h * slope * decay  # (N,)")
TOO_FEW_ROUNDINGS = ("return gamma(2 * len(c)) * magnitude", "return gamma(len(c)) * magnitude")


def exact_sup_relative_error(coeffs: tuple[float, ...], radius: float) -> mpmath.mpf:
    """``max_{|t| <= R} |p(t) e^{-t} − 1|`` at the ends and the real roots of ``p' − p``."""
    with mpmath.workdps(50):
        c = [mpmath.mpf(x) for x in coeffs]  # low → high, exact binary values
        s = [(j + 1) * c[j + 1] - c[j] for j in range(len(c) - 1)] + [-c[-1]]  # p' − p
        roots = mpmath.polyroots(s[::-1], maxsteps=400, extraprec=400) if len(s) > 1 else []
        ends = [mpmath.mpf(-radius), mpmath.mpf(radius)]
        inside = [
            mpmath.re(z)
            for z in roots
            if abs(mpmath.im(z)) < mpmath.mpf(10) ** -30 and -radius <= mpmath.re(z) <= radius
        ]
        return max(abs(mpmath.polyval(c[::-1], t) * mpmath.exp(-t) - 1) for t in ends + inside)


def analytic_part(module: types.ModuleType, coeffs: tuple[float, ...], radius: float) -> float:
    """The certificate without its rounding allowance: the claimed bound on the exact sup."""
    c = np.array(coeffs)
    cert = module.certify_relative_error(c, radius)
    return float(cert - module.rounding_allowance(c, radius))


@pytest.mark.parametrize(("radius", "eps", "method"), FITS)
def test_certificate_bounds_the_exact_supremum(radius: float, eps: float, method: str) -> None:
    fit = fit_exp(radius, eps, method)
    true_sup = exact_sup_relative_error(fit.coefficients, radius)
    assert true_sup <= analytic_part(polyfit, fit.coefficients, radius)
    assert fit.certified_error <= eps


def test_planted_certificate_of_the_grid_nodes_only_is_caught() -> None:
    nodes_only = mutant(polyfit, *NODES_ONLY)
    caught = [
        (radius, eps)
        for radius, eps, method in FITS
        for fit in [fit_exp(radius, eps, method)]
        if exact_sup_relative_error(fit.coefficients, radius)
        > analytic_part(nodes_only, fit.coefficients, radius)
    ]
    assert (1.0, 1e-3) in caught  # 5.034968e-4 certified, 5.034971e-4 true


@pytest.mark.parametrize(("radius", "eps", "method"), FITS)
def test_rounding_allowance_covers_hornersrule(radius: float, eps: float, method: str) -> None:
    c = np.array(fit_exp(radius, eps, method).coefficients)
    degree = len(c) - 1
    higham = (
        gamma(2 * degree) * float(np.sum(np.abs(c) * radius ** np.arange(len(c)))) * np.exp(radius)
    )
    assert polyfit.rounding_allowance(c, radius) >= higham


def test_rounding_refuses_a_radius_too_large_for_float64() -> None:
    with pytest.raises(FastAttentionRefused, match="rounding"):
        fit_exp(13.0, 1e-3)


def test_planted_too_few_roundings_is_caught() -> None:
    wrong = mutant(polyfit, *TOO_FEW_ROUNDINGS)
    c = np.array(fit_exp(4.0, 1e-3).coefficients)
    degree = len(c) - 1
    higham = gamma(2 * degree) * float(np.sum(np.abs(c) * 4.0 ** np.arange(len(c)))) * np.exp(4.0)
    assert wrong.rounding_allowance(c, 4.0) < higham
    assert wrong.fit_exp(13.0, 1e-3).degree > 0  # the symptom: certified where float64 cannot
