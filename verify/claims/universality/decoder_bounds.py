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
(1344, 23)
>>> int(shallow_precision_needed(1, 2, 4, 4, 2.0**-5))
21
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import log2

from verify.claims.universality.bounds import (
    K,
    L,
    Q,
    bits_per_row,
    contexts,
    d,
    depth_in,
    depth_out,
    eta,
    ffn_in_units,
    ffn_out_units,
    model_width,
    precision_needed,
    prompt_rows,
    wide_decoder_ramps,
    wide_depth_out,
    wide_ffn_out_units,
    wide_model_width,
)

p = sp.Symbol("p", positive=True, integer=True)  # significand bits of the backend
beta = sp.Symbol("beta", positive=True)  # inverse temperature

# ----------------------------------------------------------------------------- shallow: shapes
#: Rows tying at the top attention score: ``n = 2^⌈log2(L + 1)⌉`` (match, inputs, pad rows).
shallow_tie_rows = 2 ** sp.Max(1, sp.ceiling(log2(L + 1)))
#: Prompt rows: ``L K^d`` table rows plus ``n − L − 1`` constant pad rows.
shallow_prompt_rows = prompt_rows + shallow_tie_rows - L - 1
#: Gated steps ``[x_r >= j/K]·[pos = p]``: ``L d (K − 1)``.
shallow_steps = L * d * (K - 1)
#: ``FFN_in``: one layer, two ReLUs per gated step.
shallow_ffn_in_width = 2 * shallow_steps
#: ``FFN_out``: one layer, two ReLUs per position, context, coordinate and jump of the digit:
#: ``2 L d Σ_{t<T} (Q^{t+1} − 1) = 2 L G`` (``G`` the wide decoder's ramps).
shallow_ffn_out_width = 2 * L * wide_decoder_ramps
shallow_depth_in = sp.Integer(1)
shallow_depth_out = sp.Integer(1)
#: Model width ``D = 5d + 2L + 2 + 2 L d (K − 1)`` (layout blocks of the shallow model).
shallow_model_width = 5 * d + 2 * L + 2 + 2 * shallow_steps
#: Attention key width (``c_r``, ``Σ c_r²``, 1, one-hot position) and value width.
shallow_key_width = d + L + 2
shallow_value_width = d + shallow_steps

# ----------------------------------------------------------------------------- shallow: numerics
#: ``β(p) = 2^{max(0, ⌈log2(ln 2 (p + T log2 Q + 3 + log2 Lp))⌉)}``: the off-match mass
#: ``Lp e^{−β} < 2^{−(p + T log2 Q + 3)}`` is absorbed by rounding at ``p`` bits.
shallow_inverse_temperature = 2 ** sp.Max(
    0,
    sp.ceiling(log2(sp.log(2) * (p + contexts * log2(Q) + 3 + log2(shallow_prompt_rows)))),
)
#: Output column of ``FFN_out``: partial sums ``< 4 Q^{2T+1}``, half-integers.
shallow_decoder_bits = 2 * contexts * log2(Q) + log2(Q) + 3
#: ``FFN_out`` pre-activations: half-integers ``< 2^{T log2 Q + 2}(3 + (L − 1) d (K − 1))``.
shallow_pre_activation_bits = contexts * log2(Q) + 3 + sp.ceiling(log2(3 + (L - 1) * d * (K - 1)))
#: ``FFN_in`` ramps of slope ``s = 2^⌈log2(1/η)⌉``: ``ulp(2s) <= 1/2``.
shallow_ffn_in_bits = sp.ceiling(log2(1 / eta)) + 2
#: Attention logits (and their differences) exact: ``log2 β + 1 + ⌈log2(3d(K−1)² + 1)⌉``.
shallow_logit_bits = log2(beta) + 1 + sp.ceiling(log2(3 * d * (K - 1) ** 2 + 1))

# ----------------------------------------------------------------------------- parameters
key_w, value_w, D = sp.symbols("d_k d_v D", positive=True, integer=True)
units_in, units_out, layers_in, layers_out = sp.symbols(
    "H_in H_out l_in l_out", nonnegative=True, integer=True
)
#: Dense entries of a model: embedding and read-out ``2dD``, positional ``LD``, ``W_Q, W_K``
#: ``2D d_k``, ``W_V, W_O`` ``2D d_v``, FFN layers ``(2D + 1)·hidden + D`` each.
dense_parameters = (
    2 * d * D
    + L * D
    + 2 * D * key_w
    + 2 * D * value_w
    + (2 * D + 1) * (units_in + units_out)
    + D * (layers_in + layers_out)
)


