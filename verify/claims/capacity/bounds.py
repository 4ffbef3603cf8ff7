"""Capacity lower bounds of one-layer single-head prompt tuning (theory.md §4), in sympy.

Every bound is ONE sympy expression over symbols with assumptions, exposed symbolically and as a
``lambdify(..., "numpy")`` function (suffix ``_fn``). Proofs and the choice of constants are in
``docs/capacity.md``; all constants here are ours, not the paper's.

* **Precision bound.** A one-layer model whose prompt reaches output row ``i`` only through the
  ``d_v + 1`` numbers ``(prompt-weighted average value, prompt partition function)`` at the query
  ``q_i`` must carry, in ``b``-bit numbers, ``b (d_v + 1) >= d K^{d(L-1)} log2 Q`` bits to realize
  every ``Q``-level table over the ``K^{d(L-1)}`` contexts: :data:`precision_bits_lower`.
* **Packing.** ``M(eps)``: ``log2`` of the number of ``C``-Lipschitz maps ``[0,1]^{L×d} ->
  [0,1]^{L×d}`` pairwise more than ``2 eps`` apart (sup over a finite set of centres, max norm),
  from pyramids of height ``2 eps`` and slope ``C`` on a grid of ``m = floor(C / (4 eps))``
  centres per axis: :data:`packing_log2_count` ``= d L m^{d L}``.
* **Covering.** Prompts in ``[-R_P, R_P]^{Lp×D}`` of a model ``Λ``-Lipschitz in the prompt give at
  most ``(c Λ R_P / eps)^{D Lp}`` functions pairwise more than ``eps`` apart, ``c = 4``:
  :data:`covering_count`.
* **Dataset token bound.** Memorizing every two-level labeling of ``N`` sequences:
  ``Lp >= N L d / (D log2(c Λ R_P / eps))``: :data:`dataset_token_lower_bound`.
* **Cell-centre packing.** The same pyramids centred at every ``r``-th cell centre of a
  ``K``-grid (``r = ceil(2 · bump radius · K)``): :data:`cell_centre_packing_per_axis` centres per
  axis, off every cell boundary (the premise of comparing a construction with the covering bound).
* **Ratios.** :data:`capacity_ratio` ``= D Lp log2(c Λ R_P / eps) / M`` and :data:`bits_ratio`
  ``= b / precision_bits_lower`` (both ``>= 1`` by the theorems).
* **Wang-style floor.** Two rows sharing one output with targets ``a, b`` cost at least
  :data:`wang_pair_floor` ``= (a - b)^2 / 2`` (minimised over the shared output in sympy).
* **Token bound.** Hence ``Lp >= M(eps) / (D log2(c Λ R_P / eps))`` if ``2 Λ R_P > eps`` (and no
  prompt length at all otherwise): :data:`token_lower_bound`.

>>> from verify.claims.capacity.bounds import packing_log2_count_fn, precision_bits_lower_fn
>>> int(packing_log2_count_fn(0.125, 1.0, 1, 2))
8
>>> float(precision_bits_lower_fn(1, 4, 2, 16, 1))
8.0
"""

from __future__ import annotations

import sympy as sp

from verify.derive import chosen, derived, premise
from verify.derive.derivations import capacity as _packing
from verify.derive.derivations.capacity import (
    R_P,
    C,
    D,
    K,
    L,
    Lam,
    Lp,
    M_bits,
    N,
    Q,
    b_bits,
    d,
    d_v,
    eps,
    m,
    y_a,
    y_b,
)
from verify.derive.derivations.capacity import (
    o as o,
)
from verify.derive.derivations.capacity_covering import log2_Lam

# Every expression below is a derivation's result (``python -m verify.derive --list``, names
# ``capacity.*``) or a premise of one; nothing is typed a second time.

