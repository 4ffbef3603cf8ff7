"""Shapes of the three lookup models (``deep``, ``wide``, ``shallow``) in sympy: the width–depth
trade-off (docs/universality.md, "Width against depth").

The deep and wide expressions come from :mod:`verify.claims.universality.bounds`; the shallow
model (one FFN layer on each side of the attention, :mod:`reference.constructions.decoders.shallow`)
is defined here. Every quantity is one sympy expression over the symbols of
:mod:`verify.claims.universality.bounds`, exposed symbolically and lambdified (suffix ``_fn``).
Parameters count every entry of every dense array the model is made of (embedding, read-out,
positional encoding, attention and FFN weights and biases), which is what the reference
allocates.

>>> from verify.claims.universality.decoder_bounds import shallow_ffn_out_width_fn
>>> from verify.claims.universality.decoder_bounds import shallow_model_width_fn
>>> from verify.claims.universality.decoder_bounds import shallow_precision_needed
>>> int(shallow_ffn_out_width_fn(1, 2, 4, 4)), int(shallow_model_width_fn(1, 2, 4))
(1344, 25)
>>> int(shallow_precision_needed(1, 2, 4, 4, 2.0**-5))
21
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from reference.constructions.sizes import DECODERS, check_grid
from verify.claims.universality.bounds import (
    K,
    L,
    Q,
    as_log2,
    bits_per_row,
    d,
    depth_in,
    depth_out,
    eta,
    ffn_in_units,
    ffn_out_units,
    model_width,
    precision_needed,
    prompt_rows,
    wide_depth_out,
    wide_ffn_out_units,
    wide_model_width,
)
from verify.derive import derived, premise
from verify.derive.derivations.universality_shallow import beta, p

# ----------------------------------------------------------------------------- shallow: shapes
#: Rows tying at the top attention score: ``n = 2^⌈log2(L + 1)⌉`` (match, inputs, pad rows).
shallow_tie_rows = premise("universality.shallow_prompt_rows:tie_rows")
#: Prompt rows: ``L K^d`` table rows plus ``n − L − 1`` constant pad rows.
shallow_prompt_rows = derived("universality.shallow_prompt_rows")
#: Gated steps ``[x_r >= j/K]·[pos = p]``: ``L d (K − 1)``.
shallow_steps = premise("universality.shallow_prompt_rows:steps")
#: ``FFN_in``: one layer, two ReLUs per gated step.
shallow_ffn_in_width = premise("universality.shallow_prompt_rows:ffn_in_width")
#: ``FFN_out``: one layer, two ReLUs per position, context, coordinate and jump of the digit:
#: ``2 L d Σ_{t<T} (Q^{t+1} − 1) = 2 L G`` (``G`` the wide decoder's ramps).
shallow_ffn_out_width = derived("universality.shallow_ffn_out_units")
shallow_depth_in = premise("universality.shallow_prompt_rows:depth_in")
shallow_depth_out = premise("universality.shallow_prompt_rows:depth_out")
#: Model width ``D = 5d + 3L + 2 + 2 L d (K − 1)`` (layout blocks of the shallow model).
shallow_model_width = derived("universality.model_width_shallow")
#: Attention key width (``c_r``, ``Σ c_r²``, 1, one-hot position) and value width.
shallow_key_width = premise("universality.shallow_prompt_rows:key_width")
shallow_value_width = premise("universality.shallow_prompt_rows:value_width")

# ----------------------------------------------------------------------------- shallow: numerics
#: ``β(p) = 2^{max(0, ⌈log2(ln 2 (p + T log2 Q + 3 + log2 Lp))⌉)}``: the off-match mass
#: ``Lp e^{−β} < 2^{−(p + T log2 Q + 3)}`` is absorbed by rounding at ``p`` bits.
shallow_inverse_temperature = derived("universality.shallow_inverse_temperature")
#: Output column of ``FFN_out``: partial sums ``< 4 Q^{2T+1}``, half-integers.
shallow_decoder_bits = premise("universality.shallow_prompt_rows:decoder_bits")
#: ``FFN_out`` pre-activations: half-integers ``< 2^{T log2 Q + 3}(2 + (L − 1) d (K − 1))``
#: (gate weight ``4Q^T``).
shallow_pre_activation_bits = premise("universality.shallow_prompt_rows:pre_activation_bits")
#: ``FFN_in`` ramps of slope ``s = 2^⌈log2(1/η)⌉``: pre-activations ``< 4s``, half-integer biases.
shallow_ffn_in_bits = derived("universality.precision_band_shallow")
#: Attention logits (and their differences) exact: ``log2 β + 1 + ⌈log2(3d(K−1)² + 1)⌉``.
shallow_logit_bits = premise("universality.shallow_prompt_rows:logit_bits")

# ----------------------------------------------------------------------------- parameters
#: Dense entries of a model: embedding and read-out ``2dD``, positional ``LD``, ``W_Q, W_K``
#: ``2D d_k``, ``W_V, W_O`` ``2D d_v``, FFN layers ``(2D + 1)·hidden + D`` each.
dense_parameters = premise("universality.parameters_deep:dense")
#: Dense parameters of each model (``deep``: key width 3, value width ``d + L``).
deep_parameters = derived("universality.parameters_deep")
wide_parameters = derived("universality.parameters_wide")
shallow_parameters = derived("universality.parameters_shallow")


def _fn(args: tuple[sp.Symbol, ...], expr: sp.Expr) -> Any:
    """``lambdify(args, expr, "numpy")`` with base-2 logarithms as numpy's exact ``log2``."""
    return sp.lambdify(args, as_log2(expr), "numpy")


