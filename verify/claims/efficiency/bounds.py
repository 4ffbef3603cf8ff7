"""Bounds of the polynomial method for attention (theory.md §5), one sympy expression each.

Every bound is a derivation's result (:mod:`verify.derive.derivations.efficiency`,
``efficiency_path``, ``efficiency_asymptotics``; ``python -m verify.derive --list``), taken
here with :func:`verify.derive.derived`; definitions and cited lemmas with
:func:`verify.derive.premise`. Nothing is typed a second time
(``tests/conventions/test_derivations.py``). Each is exposed symbolically (upper case) and as a
numpy function (lower case, ``lambdify(..., "numpy")``). Which statements are ours and which
are quoted: docs/efficiency.md. The op-count cost models mirror
:func:`reference.efficiency.polynomial.exact_cost` and
:func:`reference.efficiency.polynomial.polynomial_cost` (a test checks they agree).

>>> from verify.claims.efficiency.bounds import output_error, output_error_simple, rank
>>> int(rank(8, 4))
495
>>> round(float(output_error(1e-3, 2.0)), 10)  # sharp: W ε/(1 + √(1 − ε²)) ≈ ε W/2
0.0010000003
>>> round(float(output_error_simple(1e-3, 2.0)), 8)  # ε/(1−ε) · (max V − min V)/2
0.001001
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from reference._validation import positive_int
from reference.efficiency.planning import EXP_COST
from verify.derive import derived, premise
from verify.derive.derivations.efficiency import (
    B,
    c_exp,
    d,
    dv,
    eps,
    g,
    k_norm,
    m,
    n,
    q_norm,
    r,
    scale,
    v_max,
    v_spread,
)
from verify.derive.derivations.efficiency_asymptotics import a_R as a_R  # re-exported symbols
from verify.derive.derivations.efficiency_asymptotics import c_d as c_d
from verify.derive.derivations.efficiency_asymptotics import c_eps as c_eps
from verify.derive.derivations.efficiency_asymptotics import delta
from verify.derive.derivations.efficiency_asymptotics import x as x
from verify.derive.derivations.efficiency_path import (
    R_sym,
    abs_poly,
    c_max,
    center,
    g_max,
    g_row1,
    half_width,
    keys,
    q_max,
)

# ---------------------------------------------------------------- rank
RANK = derived("efficiency.rank")  # monomials of degree <= g in d variables, counted
RANK_ALMAN_SONG = premise("efficiency.rank_alman_song:alman_song")  # the looser quoted count

# ---------------------------------------------------------------- error composition (ours)
ETA = derived("efficiency.weight_relative_error")  # relative error of a normalized weight
KAPPA = derived("efficiency.weight_ratio")  # S_ij <= KAPPA * S̃_ij
#: the sharp output error per column, W ε/(1 + √(1 − ε²)) = W (1 − √(1 − ε²))/ε
OUTPUT_ERROR = derived("efficiency.output_error_sharp")
OUTPUT_ERROR_SIMPLE = derived("efficiency.output_error_simple")  # ε/(1−ε)·W/2, from the sharp
OUTPUT_ERROR_LOOSE = derived("efficiency.output_error_loose")  # the earlier 2ε/(1−ε)·‖V‖_max

# ---------------------------------------------------------------- rounding of the computed path
u_round = premise("efficiency.rounding_gamma:float64")  # float64 unit roundoff
ROUNDING_COUNT = derived("efficiency.rounding_count")  # 6g + m + r + 10, stage by stage
ROUNDING_RELATIVE = derived("efficiency.rounding_relative")  # γ_N P e^R / (1 − ε)
ROUNDING_ERROR = derived("efficiency.rounding_error")  # E1 + E2 + E3
CERTIFIED_ERROR = derived("efficiency.certified_error")  # OUTPUT_ERROR + ROUNDING_ERROR
GRAD_V_ERROR = derived("efficiency.grad_v_error")  # ‖dṼ − dV‖_max
GRAD_K_ERROR = derived("efficiency.grad_k_error")  # ‖dK̃ − dK‖_max

# ---------------------------------------------------------------- radius of the logits
RADIUS = derived("efficiency.radius")  # Cauchy–Schwarz: |s q·k| <= s ‖q‖ ‖k‖
RADIUS_FROM_ENTRIES = derived("efficiency.radius_from_entries")  # s d B²
RADIUS_ENTRIES_ALMAN_SONG = derived("efficiency.radius_alman_song")  # = B²

# ---------------------------------------------------------------- degree (shape only)
# Aggarwal–Alman: optimal degree for additive error δ on [0, B] is Θ(this); no constants.
DEGREE_SHAPE = premise("efficiency.branch_ratio:aggarwal_alman")

# ---------------------------------------------------------------- op-count cost models
EXACT_COST = premise("efficiency.speedup:exact_cost")
POLYNOMIAL_COST = premise("efficiency.speedup:polynomial_cost")
PREDICTED_SPEEDUP = derived("efficiency.speedup")
CROSSOVER_N = derived("efficiency.crossover")

# ---------------------------------------------------------------- numpy versions
_rank_scalar = sp.lambdify((d, g), RANK, "numpy")
_rank_as_scalar = sp.lambdify((d, g), RANK_ALMAN_SONG, "numpy")
# numpy prints binomials through gamma (floats): round to the integer they stand for
rank = np.vectorize(lambda dd, gg: round(_rank_scalar(int(dd), int(gg))), otypes=[np.int64])
rank_alman_song = np.vectorize(
    lambda dd, gg: round(_rank_as_scalar(int(dd), int(gg))), otypes=[np.int64]
)
output_error = sp.lambdify((eps, v_spread), OUTPUT_ERROR, "numpy")
output_error_simple = sp.lambdify((eps, v_spread), OUTPUT_ERROR_SIMPLE, "numpy")
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
def asymptotic_checks() -> dict[str, sp.Expr]:
    """The limits behind the phase transition (``x = log n → ∞``, ``d = c_d·x``,
    ``δ = n^{−c_eps}``), each a derivation's result:

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
    return {
        "branch_ratio_small_R": derived("efficiency.branch_ratio"),
        "log_r_over_log_n_small_R": derived("efficiency.log_rank_small_radius"),
        "log_r_over_log_n_large_R": derived("efficiency.log_rank_large_radius"),
    }
