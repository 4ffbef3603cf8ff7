"""Bounds of the polynomial method for attention (theory.md §5), one sympy expression each.

Every expression is exposed symbolically (upper case) and as a numpy function (lower case, built
by ``lambdify(..., "numpy")``). Which statements are ours and which are quoted: see
docs/efficiency.md. The op-count cost models mirror
:func:`reference.efficiency.polynomial.exact_cost`
and :func:`reference.efficiency.polynomial.polynomial_cost` (a test checks they agree).

>>> from verify.claims.efficiency.bounds import output_error, rank, rank_alman_song
>>> int(rank(8, 4)), int(rank_alman_song(8, 4))
(495, 735471)
>>> round(float(output_error(1e-3, 2.0)), 8)  # ε/(1−ε) · (max V − min V)/2
0.001001
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from reference._validation import positive_int
from reference.efficiency.planning import EXP_COST

# ---------------------------------------------------------------- symbols
d, g = sp.symbols("d g", integer=True, positive=True)  # key width, polynomial degree
dv = sp.Symbol("d_v", integer=True, positive=True)  # value width
n, m = sp.symbols("n m", integer=True, positive=True)  # queries, keys
r = sp.Symbol("r", integer=True, positive=True)  # rank of the factorization
eps = sp.Symbol("epsilon", positive=True)  # relative error of the fit, 0 < eps < 1
v_max = sp.Symbol("V_max", nonnegative=True)  # ‖V‖_max
v_spread = sp.Symbol("W", nonnegative=True)  # max V − min V of one output column
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
# per output column: |T_i − attn_i| = |Σ_j S_ij (ρ_ij − ρ̄_i)(v_j − c)| / (1 + ρ̄_i) for any c;
# c = mid-range, |v_j − c| <= W/2, Σ_j S_ij |ρ_ij − ρ̄_i| <= ε (mean absolute deviation <= sd
# <= half the range 2ε, Popoviciu), 1 + ρ̄_i >= 1 − ε  (docs/efficiency.md, item 4)
OUTPUT_ERROR = eps / (1 - eps) * v_spread / 2
OUTPUT_ERROR_LOOSE = ETA * v_max  # the earlier 2ε/(1−ε)·‖V‖_max (kept for comparison)

# ---------------------------------------------------------------- rounding of the computed path
# Higham's standard model (no underflow): each float64 operation is exact times (1 + δ),
# |δ| <= u. Roundings on the longest path of one numerator/denominator entry (docs, item 5):
# scaled entries √s·x (2), a degree-j monomial (j − 1 more; <= 3g in all) for keys and queries
# (2·3g), the weights √(|c_j| j!/α!) (3 each side) and their products (1 each side), v − c (1),
# raw(k)·v (1), the sum over m keys (m), the dot product over r features (r): N <= 6g + m + r + 10.
u_round = sp.Rational(1, 2**53)  # float64 unit roundoff
keys = sp.Symbol("m_keys", integer=True, positive=True)
abs_poly = sp.Symbol("P_abs", positive=True)  # Σ_j |c_j| R^j >= Σ_α |φ_α(q) ψ_α(k)|
R_sym = sp.Symbol("R", positive=True)  # the fit radius
half_width = sp.Symbol("h", nonnegative=True)  # max_j |v_j − c| of the centred column
center = sp.Symbol("c")  # the column centre added back at the end
ROUNDING_COUNT = 6 * g + keys + r + 10
GAMMA_N = ROUNDING_COUNT * u_round / (1 - ROUNDING_COUNT * u_round)
# |N̂ − N|, |D̂ − D| <= γ_N · P_abs · m · (h or 1), D >= (1 − ε) m e^{−R}: relative to D
ROUNDING_RELATIVE = GAMMA_N * abs_poly * sp.exp(R_sym) / (1 - eps)
_division = 2 * ROUNDING_RELATIVE * half_width / (1 - ROUNDING_RELATIVE)  # |N̂/D̂ − N/D|
_quotient = u_round * (half_width + _division)  # the rounding of the division
_add_back = u_round * (sp.Abs(center) + half_width + _division + _quotient)  # T' + c
ROUNDING_ERROR = _division + _quotient + _add_back
CERTIFIED_ERROR = OUTPUT_ERROR + ROUNDING_ERROR
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
output_error = sp.lambdify((eps, v_spread), OUTPUT_ERROR, "numpy")
output_error_loose = sp.lambdify((eps, v_max), OUTPUT_ERROR_LOOSE, "numpy")
rounding_relative = sp.lambdify((g, keys, r, abs_poly, R_sym, eps), ROUNDING_RELATIVE, "numpy")
rounding_error = sp.lambdify(
    (g, keys, r, abs_poly, R_sym, eps, half_width, center), ROUNDING_ERROR, "numpy"
)
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

    >>> from verify.claims.efficiency.bounds import crossover_n_default
    >>> round(float(crossover_n_default(8, 8, 495)))
    381
    >>> crossover_n_default(8, 8, 0)
    Traceback (most recent call last):
    ...
    ValueError: rank_: expected an integer >= 1, got 0
    """
    sizes = {"dim": dim, "value_dim": value_dim, "rank_": rank_}
    for name, value in sizes.items():  # ``rank`` gives 0-d integer arrays: their item
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
            value = value.item()
        sizes[name] = positive_int(name, value)
    dim, value_dim, rank_ = sizes.values()
    return float(crossover_n(dim, value_dim, rank_, EXP_COST))


# ---------------------------------------------------------------- asymptotics
x = sp.Symbol("x", positive=True)  # x = log n
c_d, c_eps, a_R = sp.symbols("c_d c_eps a_R", positive=True)  # d = c_d x, δ = n^-c_eps, R = a_R x


def _log_rank_upper(degree: sp.Expr, dim: sp.Expr) -> sp.Expr:
    """``log C(d + g, g) <= g · log(e (d + g) / g)`` (standard binomial bound)."""
    return degree * sp.log(sp.E * (dim + degree) / degree)


def _log_rank_lower(degree: sp.Expr, dim: sp.Expr) -> sp.Expr:
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

    >>> from verify.claims.efficiency.bounds import asymptotic_checks
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
        "log_r_over_log_n_small_R": sp.limit(_log_rank_upper(g_small, c_d * x) / x, x, sp.oo),
        "log_r_over_log_n_large_R": sp.limit(_log_rank_lower(g_large, c_d * x) / x, x, sp.oo),
    }
