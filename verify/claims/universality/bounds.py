"""Resources and error of the universality / memorization construction (theory.md §3), in sympy.

Every bound is a derivation's result (:mod:`verify.derive.derivations.universality`,
``universality_sizes``; ``python -m verify.derive --list``), taken here with
:func:`verify.derive.derived`; definitions and cited lemmas with :func:`verify.derive.premise`,
the suite's own choices with :func:`verify.derive.chosen`. Each is exposed symbolically and as a
``lambdify(..., "numpy")`` function (suffix ``_fn``). ``reference.constructions`` computes the
same numbers in plain Python (``reference`` never imports ``verify``); the tests check that the
built objects equal these expressions. All constants are ours (the paper's constructions are
not available to us); docs/universality.md.

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

from typing import Any

import sympy as sp
from sympy.codegen.cfunctions import log2

from verify.derive import chosen, derived, premise
from verify.derive.derivations.universality import (
    C,
    K,
    L,
    Q,
    d,
    delta,
    eps,
    eta,
    p_norm,
    samples,
)

__all__ = ["C", "K", "L", "Q", "d", "delta", "eps", "eta", "p_norm", "samples"]


def as_log2(expr: sp.Expr) -> sp.Expr:
    """``log(x)/log(2)`` (how sympy solves for exponents) as ``log2(x)``: numpy's ``log2`` is
    exact at powers of two, where ``ceiling``/``floor`` must not be pushed over by rounding.

    >>> import sympy as sp
    >>> from verify.claims.universality.bounds import as_log2, eps
    >>> as_log2(sp.ceiling(-sp.log(eps) / sp.log(2)))
    ceiling(-log2(epsilon))
    """

    def log_difference(e: sp.Basic) -> bool:  # log C − log ε (how sympy solves 2^k = C/ε)
        return isinstance(e, sp.Add) and all(
            isinstance(a, sp.log) or (isinstance(-a, sp.log)) for a in e.args
        )

    expr = sp.sympify(expr).replace(log_difference, lambda e: sp.logcombine(e, force=True))
    expr = expr.replace(  # log(y^c) = c log(y) (y > 0): keeps exponents out of the logarithm
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.Pow),
        lambda e: e.args[0].exp * sp.log(e.args[0].base),
    )
    lam = sp.Dummy("log_2", positive=True)
    logs = {lg: log2(as_log2(lg.args[0])) * lam for lg in expr.atoms(sp.log) if lg != sp.log(2)}
    return expr.xreplace(logs).xreplace({sp.log(2): lam}).subs(lam, sp.log(2))


# ----------------------------------------------------------------------------- constants (ours)
#: Significand bits beyond the packed table's ``T log2 Q`` (derivation universality.guard_bits).
GUARD_BITS = derived("universality.guard_bits")

# ----------------------------------------------------------------------------- grid and levels
#: ``K(ε, C) = 2^{max(1, ⌈log2(C/ε)⌉)}``: cells per coordinate, ``K >= C/ε``.
cells_per_axis = derived("universality.cells_per_axis")
#: The unrounded grid ``⌈C/ε⌉`` of theory.md §3, for comparison.
cells_per_axis_unrounded = premise("universality.cells_exponent:unrounded")
#: ``Q(ε) = 2^{max(1, ⌈log2(1/ε)⌉)}``: output levels, ``Q >= 1/ε``.
levels = derived("universality.levels")
#: Memorization grid: ``K(δ) = 2^{max(1, ⌈log2(1/δ)⌉)}`` separates ``δ``-separated tokens.
memorizer_cells_per_axis = derived("universality.memorizer_cells")

# ----------------------------------------------------------------------------- error and band
#: Sup error off the band: ``C/(2K) + 1/(2Q)`` (cell half-width times ``C``, plus quantization).
error_bound = derived("universality.error_off_band")
#: Memorization error on the dataset: output quantization only (the level-centre premise).
memorizer_error_bound = premise("universality.error_off_band:level_error")
#: Default band half-width ``η = 2^{⌊log2(ε/(2dLK))⌋}`` (so that the band measure is ``<= ε``).
band_eta = derived("universality.band_eta")
#: Lebesgue measure of the band in ``[0,1]^{L×d}``, exactly: ``1 − (1 − 2η(K−1))^{dL}``.
band_measure = derived("universality.band_measure")
#: Its bound ``2 d L η K`` (union bound over the ``d L`` coordinates).
band_measure_bound = derived("universality.band_measure_bound")

# ----------------------------------------------------------------------------- the whole cube
#: Sup error inside the band, ``1 − 1/(2Q)``, per decoder (each from its own range lemma).
band_error_bounds = {
    dec: derived(f"universality.in_band_error_{dec}") for dec in ("deep", "wide", "shallow")
}
band_error_bound = derived("universality.in_band_error_deep")
#: float64 rounding of the in-band read-out: the range lemma holds in exact arithmetic; the
#: whole-cube check (float64) allows this much beyond it (measured deviations <= 4.5e-16).
FLOAT64_READOUT_ALLOWANCE = chosen(
    sp.Rational(1, 2**40), "float64 rounding of the in-band read-out (measured <= 4.5e-16)"
)
#: ``‖τ − f‖_{L_p}`` over the whole cube (uniform measure), band included, per decoder.
lp_error_bounds = {
    dec: derived(f"universality.lp_norm_{dec}") for dec in ("deep", "wide", "shallow")
}
lp_error_bound = derived("universality.lp_norm_deep")
#: Its closed form at the default band: ``ε + ε^{1/p}`` (error bound and band measure ``<= ε``).
lp_error_bound_eps = derived("universality.lp_norm_eps")
#: Failure probability allowed to each Monte Carlo comparison (Hoeffding, one-sided).
SAMPLING_FAILURE = premise("universality.band_fraction:failure")
#: Fraction of ``n`` uniform samples in the band, ``<= band_measure + deviation`` (w.p. ``1 − δ``).
band_fraction_bound = derived("universality.band_fraction")
#: Hoeffding deviation of a mean of ``n`` samples in ``[0, 1]``: ``sqrt(ln(1/δ)/(2n))``.
hoeffding_deviation = premise("universality.band_fraction:deviation")
#: Sample ``L_p`` error: ``(mean |τ − f|^p)^{1/p} <= (lp_error_bound^p + M^p deviation)^{1/p}``.
sample_lp_error_bound = derived("universality.sample_lp_error")

# ----------------------------------------------------------------------------- prompt
#: Contexts of one token (cells of the other ``L − 1`` tokens): ``T = K^{d(L−1)}``.
contexts = premise("universality.bits_per_row:contexts")
#: Prompt rows ``Lp = L K^d`` (one per (position, cell) id).
prompt_rows = premise("universality.bits_per_row:prompt_rows")
#: Bits of target information per prompt row: ``K^{d(L−1)} d log2 Q``.
bits_per_row = derived("universality.bits_per_row")

# ----------------------------------------------------------------------------- numerics
#: Inverse temperature ``β = 2^{max(0, ⌈log2(ln 2 (T log2 Q + 5 + log2(L K^d)))⌉)}``.
inverse_temperature = derived("universality.beta")
#: Significand bits needed: ``max(T log2 Q + 6, log2 β + 2⌈log2(L K^d)⌉ + 2, log2(1/η) + 1)``.
precision_needed = derived("universality.precision_needed")
#: The band term alone (issue 15: the quantizer ramps of slope ``1/(2η)``).
precision_band = derived("universality.precision_band")
#: Largest weight: ``2 Q^T`` (the first digit's ramp), bounded by the max of all weight kinds.
max_weight_bound = derived("universality.max_weight")
#: The dominant term, attained by the first decoder ramp: ``2 Q^{K^{d(L−1)}}``.
max_weight_decoder = premise("universality.max_weight:first_ramp")

# ----------------------------------------------------------------------------- widths and depths
#: Model width ``D = 2d(K + Q + 1) + 3L + 2T + 6`` (layout of reference.constructions.lookup).
model_width = derived("universality.model_width")
#: ``FFN_in`` depth (ramps, clamps, features) and ``FFN_out`` depth ``2T + 2`` (deep decoder).
depth_in = premise("universality.depths:ffn_in")
depth_out = premise("universality.depths:ffn_out")
#: ``FFN_in`` hidden widths.
ffn_in_ramp_width = premise("universality.ffn_in_units:ramps")
ffn_in_clamp_width = premise("universality.ffn_in_units:clamps")
ffn_in_feature_width = premise("universality.ffn_in_units:features")
#: A middle decoder layer ``A_k`` (``2 <= k < T``): ramps, commit and select units, ``d(2Q + 3)``.
decoder_ramp_layer_width = premise("universality.depths:middle_a")
#: A middle decoder layer ``B_k`` (``k >= 2``): exact clamps, ``2d(Q − 1)``.
decoder_clamp_layer_width = premise("universality.depths:middle_b")
#: Total hidden units of ``FFN_in`` and of ``FFN_out``.
ffn_in_units = derived("universality.ffn_in_units")
ffn_out_units = derived("universality.ffn_out_units")

# ----------------------------------------------------------------------------- wide decoder
#: Ramps (= step coordinates) of the wide decoder: ``G = d Σ_{t<T} (Q^{t+1} − 1)``.
wide_decoder_ramps = derived("universality.wide_ramps")
#: Its ``FFN_out`` depth (ramps, clamps, context snap, selection): 4 (3 when ``T = 1``).
wide_depth_out = premise("universality.depths:wide_ffn_out")
#: Its ``FFN_out`` hidden units: ``G + 2(L−1) + 2G + T − 1 + 2(T − 1) + 3dT``.
wide_ffn_out_units = derived("universality.wide_ffn_out_units")
#: Its model width ``D = 2dK + 2G + 4d + 3L + 2T + 6`` (the deep layout with ``G`` steps).
wide_model_width = derived("universality.model_width_wide")


def _fn(args: tuple[sp.Symbol, ...], expr: sp.Expr) -> Any:
    """``lambdify(args, expr, "numpy")`` with base-2 logarithms as numpy's exact ``log2``."""
    return sp.lambdify(args, as_log2(expr), "numpy")