# ----------------------------------------------------------------------------- constants (ours)
#: Covering constant ``c``: ``ceil(2 Λ R_P / eps) <= 4 Λ R_P / eps`` once ``2 Λ R_P >= eps``.
COVERING_CONSTANT = derived("capacity.covering_constant")
#: Bump height in units of ``eps``: pyramids of height ``2 eps`` are ``4 eps`` apart at a centre.
BUMP_HEIGHT_OVER_EPS = chosen(_packing.BUMP_HEIGHT_OVER_EPS, "the packing family's bump height")

# ----------------------------------------------------------------------------- precision bound
#: Information the prompt must pass through one query: ``d K^{d(L-1)} log2 Q`` bits.
table_bits = derived("capacity.table_bits")
#: Smallest bits per number ``b`` with ``b (d_v + 1) >= d K^{d(L-1)} log2 Q``.
precision_bits_lower = derived("capacity.precision_bits_lower")

# ----------------------------------------------------------------------------- packing
#: Bump height ``a = 2 eps`` (values ``1/2 ± a`` stay in ``[0, 1]`` for ``eps <= 1/4``).
bump_height = premise("capacity.packing_separation:height")
#: Largest ``eps`` whose bump values ``1/2 ± a`` stay in ``[0, 1]``: ``a = 1/2``, ``eps = 1/4``.
packing_max_eps = derived("capacity.packing_max_eps")
#: Bump radius (max norm) ``a / C``: the pyramid ``max(0, a - C ||x - c||_max)`` has slope ``C``.
bump_radius = derived("capacity.bump_radius")
#: Centres per axis ``m = floor(C / (4 eps))``: spacing ``1/m >= 2 · bump_radius``.
packing_centres_per_axis = derived("capacity.packing_centres_per_axis")
#: Largest ``eps`` with at least one centre per axis (``m >= 1``): ``eps = C / 4``.
packing_one_centre_max_eps = derived("capacity.packing_one_centre_max_eps")
#: Grid spacing of the centres, ``1/m`` (centres at ``(k + 1/2)/m``, ``k = 0..m-1``).
packing_spacing = derived("capacity.packing_spacing")
#: Separation of two distinct packing functions at a differing centre: ``2 a = 4 eps``.
packing_separation = derived("capacity.packing_separation")
#: ``log2`` of the packing count for ``m`` centres per axis: one sign per (centre, coordinate).
packing_log2_count_centres = derived("capacity.packing_log2_count_centres")
#: ``M(eps) = d L m^{d L}`` at ``m = floor(C / (4 eps))``.
packing_log2_count = derived("capacity.packing_log2_count")
#: Packing centres at every ``r``-th cell centre ``(k + 1/2)/K`` of a ``K``-grid,
#: ``r = ceil(2 · bump_radius · K)``; ``floor((K - 1) / r) + 1`` of them per axis.
cell_centre_packing_stride = derived("capacity.cell_centre_stride")
cell_centre_packing_per_axis = derived("capacity.cell_centre_per_axis")

