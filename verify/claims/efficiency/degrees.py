"""The degree of the certified fit as ``-> Observation`` checks, with their plants.

Monotone in ``R`` and in ``1/ε`` (a property over drawn :class:`FitPair`), and minimal: ``ε`` is
below a rigorous lower bound of the best relative error one degree lower, computed by a Remez
iteration in mpmath independent of :mod:`reference.efficiency.polyfit`. Used by
``verify/claims/efficiency/test_properties.py`` and by the ``efficiency`` claim of the report.

>>> from verify.claims.efficiency.degrees import check_degree_minimal, degree_one_too_high
>>> check_degree_minimal(0.5, 1e-3).holds, check_degree_minimal(
...     0.5, 1e-3, degree=degree_one_too_high
... ).holds
(True, False)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from reference.efficiency.polyfit import fit_exp
from verify.claims.efficiency.strategies import FitPair
from verify.claims.properties import Observation


# ---------------------------------------------------------------- degree monotonicity
def fitted_degree(radius: float, eps: float, method: str) -> int:
    """The degree of the reference's certified fit (:func:`reference.efficiency.polyfit.fit_exp`).

    >>> from verify.claims.efficiency.degrees import fitted_degree
    >>> fitted_degree(1.0, 1e-3, "minimax")
    4
    """
    return fit_exp(radius, eps, method).degree


def check_degree_monotone(
    pair: FitPair, *, degree: Callable[[float, float, str], int] = fitted_degree
) -> Observation:
    """``g(R1, eps1) <= g(R2, eps2)`` when ``R1 <= R2`` and ``eps1 >= eps2``."""
    g1 = degree(pair.radius_1, pair.eps_1, pair.method)
    g2 = degree(pair.radius_2, pair.eps_2, pair.method)
    return Observation(float(g1 - g2), 0.0, "g(easier) − g(harder)")


def degree_with_offset_bug(radius: float, eps: float, method: str) -> int:
    """PLANT: a degree table with an offset bug for long intervals (``R >= 2`` reads four
    degrees too low): not monotone."""
    degree = fit_exp(radius, eps, method).degree
    return max(0, degree - 4) if radius >= 2 else degree


# ---------------------------------------------------------------- degree minimality, independently
def _remez_points(radius: float, degree: int, iterations: int = 12) -> tuple[list[Any], list[Any]]:
    """Reference points of a relative-error Remez iteration for ``exp`` (mpmath, 40 digits)."""
    import mpmath

    n = degree
    with mpmath.workdps(40):
        pts = [
            mpmath.mpf(radius) * mpmath.cos(mpmath.pi * (n + 1 - i) / (n + 1)) for i in range(n + 2)
        ]
        grid = np.linspace(-radius, radius, 4001)  # (G,)
        coeffs: list[Any] = []  # (n + 1,) after the first iteration
        for _ in range(iterations):
            # Σ_j a_j (x_i/R)^j e^{-x_i} + (-1)^{i+1} E = 1 at the n + 2 points
            a = mpmath.matrix(n + 2, n + 2)
            for i, x in enumerate(pts):
                for j in range(n + 1):
                    a[i, j] = (x / radius) ** j * mpmath.exp(-x)
                a[i, n + 1] = (-1) ** (i + 1)
            sol = mpmath.lu_solve(a, mpmath.matrix([1] * (n + 2)))
            coeffs = [sol[j] for j in range(n + 1)]
            c = np.array([float(v) for v in coeffs])
            err = np.polynomial.polynomial.polyval(grid / radius, c) * np.exp(-grid) - 1.0
            inner = 1 + np.flatnonzero((err[1:-1] - err[:-2]) * (err[2:] - err[1:-1]) <= 0)
            idx = [0, *inner.tolist(), grid.size - 1]
            alt: list[int] = []
            for i in idx:  # merge same-sign neighbours, keeping the larger |err|
                if alt and np.sign(err[i]) == np.sign(err[alt[-1]]):
                    if abs(err[i]) > abs(err[alt[-1]]):
                        alt[-1] = i
                else:
                    alt.append(i)
            while len(alt) > n + 2:  # drop the smaller end
                alt.pop(0 if abs(err[alt[0]]) < abs(err[alt[-1]]) else -1)
            if len(alt) < n + 2:
                break
            pts = [mpmath.mpf(float(grid[i])) for i in alt]
    return pts, coeffs


def minimax_lower_bound(radius: float, degree: int) -> float:
    """A rigorous lower bound on the relative minimax error ``E*_g = min_p max_{|t|<=R}
    |p(t) e^{-t} − 1|`` over polynomials of degree ``g``: by de la Vallée Poussin's theorem
    (``{t^j e^{-t}}`` is a Haar system), any polynomial whose relative error alternates in
    sign at ``g + 2`` points gives ``E*_g >= min_i |error(t_i)|``. The polynomial and points
    come from a Remez iteration in mpmath (independent of :mod:`reference.efficiency.polyfit`); the
    alternation and the minimum are evaluated at 40 digits. 0 when no alternation is found.

    >>> from verify.claims.efficiency.degrees import minimax_lower_bound
    >>> 1e-3 < minimax_lower_bound(1.0, 3) < minimax_lower_bound(1.0, 2)  # fit_exp(1, 1e-3): g = 4
    True
    """
    import mpmath

    pts, coeffs = _remez_points(radius, degree)
    with mpmath.workdps(40):
        errs = [
            sum(c * (x / radius) ** j for j, c in enumerate(coeffs)) * mpmath.exp(-x) - 1
            for x in pts
        ]
        signs = [mpmath.sign(e) for e in errs]
        if len(errs) != degree + 2 or any(a == b for a, b in itertools.pairwise(signs)):
            return 0.0
        return float(min(abs(e) for e in errs))


def check_degree_minimal(
    radius: float, eps: float, *, degree: Callable[[float, float, str], int] = fitted_degree
) -> Observation:
    """The fitted degree ``g`` is the smallest any polynomial can have: ``eps`` is below the
    de la Vallée Poussin lower bound of ``E*_{g−1}`` (ratio ``eps / lower bound < 1``), and the
    fit of degree ``g`` is certified ``<= eps`` (by
    :func:`reference.efficiency.polyfit.fit_exp`)."""
    g = degree(radius, eps, "minimax")
    if g == 0:
        return Observation(0.0, 1.0, "degree 0")
    return Observation(eps, minimax_lower_bound(radius, g - 1), "eps / E*_{g-1} lower bound")


def degree_one_too_high(radius: float, eps: float, method: str) -> int:
    """PLANT: a degree search that stops one degree late."""
    return fit_exp(radius, eps, method).degree + 1