def _params(
    width: sp.Expr,
    dk: sp.Expr | int,
    dv: sp.Expr,
    h_in: sp.Expr,
    h_out: sp.Expr,
    l_in: sp.Expr | int,
    l_out: sp.Expr,
) -> sp.Expr:
    return dense_parameters.subs(
        {D: width, key_w: dk, value_w: dv, units_in: h_in, units_out: h_out}
    ).subs({layers_in: l_in, layers_out: l_out})


#: Dense parameters of each model (``deep``: key width 3, value width ``d + L``).
deep_parameters = _params(model_width, 3, d + L, ffn_in_units, ffn_out_units, depth_in, depth_out)
wide_parameters = _params(
    wide_model_width, 3, d + L, ffn_in_units, wide_ffn_out_units, depth_in, wide_depth_out
)
shallow_parameters = _params(
    shallow_model_width,
    shallow_key_width,
    shallow_value_width,
    shallow_ffn_in_width,
    shallow_ffn_out_width,
    1,
    1,
)

# ----------------------------------------------------------------------------- lambdified
shallow_tie_rows_fn = sp.lambdify((L,), shallow_tie_rows, "numpy")
shallow_prompt_rows_fn = sp.lambdify((d, L, K), shallow_prompt_rows, "numpy")
shallow_ffn_in_width_fn = sp.lambdify((d, L, K), shallow_ffn_in_width, "numpy")
shallow_ffn_out_width_fn = sp.lambdify((d, L, K, Q), shallow_ffn_out_width, "numpy")
shallow_model_width_fn = sp.lambdify((d, L, K), shallow_model_width, "numpy")
shallow_key_width_fn = sp.lambdify((d, L), shallow_key_width, "numpy")
shallow_value_width_fn = sp.lambdify((d, L, K), shallow_value_width, "numpy")
shallow_inverse_temperature_fn = sp.lambdify((d, L, K, Q, p), shallow_inverse_temperature, "numpy")
shallow_decoder_bits_fn = sp.lambdify((d, L, K, Q), shallow_decoder_bits, "numpy")
shallow_pre_activation_bits_fn = sp.lambdify((d, L, K, Q), shallow_pre_activation_bits, "numpy")
shallow_ffn_in_bits_fn = sp.lambdify((eta,), shallow_ffn_in_bits, "numpy")
shallow_logit_bits_fn = sp.lambdify((d, K, beta), shallow_logit_bits, "numpy")
deep_parameters_fn = sp.lambdify((d, L, K, Q), deep_parameters, "numpy")
wide_parameters_fn = sp.lambdify((d, L, K, Q), wide_parameters, "numpy")
shallow_parameters_fn = sp.lambdify((d, L, K, Q), shallow_parameters, "numpy")
precision_needed_fn = sp.lambdify((d, L, K, Q), precision_needed, "numpy")


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
    return int(sp.Integer(expr.subs(_symbols(values))))


def shape_formulas(decoder: str, d: int, L: int, K: int, Q: int, eta: float) -> dict[str, int]:
    """Layers, widths, parameters, bits and prompt rows of one model, from the expressions
    (exact integers).

    >>> from verify.claims.universality.decoder_bounds import shape_formulas
    >>> shape_formulas("shallow", 1, 2, 4, 4, 2.0**-5)["ffn_out_units"]
    1344
    """
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
        bits = exact(precision_needed, **size)
    values = {name: exact(expr, **size) for name, expr in exprs.items()}
    values["precision_bits"] = int(bits)
    values["bits_per_row"] = exact(bits_per_row, **size)
    values["layers"] = values["depth_in"] + values["depth_out"]
    return values


def _symbols(values: dict[str, float]) -> dict[sp.Symbol, float]:
    names = {"d": d, "L": L, "K": K, "Q": Q, "eta": eta, "p": p, "beta": beta}
    return {names[k]: sp.nsimplify(v) if isinstance(v, float) else v for k, v in values.items()}