# ----------------------------------------------------------------------------- lambdified
cells_per_axis_fn = _fn((eps, C), cells_per_axis)
cells_per_axis_unrounded_fn = _fn((eps, C), cells_per_axis_unrounded)
levels_fn = _fn((eps,), levels)
memorizer_cells_per_axis_fn = _fn((delta,), memorizer_cells_per_axis)
error_bound_fn = _fn((C, K, Q), error_bound)
memorizer_error_bound_fn = _fn((Q,), memorizer_error_bound)
band_eta_fn = _fn((eps, d, L, K), band_eta)
band_measure_fn = _fn((d, L, eta, K), band_measure)
band_measure_bound_fn = _fn((d, L, eta, K), band_measure_bound)
band_error_bound_fn = _fn((Q,), band_error_bound)
lp_error_bound_fn = _fn((C, K, Q, d, L, eta, p_norm), lp_error_bound)
lp_error_bound_eps_fn = _fn((eps, p_norm), lp_error_bound_eps)
band_fraction_bound_fn = _fn((d, L, eta, K, samples), band_fraction_bound)
sample_lp_error_bound_fn = _fn((C, K, Q, d, L, eta, p_norm, samples), sample_lp_error_bound)
contexts_fn = _fn((d, L, K), contexts)
prompt_rows_fn = _fn((d, L, K), prompt_rows)
bits_per_row_fn = _fn((d, L, K, Q), bits_per_row)
inverse_temperature_fn = _fn((d, L, K, Q), inverse_temperature)
precision_needed_fn = _fn((d, L, K, Q, eta), precision_needed)
precision_band_fn = _fn((eta,), precision_band)
band_error_bound_float64_fn = _fn((Q,), band_error_bound + FLOAT64_READOUT_ALLOWANCE)
max_weight_bound_fn = _fn((d, L, K, Q, eta), max_weight_bound)
max_weight_decoder_fn = _fn((d, L, K, Q), max_weight_decoder)
model_width_fn = _fn((d, L, K, Q), model_width)
depth_out_fn = _fn((d, L, K), depth_out)
ffn_in_ramp_width_fn = _fn((d, K), ffn_in_ramp_width)
ffn_in_clamp_width_fn = _fn((d, K), ffn_in_clamp_width)
ffn_in_feature_width_fn = _fn((d, L, K), ffn_in_feature_width)
decoder_ramp_layer_width_fn = _fn((d, Q), decoder_ramp_layer_width)
decoder_clamp_layer_width_fn = _fn((d, Q), decoder_clamp_layer_width)
ffn_in_units_fn = _fn((d, L, K), ffn_in_units)
ffn_out_units_fn = _fn((d, L, K, Q), ffn_out_units)
wide_decoder_ramps_fn = _fn((d, L, K, Q), wide_decoder_ramps)
wide_depth_out_fn = _fn((d, L, K), wide_depth_out)
wide_ffn_out_units_fn = _fn((d, L, K, Q), wide_ffn_out_units)
wide_model_width_fn = _fn((d, L, K, Q), wide_model_width)