# ----------------------------------------------------------------------------- lambdified
shallow_tie_rows_fn = _fn((L,), shallow_tie_rows)
shallow_prompt_rows_fn = _fn((d, L, K), shallow_prompt_rows)
shallow_ffn_in_width_fn = _fn((d, L, K), shallow_ffn_in_width)
shallow_ffn_out_width_fn = _fn((d, L, K, Q), shallow_ffn_out_width)
shallow_model_width_fn = _fn((d, L, K), shallow_model_width)
shallow_key_width_fn = _fn((d, L), shallow_key_width)
shallow_value_width_fn = _fn((d, L, K), shallow_value_width)
shallow_inverse_temperature_fn = _fn((d, L, K, Q, p), shallow_inverse_temperature)
shallow_decoder_bits_fn = _fn((d, L, K, Q), shallow_decoder_bits)
shallow_pre_activation_bits_fn = _fn((d, L, K, Q), shallow_pre_activation_bits)
shallow_ffn_in_bits_fn = _fn((eta,), shallow_ffn_in_bits)
shallow_logit_bits_fn = _fn((d, K, beta), shallow_logit_bits)
deep_parameters_fn = _fn((d, L, K, Q), deep_parameters)
wide_parameters_fn = _fn((d, L, K, Q), wide_parameters)
shallow_parameters_fn = _fn((d, L, K, Q), shallow_parameters)
precision_needed_fn = _fn((d, L, K, Q, eta), precision_needed)


def shallow_precision_needed(d: int, L: int, K: int, Q: int, eta: float) -> int:
    """Smallest ``p`` with ``p >=`` every bit requirement above, ``β`` taken at ``p`` itself
    (the logit term grows like ``log2 p``, so the scan stops after a few steps).

    >>> from verify.claims.universality.decoder_bounds import shallow_precision_needed
    >>> shallow_precision_needed(4, 1, 16, 2, 2.0**-10)
    18
    """
    bits = int(
        max(
            shallow_decoder_bits_fn(d, L, K, Q),
            shallow_pre_activation_bits_fn(d, L, K, Q),
            shallow_ffn_in_bits_fn(eta),
        )
    )
    while bits < shallow_logit_bits_fn(d, K, shallow_inverse_temperature_fn(d, L, K, Q, bits)):
        bits += 1
    return bits


def exact(expr: sp.Expr, **values: float) -> int:
    """An expression evaluated exactly (sympy integers; the ``_fn`` forms round above 2^53).

    >>> from verify.claims.universality.decoder_bounds import exact
    >>> from verify.claims.universality.decoder_bounds import shallow_ffn_out_width
    >>> exact(shallow_ffn_out_width, d=1, L=2, K=8, Q=8)
    76695808
    """
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"expr: expected a sympy expression, got {type(expr).__name__}")
    value = sp.sympify(expr.subs(_symbols(values)))
    if not value.free_symbols and not value.is_Integer:  # log(8)/log(2) and the like
        value = sp.simplify(sp.expand_log(value, force=True))
    if value.free_symbols or not value.is_integer:
        raise ValueError(f"expr: expected an integer at {values}, got {value}")
    return int(value)


def shape_formulas(decoder: str, d: int, L: int, K: int, Q: int, eta: float) -> dict[str, int]:
    """Layers, widths, parameters, bits and prompt rows of one model, from the expressions
    (exact integers).

    >>> from verify.claims.universality.decoder_bounds import shape_formulas
    >>> shape_formulas("shallow", 1, 2, 4, 4, 2.0**-5)["ffn_out_units"]
    1344
    """
    if decoder not in DECODERS:
        raise ValueError(f"decoder: expected one of {DECODERS}, got {decoder!r}")
    d, L, K, Q = check_grid(d, L, K, Q)
    if not isinstance(eta, (int, float)) or isinstance(eta, bool) or not 0 < eta < 1 / (2 * K):
        raise ValueError(f"eta: expected a number in (0, 1/(2K)) = (0, {1 / (2 * K)}), got {eta!r}")
    size = {"d": d, "L": L, "K": K, "Q": Q}
    if decoder == "shallow":
        exprs = {
            "depth_in": shallow_depth_in,
            "depth_out": shallow_depth_out,
            "ffn_in_units": shallow_ffn_in_width,
            "ffn_out_units": shallow_ffn_out_width,
            "model_width": shallow_model_width,
            "parameters": shallow_parameters,
            "prompt_rows": shallow_prompt_rows,
        }
        bits = shallow_precision_needed(d, L, K, Q, eta)
    else:
        wide = decoder == "wide"
        exprs = {
            "depth_in": depth_in,
            "depth_out": wide_depth_out if wide else depth_out,
            "ffn_in_units": ffn_in_units,
            "ffn_out_units": wide_ffn_out_units if wide else ffn_out_units,
            "model_width": wide_model_width if wide else model_width,
            "parameters": wide_parameters if wide else deep_parameters,
            "prompt_rows": prompt_rows,
        }
        bits = exact(precision_needed, **size, eta=eta)
    values = {name: exact(expr, **size) for name, expr in exprs.items()}
    values["precision_bits"] = int(bits)
    values["bits_per_row"] = exact(bits_per_row, **size)
    values["layers"] = values["depth_in"] + values["depth_out"]
    return values


def _symbols(values: dict[str, float]) -> dict[sp.Symbol, float]:
    names = {"d": d, "L": L, "K": K, "Q": Q, "eta": eta, "p": p, "beta": beta}
    return {names[k]: sp.nsimplify(v) if isinstance(v, float) else v for k, v in values.items()}
