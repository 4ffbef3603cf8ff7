"""Bounds of the polynomial method for attention (theory.md §5), one sympy expression each.

Every expression is exposed symbolically (upper case) and as a numpy function (lower case, built
by ``lambdify(..., "numpy")``). Which statements are ours and which are quoted: see
docs/efficiency.md. The op-count cost models mirror
:func:`reference.polynomial_attention.exact_cost`
and :func:`reference.polynomial_attention.polynomial_cost` (a test checks they agree).

>>> from verify.bounds.efficiency import output_error, rank, rank_alman_song
>>> int(rank(8, 4)), int(rank_alman_song(8, 4))
(495, 735471)
>>> float(output_error(1e-3, 1.0)) < 2.01e-3
True
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from reference.polynomial_attention import EXP_COST

# ---------------------------------------------------------------- symbols
d, g = sp.symbols("d g", integer=True, positive=True)  # key width, polynomial degree
dv = sp.Symbol("d_v", integer=True, positive=True)  # value width
n, m = sp.symbols("n m", integer=True, positive=True)  # queries, keys
r = sp.Symbol("r", integer=True, positive=True)  # rank of the factorization
eps = sp.Symbol("epsilon", positive=True)  # relative error of the fit, 0 < eps < 1
v_max = sp.Symbol("V_max", nonnegative=True)  # ‖V‖_max
scale = sp.Symbol("s", positive=True)  # logit scale
q_norm, k_norm = sp.symbols("Q_norm K_norm", nonnegative=True)  # max row norms
B = sp.Symbol("B", positive=True)  # entry bound |q_ia|, |k_ja| <= B
delta = sp.Symbol("delta", positive=True)  # additive error of Aggarwal–Alman
c_exp = sp.Symbol("c_exp", positive=True)  # cost of one exp + softmax bookkeeping
g_max, g_row1, q_max, c_max = sp.symbols("G_max G_row1 Q_max c_max", nonnegative=True)

# ---------------------------------------------------------------- rank
RANK = sp.binomial(d + g, g)  # monomials of degree <= g in d variables
RANK_ALMAN_SONG = sp.binomial(2 * (g + d), 2 * g)  # the looser count quoted by Alman–Song

# ---------------------------------------------------------------- error composition (ours)
ETA = 2 * eps / (1 - eps)  # entrywise relative error of the normalized weights
KAPPA = (1 + eps) / (1 - eps)  # S_ij <= KAPPA * S̃_ij
OUTPUT_ERROR = ETA * v_max  # ‖T − attention‖_max
GRAD_V_ERROR = ETA * KAPPA * g_max * c_max  # ‖dṼ − dV‖_max
GRAD_K_ERROR = ETA * (2 * KAPPA + 1) * scale * q_max * v_max * g_row1 * c_max  # ‖dK̃ − dK‖_max

# ---------------------------------------------------------------- radius of the logits
RADIUS = scale * q_norm * k_norm  # Cauchy–Schwarz: |s q·k| <= s ‖q‖ ‖k‖
RADIUS_FROM_ENTRIES = RADIUS.subs({q_norm: sp.sqrt(d) * B, k_norm: sp.sqrt(d) * B})
RADIUS_ENTRIES_ALMAN_SONG = sp.simplify(RADIUS_FROM_ENTRIES.subs(scale, 1 / d))  # = B²

# ---------------------------------------------------------------- degree (shape only)
# Aggarwal–Alman: optimal degree for additive error δ on [0, B] is Θ(this); no constants.
DEGREE_SHAPE = sp.Max(B, sp.log(1 / delta) / sp.log(sp.log(1 / delta) / B))

# ---------------------------------------------------------------- op-count cost models
EXACT_COST = n * m * (2 * d + 2 * dv + c_exp)
POLYNOMIAL_COST = (n + m) * r * (2 * (dv + 1) + 2)
PREDICTED_SPEEDUP = EXACT_COST / POLYNOMIAL_COST
CROSSOVER_N = sp.solve(sp.Eq(EXACT_COST.subs(m, n), POLYNOMIAL_COST.subs(m, n)), n)[0]

# ---------------------------------------------------------------- numpy versions
_rank_scalar = sp.lambdify((d, g), RANK, "numpy")
_rank_as_scalar = sp.lambdify((d, g), RANK_ALMAN_SONG, "numpy")
# numpy prints binomials through gamma (floats): round to the integer they stand for
rank = np.vectorize(lambda dd, gg: round(_rank_scalar(int(dd), int(gg))), otypes=[np.int64])
rank_alman_song = np.vectorize(
    lambda dd, gg: round(_rank_as_scalar(int(dd), int(gg))), otypes=[np.int64]
)
output_error = sp.lambdify((eps, v_max), OUTPUT_ERROR, "numpy")
grad_v_error = sp.lambdify((eps, g_max, c_max), GRAD_V_ERROR, "numpy")
grad_k_error = sp.lambdify((eps, scale, q_max, v_max, g_row1, c_max), GRAD_K_ERROR, "numpy")
radius = sp.lambdify((scale, q_norm, k_norm), RADIUS, "numpy")
radius_from_entries = sp.lambdify((scale, d, B), RADIUS_FROM_ENTRIES, "numpy")
degree_shape = sp.lambdify((B, delta), DEGREE_SHAPE, "numpy")
exact_cost = sp.lambdify((n, m, d, dv, c_exp), EXACT_COST, "numpy")
polynomial_cost = sp.lambdify((n, m, r, dv), POLYNOMIAL_COST, "numpy")
predicted_speedup = sp.lambdify((n, m, d, dv, r, c_exp), PREDICTED_SPEEDUP, "numpy")
crossover_n = sp.lambdify((d, dv, r, c_exp), CROSSOVER_N, "numpy")


def crossover_n_default(dim: int, value_dim: int, rank_: int) -> float:
    """The predicted crossover length (``n = m``) with the reference's ``EXP_COST``.

    >>> from verify.bounds.efficiency import crossover_n_default
    >>> round(float(crossover_n_default(8, 8, 495)))
    381
    """
    return float(crossover_n(dim, value_dim, rank_, EXP_COST))


# ---------------------------------------------------------------- asymptotics
x = sp.Symbol("x", positive=True)  # x = log n
c_d, c_eps, a_R = sp.symbols("c_d c_eps a_R", positive=True)  # d = c_d x, δ = n^-c_eps, R = a_R x


def log_rank_upper(degree: sp.Expr, dim: sp.Expr) -> sp.Expr:
    """``log C(d + g, g) <= g · log(e (d + g) / g)`` (standard binomial bound)."""
    return degree * sp.log(sp.E * (dim + degree) / degree)


def log_rank_lower(degree: sp.Expr, dim: sp.Expr) -> sp.Expr:
    """``log C(d + g, g) >= g · log((d + g) / g)``."""
    return degree * sp.log((dim + degree) / degree)


def asymptotic_checks() -> dict[str, sp.Expr]:
    """The limits behind the phase transition (``x = log n → ∞``, ``d = c_d·x``,
    ``δ = n^{−c_eps}``):

    * ``branch_ratio_small_R``: with ``R = √x = o(log n)`` the second branch of the
      Aggarwal–Alman shape dominates (ratio of the branches → 0);
    * ``log_r_over_log_n_small_R``: then ``log r / log n → 0``, i.e. ``r = n^{o(1)}``;
    * ``log_r_over_log_n_large_R``: with ``R = a_R·x = Θ(log n)``, ``g >= R`` and
      ``log r / log n`` stays above ``a_R·log((c_d + a_R)/a_R) > 0``: ``r = n^{Θ(1)}``.

    >>> from verify.bounds.efficiency import asymptotic_checks
    >>> checks = asymptotic_checks()
    >>> checks["log_r_over_log_n_small_R"]
    0
    """
    small_r = sp.sqrt(x)
    log_inv_delta = c_eps * x
    second_branch = log_inv_delta / sp.log(log_inv_delta / small_r)
    g_small = second_branch  # dominant branch, by the first limit below
    g_large = a_R * x  # the first branch: g >= R
    return {
        "branch_ratio_small_R": sp.limit(small_r / second_branch, x, sp.oo),
        "log_r_over_log_n_small_R": sp.limit(log_rank_upper(g_small, c_d * x) / x, x, sp.oo),
        "log_r_over_log_n_large_R": sp.limit(log_rank_lower(g_large, c_d * x) / x, x, sp.oo),
    }
