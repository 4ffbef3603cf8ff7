"""Resources and error of the universality / memorization construction (theory.md §3), in sympy.

Every quantity is ONE sympy expression over symbols with assumptions, exposed symbolically and
as a ``lambdify(..., "numpy")`` function (suffix ``_fn``). ``reference.constructions.lookup``
computes the same numbers in plain Python (``reference`` never imports ``verify``); the tests
check that the built objects equal these expressions. Proofs and the choice of constants:
docs/universality.md. All constants are ours (the paper's constructions are not available to us).

Rounding ``K`` up to a power of two: ``C/ε <= K < 2C/ε`` (for ``C/ε > 1``), so the error bound
still meets ``ε`` (it can only get smaller), while the prompt rows grow by at most ``2^d`` and the
bits per row by at most ``2^{d(L−1)}`` (plus one bit per digit for ``Q``) over ``K = ⌈C/ε⌉``.

>>> from verify.claims.universality.bounds import cells_per_axis_fn, error_bound_fn, levels_fn
>>> int(cells_per_axis_fn(0.1, 1.0)), int(levels_fn(0.1))
(16, 16)
>>> float(error_bound_fn(1.0, 16, 16))
0.0625
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import log2

# ----------------------------------------------------------------------------- symbols
d = sp.Symbol("d", positive=True, integer=True)  # token width
L = sp.Symbol("L", positive=True, integer=True)  # input length
K = sp.Symbol("K", positive=True, integer=True)  # grid cells per coordinate (a power of two)
Q = sp.Symbol("Q", positive=True, integer=True)  # output levels (a power of two)
eps = sp.Symbol("epsilon", positive=True)  # accuracy, in (0, 1)
C = sp.Symbol("C", positive=True)  # max-norm Lipschitz constant of the target
eta = sp.Symbol("eta", positive=True)  # half-width of the boundary band
delta = sp.Symbol("delta", positive=True)  # token separation of a memorization dataset

# ----------------------------------------------------------------------------- constants (ours)
#: Significand bits beyond the packed table's ``T log2 Q`` (docs/universality.md, "precision").
GUARD_BITS = sp.Integer(6)
#: Slack bits in the inverse temperature: off-match weights move the table by ``<= 2^{-(Tq+4)}``.
BETA_SLACK_BITS = sp.Integer(5)

# ----------------------------------------------------------------------------- grid and levels
#: ``K(ε, C) = 2^{max(1, ⌈log2(C/ε)⌉)}``: cells per coordinate, ``K >= C/ε``.
cells_per_axis = 2 ** sp.Max(1, sp.ceiling(log2(C / eps)))
#: The unrounded grid ``⌈C/ε⌉`` of theory.md §3, for comparison.
cells_per_axis_unrounded = sp.ceiling(C / eps)
#: ``Q(ε) = 2^{max(1, ⌈log2(1/ε)⌉)}``: output levels, ``Q >= 1/ε``.
levels = 2 ** sp.Max(1, sp.ceiling(log2(1 / eps)))
#: Memorization grid: ``K(δ) = 2^{max(1, ⌈log2(1/δ)⌉)}`` separates ``δ``-separated tokens.
memorizer_cells_per_axis = 2 ** sp.Max(1, sp.ceiling(log2(1 / delta)))

# ----------------------------------------------------------------------------- error and band
#: Sup error off the band: ``C/(2K) + 1/(2Q)`` (cell half-width times ``C``, plus quantization).
error_bound = C / (2 * K) + 1 / (2 * Q)
#: Memorization error on the dataset: output quantization only.
memorizer_error_bound = 1 / (2 * Q)
#: Default band half-width ``η = 2^{⌊log2(ε/(2dLK))⌋}`` (so that the band measure is ``<= ε``).
band_eta = 2 ** sp.floor(log2(eps / (2 * d * L * K)))
#: Lebesgue measure of the band in ``[0,1]^{L×d}``, exactly: ``1 − (1 − 2η(K−1))^{dL}``.
band_measure = 1 - (1 - 2 * eta * (K - 1)) ** (d * L)
#: Its bound ``2 d L η K`` (union bound over the ``d L`` coordinates).
band_measure_bound = 2 * d * L * eta * K

# ----------------------------------------------------------------------------- the whole cube
p_norm = sp.Symbol("p", positive=True)  # exponent of the L_p norm, p >= 1
samples = sp.Symbol("n", positive=True, integer=True)  # uniform samples of the cube
#: Sup error inside the band: ``1 − 1/(2Q)`` (outputs are level centres in
#: ``[1/(2Q), 1 − 1/(2Q)]``, targets lie in ``[0, 1]``; docs/universality.md, "range lemma").
band_error_bound = 1 - 1 / (2 * Q)
#: ``‖τ − f‖_{L_p}`` over the whole cube (uniform measure), band included: the error is
#: ``<= C/(2K) + 1/(2Q)`` off a set of measure ``band_measure`` and ``<= 1 − 1/(2Q)`` on it.
lp_error_power = (1 - band_measure) * error_bound**p_norm + band_measure * band_error_bound**p_norm
lp_error_bound = lp_error_power ** (1 / p_norm)
#: Its closed form at the default band: ``ε + ε^{1/p}`` (error bound and band measure ``<= ε``).
lp_error_bound_eps = eps + eps ** (1 / p_norm)
#: Failure probability allowed to each Monte Carlo comparison (Hoeffding, one-sided).
SAMPLING_FAILURE = sp.Float("1e-9")
#: Hoeffding deviation of a mean of ``n`` samples in ``[0, 1]``: ``sqrt(ln(1/δ)/(2n))``.
hoeffding_deviation = sp.sqrt(sp.log(1 / SAMPLING_FAILURE) / (2 * samples))
#: Fraction of ``n`` uniform samples in the band, ``<= band_measure + deviation`` (w.p. ``1 − δ``).
band_fraction_bound = band_measure + hoeffding_deviation
#: Sample ``L_p`` error: ``(mean |τ − f|^p)^{1/p} <= (lp_error_bound^p + M^p deviation)^{1/p}``
#: (Hoeffding for a mean of values in ``[0, M^p]``, ``M = band_error_bound``).
sample_lp_error_bound = (lp_error_power + band_error_bound**p_norm * hoeffding_deviation) ** (
    1 / p_norm
)

# ----------------------------------------------------------------------------- prompt
#: Contexts of one token (cells of the other ``L − 1`` tokens): ``T = K^{d(L−1)}``.
contexts = K ** (d * (L - 1))
#: Prompt rows ``Lp = L K^d`` (one per (position, cell) id).
prompt_rows = L * K**d
#: Bits of target information per prompt row: ``K^{d(L−1)} d log2 Q``.
bits_per_row = contexts * d * log2(Q)

# ----------------------------------------------------------------------------- numerics
#: Inverse temperature ``β = 2^{max(0, ⌈log2(ln 2 (T log2 Q + 5 + log2(L K^d)))⌉)}``.
inverse_temperature = 2 ** sp.Max(
    0,
    sp.ceiling(log2(sp.log(2) * (contexts * log2(Q) + BETA_SLACK_BITS + log2(prompt_rows)))),
)
#: Significand bits needed: ``max(T log2 Q + 6, log2 β + 2⌈log2(L K^d)⌉ + 2)``.
precision_needed = sp.Max(
    contexts * log2(Q) + GUARD_BITS,
    log2(inverse_temperature) + 2 * sp.ceiling(log2(prompt_rows)) + 2,
)
#: Largest weight: ``2 Q^T`` (the first digit's ramp), bounded by the max of all weight kinds.
max_weight_bound = sp.Max(
    2 * Q**contexts, 1 / (2 * eta), 2 * inverse_temperature, prompt_rows, L + 1
)
#: The dominant term, attained by the first decoder ramp: ``2 Q^{K^{d(L−1)}}``.
max_weight_decoder = 2 * Q**contexts

# ----------------------------------------------------------------------------- widths and depths
#: Model width ``D = 2d(K + Q + 1) + 3L + 2T + 6`` (layout of reference.constructions.lookup).
model_width = 2 * d * (K + Q + 1) + 3 * L + 2 * contexts + 6
#: ``FFN_in`` depth (ramps, clamps, features) and ``FFN_out`` depth ``2T + 2`` (deep decoder).
depth_in = sp.Integer(3)
depth_out = 2 * contexts + 2
#: ``FFN_in`` hidden widths.
ffn_in_ramp_width = d * (K - 1)
ffn_in_clamp_width = 2 * d * (K - 1)
ffn_in_feature_width = L * K**d - 1 + L
#: A middle decoder layer ``A_k`` (``2 <= k < T``): ramps, commit and select units, ``d(2Q + 3)``.
decoder_ramp_layer_width = d * (2 * Q + 3)
#: A middle decoder layer ``B_k`` (``k >= 2``): exact clamps, ``2d(Q − 1)``.
decoder_clamp_layer_width = 2 * d * (Q - 1)
#: Total hidden units of ``FFN_in`` and of ``FFN_out``.
ffn_in_units = ffn_in_ramp_width + ffn_in_clamp_width + ffn_in_feature_width
ffn_out_units = d * contexts * (4 * Q + 1) + 2 * (L - 1) + 4 * (contexts - 1)

# ----------------------------------------------------------------------------- wide decoder
#: Ramps (= step coordinates) of the wide decoder: ``G = d Σ_{t<T} (Q^{t+1} − 1)``.
wide_decoder_ramps = d * (Q * (Q**contexts - 1) / (Q - 1) - contexts)
#: Its ``FFN_out`` depth (ramps, clamps, context snap, selection): 4 (3 when ``T = 1``).
wide_depth_out = 3 + sp.Min(1, contexts - 1)
#: Its ``FFN_out`` hidden units: ``G + 2(L−1) + 2G + T − 1 + 2(T − 1) + 3dT``.
wide_ffn_out_units = 3 * wide_decoder_ramps + 2 * (L - 1) + 3 * (contexts - 1) + 3 * d * contexts
#: Its model width ``D = 2dK + 2G + 4d + 3L + 2T + 6`` (the deep layout with ``G`` steps).
wide_model_width = 2 * d * K + 2 * wide_decoder_ramps + 4 * d + 3 * L + 2 * contexts + 6

# ----------------------------------------------------------------------------- lambdified
cells_per_axis_fn = sp.lambdify((eps, C), cells_per_axis, "numpy")
cells_per_axis_unrounded_fn = sp.lambdify((eps, C), cells_per_axis_unrounded, "numpy")
levels_fn = sp.lambdify((eps,), levels, "numpy")
memorizer_cells_per_axis_fn = sp.lambdify((delta,), memorizer_cells_per_axis, "numpy")
error_bound_fn = sp.lambdify((C, K, Q), error_bound, "numpy")
memorizer_error_bound_fn = sp.lambdify((Q,), memorizer_error_bound, "numpy")
band_eta_fn = sp.lambdify((eps, d, L, K), band_eta, "numpy")
band_measure_fn = sp.lambdify((d, L, eta, K), band_measure, "numpy")
band_measure_bound_fn = sp.lambdify((d, L, eta, K), band_measure_bound, "numpy")
band_error_bound_fn = sp.lambdify((Q,), band_error_bound, "numpy")
lp_error_bound_fn = sp.lambdify((C, K, Q, d, L, eta, p_norm), lp_error_bound, "numpy")
lp_error_bound_eps_fn = sp.lambdify((eps, p_norm), lp_error_bound_eps, "numpy")
band_fraction_bound_fn = sp.lambdify((d, L, eta, K, samples), band_fraction_bound, "numpy")
sample_lp_error_bound_fn = sp.lambdify(
    (C, K, Q, d, L, eta, p_norm, samples), sample_lp_error_bound, "numpy"
)
contexts_fn = sp.lambdify((d, L, K), contexts, "numpy")
prompt_rows_fn = sp.lambdify((d, L, K), prompt_rows, "numpy")
bits_per_row_fn = sp.lambdify((d, L, K, Q), bits_per_row, "numpy")
inverse_temperature_fn = sp.lambdify((d, L, K, Q), inverse_temperature, "numpy")
precision_needed_fn = sp.lambdify((d, L, K, Q), precision_needed, "numpy")
max_weight_bound_fn = sp.lambdify((d, L, K, Q, eta), max_weight_bound, "numpy")
max_weight_decoder_fn = sp.lambdify((d, L, K, Q), max_weight_decoder, "numpy")
model_width_fn = sp.lambdify((d, L, K, Q), model_width, "numpy")
depth_out_fn = sp.lambdify((d, L, K), depth_out, "numpy")
ffn_in_ramp_width_fn = sp.lambdify((d, K), ffn_in_ramp_width, "numpy")
ffn_in_clamp_width_fn = sp.lambdify((d, K), ffn_in_clamp_width, "numpy")
ffn_in_feature_width_fn = sp.lambdify((d, L, K), ffn_in_feature_width, "numpy")
decoder_ramp_layer_width_fn = sp.lambdify((d, Q), decoder_ramp_layer_width, "numpy")
decoder_clamp_layer_width_fn = sp.lambdify((d, Q), decoder_clamp_layer_width, "numpy")
ffn_in_units_fn = sp.lambdify((d, L, K), ffn_in_units, "numpy")
ffn_out_units_fn = sp.lambdify((d, L, K, Q), ffn_out_units, "numpy")
wide_decoder_ramps_fn = sp.lambdify((d, L, K, Q), wide_decoder_ramps, "numpy")
wide_depth_out_fn = sp.lambdify((d, L, K), wide_depth_out, "numpy")
wide_ffn_out_units_fn = sp.lambdify((d, L, K, Q), wide_ffn_out_units, "numpy")
wide_model_width_fn = sp.lambdify((d, L, K, Q), wide_model_width, "numpy")
