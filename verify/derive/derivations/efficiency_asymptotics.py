"""Efficiency: the limits behind the Alman–Song phase transition (``x = log n → ∞``).

With ``d = c_d·x``, ``δ = n^{−c_eps}`` and the Aggarwal–Alman degree shape
``g = Θ(max(R, log(1/δ)/log(log(1/δ)/R)))``: for ``R = √x = o(log n)`` the second branch
dominates and ``log r / log n → 0`` (``r = n^{o(1)}``); for ``R = a_R·x`` the degree is at least
``R`` and ``log r / log n`` stays above ``a_R log((c_d + a_R)/a_R) > 0`` (``r = n^{Θ(1)}``).

>>> from verify.derive import derivation
>>> derivation("efficiency.log_rank_small_radius").result
0
"""

from __future__ import annotations

import sympy as sp

from verify.derive.derivations.efficiency import B
from verify.derive.engine import Derivation
from verify.derive.registry import register

x = sp.Symbol("x", positive=True)  # x = log n
c_d, c_eps, a_R = sp.symbols("c_d c_eps a_R", positive=True)  # d = c_d x, δ = n^-c_eps, R = a_R x
delta = sp.Symbol("delta", positive=True)  # additive error of Aggarwal–Alman
g_shape = sp.Symbol("g_shape", positive=True)
ratio_q, small_q, large_q = sp.symbols("branch_ratio log_r_small log_r_large", real=True)
_AGGARWAL_ALMAN = (
    "A. Aggarwal, J. Alman, Optimal-degree polynomial approximations for exponentials and "
    "Gaussian kernel density estimation, CCC 2022, Theorem 1.2 (a Θ; no constants)"
)
_BINOMIAL = "C(n, k) <= (e n / k)^k and C(n, k) >= (n / k)^k (e.g. Cormen et al., Appendix C.1)"


def _log_rank_upper(degree: sp.Expr, dim: sp.Expr) -> sp.Expr:
    """``log C(d + g, g) <= g · log(e (d + g) / g)``."""
    return degree * sp.log(sp.E * (dim + degree) / degree)


def _log_rank_lower(degree: sp.Expr, dim: sp.Expr) -> sp.Expr:
    """``log C(d + g, g) >= g · log((d + g) / g)``."""
    return degree * sp.log((dim + degree) / degree)


def _shape(dd: Derivation) -> None:
    dd.lemma(
        "aggarwal_alman",
        sp.Eq(g_shape, sp.Max(B, sp.log(1 / delta) / sp.log(sp.log(1 / delta) / B))),
        "the optimal degree for additive error δ on [0, B] is Θ(this)",
        source=_AGGARWAL_ALMAN,
    )
    dd.hypothesis(
        "regime",
        sp.Eq(delta, sp.exp(-c_eps * x)),
        "x = log n → ∞, d = c_d x, δ = n^{−c_eps} (so log(1/δ) = c_eps x)",
    )


_SMALL_R = sp.sqrt(x)
_SECOND_BRANCH = c_eps * x / sp.log(c_eps * x / _SMALL_R)


@register("efficiency.branch_ratio", "R = √log n: the second Aggarwal–Alman branch dominates")
def branch_ratio() -> Derivation:
    """The ratio of the two branches of the degree shape at ``R = √x`` tends to 0."""
    dd = Derivation(
        "efficiency.branch_ratio",
        claim="efficiency",
        goal="R / (log(1/δ)/log(log(1/δ)/R)) → 0 for R = √log n",
        quantity=ratio_q,
    )
    _shape(dd)
    dd.start(sp.Limit(_SMALL_R / _SECOND_BRANCH, x, sp.oo), why="ratio of the branches")
    dd.evaluate(sp.Integer(0), "limit")
    return dd


@register("efficiency.log_rank_small_radius", "R = o(log n): log r / log n → 0, r = n^{o(1)}")
def log_rank_small_radius() -> Derivation:
    """``log r / log n`` for ``R = √log n``, from the binomial upper bound."""
    dd = Derivation(
        "efficiency.log_rank_small_radius",
        claim="efficiency",
        goal="log r / log n → 0 for R = √log n",
        quantity=small_q,
    )
    _shape(dd)
    dd.lemma("binomial_upper", None, "log C(d + g, g) <= g log(e(d + g)/g)", source=_BINOMIAL)
    bound = _log_rank_upper(_SECOND_BRANCH, c_d * x) / x
    dd.start(sp.Limit(bound, x, sp.oo), why="the upper bound of log r over log n")
    dd.evaluate(sp.Integer(0), "limit")
    return dd


@register("efficiency.log_rank_large_radius", "R = Θ(log n): log r / log n stays above a constant")
def log_rank_large_radius() -> Derivation:
    """``log r / log n`` for ``R = a_R log n``, from the binomial lower bound and ``g >= R``."""
    dd = Derivation(
        "efficiency.log_rank_large_radius",
        claim="efficiency",
        goal="log r / log n → a_R log((c_d + a_R)/a_R) > 0 for R = a_R log n",
        quantity=large_q,
    )
    _shape(dd)
    dd.lemma("binomial_lower", None, "log C(d + g, g) >= g log((d + g)/g)", source=_BINOMIAL)
    bound = _log_rank_lower(a_R * x, c_d * x) / x
    dd.start(sp.Limit(bound, x, sp.oo), why="the lower bound of log r over log n at g = R")
    dd.evaluate(a_R * sp.log((c_d + a_R) / a_R), "limit")
    return dd