# ----------------------------------------------------------------------------- covering and tokens
#: Prompt cells (side ``eps / Λ``) per prompt entry, simplified bound: ``c Λ R_P / eps``.
covering_cells_per_entry = derived("capacity.covering_cells_per_entry")
#: Bits one prompt entry can select among functions ``eps`` apart: ``log2(c Λ R_P / eps)``.
covering_log2_per_entry = derived("capacity.covering_log2_per_entry")
#: Number of prompt cells covering ``[-R_P, R_P]^{Lp × D}``, simplified bound.
covering_count = derived("capacity.covering_count")
#: ``log2`` of :data:`covering_count`.
covering_log2_count = derived("capacity.covering_log2_count")
#: The token bound's formula ``M(eps) / (D log2(c Λ R_P / eps))`` (the branch ``2 Λ R_P > eps``).
token_bound_formula = derived("capacity.token_bound_formula")
#: Token lower bound: the formula when ``2 Λ R_P > eps``; ``oo`` otherwise (one covering cell).
token_lower_bound = derived("capacity.token_lower_bound")
#: Dataset version: every labeling of ``N`` fixed sequences with targets in ``{1/2 ± 2 eps}``
#: needs ``Lp >= N L d / (D log2(c Λ R_P / eps))`` (``oo`` when ``2 Λ R_P <= eps``).
dataset_token_lower_bound = derived("capacity.dataset_token_lower_bound")
#: Both written in ``log2 Λ`` (``Λ = 2^{log2 Λ}``, logs expanded), for ``Λ`` beyond float64.
token_lower_bound_log2_lambda = derived("capacity.token_lower_bound_log2_lambda")
dataset_token_lower_bound_log2_lambda = derived("capacity.dataset_token_lower_bound_log2_lambda")
#: The ``Λ`` a model must have for ``Lp`` prompt rows to separate ``2^M`` targets (capacity
#: ratio 1): ``eps/(c R_P) 2^{M/(D Lp)}``; its instances for ``M(eps)`` and ``N L d``.
lambda_required = derived("capacity.lambda_required")
lipschitz_required = derived("capacity.lipschitz_required")
dataset_lipschitz_required = derived("capacity.dataset_lipschitz_required")
#: ``log2`` of the covering count with ``Λ = 2^{log2 Λ}`` (logs expanded).
covering_log2_count_log2_lambda = derived("capacity.covering_log2_count_log2_lambda")
#: Capacity ratio of a construction: covering bits over the packing bits ``M`` it must separate
#: (Theorem 3: ``>= 1``); ``0`` when ``2 Λ R_P <= eps``, in ``log2 Λ``.
capacity_ratio = derived("capacity.capacity_ratio")
#: Packing bits of the dataset version: every two-level labeling of ``N`` sequences, ``N L d``.
dataset_log2_count = premise("capacity.dataset_token_lower_bound:count")
#: Bits ratio: significand bits ``b`` over the precision lower bound (Theorem 1: ``>= 1``).
bits_ratio = derived("capacity.bits_ratio")

# ----------------------------------------------------------------------------- Wang-style floor
#: Two rows forced to share one output ``o`` with targets ``a`` and ``b``: squared error.
wang_pair_loss = premise("capacity.wang_pair_floor:loss")
#: The best shared output (where the convex pair loss stops decreasing): ``(a + b) / 2``.
wang_shared_output = derived("capacity.wang_shared_output")
#: The pair's smallest squared error: ``(a - b)^2 / 2``.
wang_pair_floor = derived("capacity.wang_pair_floor")
#: Normaliser of the mean squared error over two sequences of ``L × d`` targets: ``2 L d``.
wang_mse_denominator = derived("capacity.wang_mse_denominator")

# ----------------------------------------------------------------------------- lambdified
precision_bits_lower_fn = sp.lambdify((d, K, L, Q, d_v), precision_bits_lower, "numpy")
packing_log2_count_centres_fn = sp.lambdify((d, L, m), packing_log2_count_centres, "numpy")
cell_centre_packing_stride_fn = sp.lambdify((eps, C, K), cell_centre_packing_stride, "numpy")
cell_centre_packing_per_axis_fn = sp.lambdify((eps, C, K), cell_centre_packing_per_axis, "numpy")
log2_lambda_required_fn = sp.lambdify(
    (M_bits, eps, D, Lp, R_P), sp.expand_log(sp.log(lambda_required, 2), force=True), "numpy"
)
dataset_log2_count_fn = sp.lambdify((N, L, d), dataset_log2_count, "numpy")
capacity_ratio_fn = sp.lambdify((eps, log2_Lam, R_P, D, Lp, M_bits), capacity_ratio, "numpy")
bits_ratio_fn = sp.lambdify((b_bits, d, K, L, Q, d_v), bits_ratio, "numpy")
wang_pair_floor_fn = sp.lambdify((y_a, y_b), wang_pair_floor, "numpy")
wang_mse_denominator_fn = sp.lambdify((d, L), wang_mse_denominator, "numpy")
packing_log2_count_fn = sp.lambdify((eps, C, d, L), packing_log2_count, "numpy")
packing_centres_per_axis_fn = sp.lambdify((eps, C), packing_centres_per_axis, "numpy")
packing_one_centre_max_eps_fn = sp.lambdify(C, packing_one_centre_max_eps, "numpy")
bump_height_fn = sp.lambdify(eps, bump_height, "numpy")
packing_separation_fn = sp.lambdify(eps, packing_separation, "numpy")
covering_log2_count_fn = sp.lambdify((eps, Lam, R_P, D, Lp), covering_log2_count, "numpy")
token_lower_bound_fn = sp.lambdify((eps, C, d, L, D, Lam, R_P), token_lower_bound, "numpy")
dataset_token_lower_bound_fn = sp.lambdify(
    (N, eps, d, L, D, Lam, R_P), dataset_token_lower_bound, "numpy"
)
token_lower_bound_log2_lambda_fn = sp.lambdify(
    (eps, C, d, L, D, log2_Lam, R_P), token_lower_bound_log2_lambda, "numpy"
)
dataset_token_lower_bound_log2_lambda_fn = sp.lambdify(
    (N, eps, d, L, D, log2_Lam, R_P), dataset_token_lower_bound_log2_lambda, "numpy"
)
log2_lipschitz_required_fn = sp.lambdify(
    (eps, C, d, L, D, Lp, R_P), sp.expand_log(sp.log(lipschitz_required, 2), force=True), "numpy"
)
log2_dataset_lipschitz_required_fn = sp.lambdify(
    (N, eps, d, L, D, Lp, R_P),
    sp.expand_log(sp.log(dataset_lipschitz_required, 2), force=True),
    "numpy",
)

__all__ = [
    "BUMP_HEIGHT_OVER_EPS",
    "COVERING_CONSTANT",
    "bits_ratio",
    "bits_ratio_fn",
    "bump_height",
    "bump_height_fn",
    "bump_radius",
    "capacity_ratio",
    "capacity_ratio_fn",
    "cell_centre_packing_per_axis",
    "cell_centre_packing_per_axis_fn",
    "cell_centre_packing_stride",
    "cell_centre_packing_stride_fn",
    "covering_cells_per_entry",
    "covering_count",
    "covering_log2_count",
    "covering_log2_count_fn",
    "covering_log2_count_log2_lambda",
    "covering_log2_per_entry",
    "dataset_lipschitz_required",
    "dataset_log2_count",
    "dataset_log2_count_fn",
    "dataset_token_lower_bound",
    "dataset_token_lower_bound_fn",
    "dataset_token_lower_bound_log2_lambda",
    "dataset_token_lower_bound_log2_lambda_fn",
    "lambda_required",
    "lipschitz_required",
    "log2_dataset_lipschitz_required_fn",
    "log2_lambda_required_fn",
    "log2_lipschitz_required_fn",
    "packing_centres_per_axis",
    "packing_centres_per_axis_fn",
    "packing_log2_count",
    "packing_log2_count_centres",
    "packing_log2_count_centres_fn",
    "packing_log2_count_fn",
    "packing_max_eps",
    "packing_one_centre_max_eps",
    "packing_one_centre_max_eps_fn",
    "packing_separation",
    "packing_separation_fn",
    "packing_spacing",
    "precision_bits_lower",
    "precision_bits_lower_fn",
    "table_bits",
    "token_bound_formula",
    "token_lower_bound",
    "token_lower_bound_fn",
    "token_lower_bound_log2_lambda",
    "token_lower_bound_log2_lambda_fn",
    "wang_mse_denominator",
    "wang_mse_denominator_fn",
    "wang_pair_floor",
    "wang_pair_floor_fn",
    "wang_pair_loss",
    "wang_shared_output",
]
