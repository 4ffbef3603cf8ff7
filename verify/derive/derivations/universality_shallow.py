"""Universality (theory.md §3): the shallow model's sizes and bit requirements, and the dense
parameter counts of the three models (docs/universality.md, "Width against depth").

The shallow model's shape facts are definitions read off the built objects by
``tests/universality/test_shallow.py``; the parameter counts substitute each model's derived
widths into the one dense-entry count.

>>> from verify.derive import derivation
>>> derivation("universality.shallow_prompt_rows").result
2**ceiling(log(L + 1)/log(2)) + K**d*L - L - 1
"""

from __future__ import annotations

import sympy as sp

from verify.derive.derivations.universality import K, L, Q, d
from verify.derive.engine import Derivation
from verify.derive.registry import derivation, register

p = sp.Symbol("p", positive=True, integer=True)  # significand bits of the backend
beta = sp.Symbol("beta", positive=True)  # inverse temperature
key_w, value_w, D = sp.symbols("d_k d_v D", positive=True, integer=True)
units_in, units_out, layers_in, layers_out = sp.symbols(
    "H_in H_out l_in l_out", nonnegative=True, integer=True
)
entries = sp.Symbol("N_params", positive=True)
shape = sp.Symbol("S", positive=True)
ties = sp.Symbol("n_ties", positive=True)

_T = K ** (d * (L - 1))
_STEPS = L * d * (K - 1)
_SHALLOW = "tests/universality/test_shallow.py::"
_SIZES_TEST = _SHALLOW + "test_reference_sizes_equal_the_sympy_expressions_without_building"
_BUILT_TEST = _SHALLOW + "test_widths_and_resources_equal_the_sympy_formulas"
_BITS_TEST = _SHALLOW + "test_mpmath_backend_is_exact_and_precision_formula_matches_reference"


def log2(x: sp.Expr) -> sp.Expr:
    """``log2 x`` as ``log(x)/log(2)``."""
    return sp.log(x, 2)


_DEFINITIONS = {  # name: (statement's right side, text, test)
    "tie_rows": (
        2 ** sp.Max(1, sp.ceiling(log2(L + 1))),
        "n = 2^⌈log2(L + 1)⌉ rows tie",
        _SIZES_TEST,
    ),
    "steps": (_STEPS, "gated steps [x_r >= j/K]·[pos = p]: L d (K − 1)", _SIZES_TEST),
    "ffn_in_width": (2 * _STEPS, "FFN_in: two ReLUs per gated step", _BUILT_TEST),
    "depth_in": (sp.Integer(1), "one FFN layer before the attention", _BUILT_TEST),
    "depth_out": (sp.Integer(1), "one FFN layer after it", _BUILT_TEST),
    "key_width": (d + L + 2, "keys c_r, Σ c_r², 1, one-hot position", _BUILT_TEST),
    "value_width": (d + _STEPS + L, "values: packed tables, gated steps, positions", _BUILT_TEST),
    "decoder_bits": (
        2 * _T * log2(Q) + log2(Q) + 3,
        "output column partial sums: half-integers < 4 Q^{2T+1}",
        _BITS_TEST,
    ),
    "pre_activation_bits": (
        _T * log2(Q) + 4 + sp.ceiling(log2(2 + (L - 1) * d * (K - 1))),
        "FFN_out pre-activations: half-integers < 2^{T log2 Q + 3}(2 + (L − 1)d(K − 1)) "
        "(preactivation_bits of its units, gate weight 4Q^T)",
        _BITS_TEST,
    ),
    "logit_bits": (
        log2(beta) + 1 + sp.ceiling(log2(3 * d * (K - 1) ** 2 + 1)),
        "attention logits and their differences exact integers",
        _BITS_TEST,
    ),
}


@register("universality.shallow_prompt_rows", "L K^d + n − L − 1 prompt rows (shallow, pad rows)")
def shallow_prompt_rows() -> Derivation:
    """The shallow prompt: the table rows and the constant pad rows completing the tie."""
    dd = Derivation(
        "universality.shallow_prompt_rows",
        claim="universality",
        goal="the shallow model's prompt rows",
        quantity=shape,
    )
    for name, (rhs, text, test) in _DEFINITIONS.items():
        dd.definition(name, sp.Eq(sp.Symbol(f"shallow_{name}"), rhs), text, test=test)
    dd.definition(
        "rows",
        sp.Eq(shape, L * K**d + ties - L - 1),
        "L K^d table rows plus n − L − 1 pad rows",
        test=_SIZES_TEST,
    )
    dd.definition(
        "ties", sp.Eq(ties, _DEFINITIONS["tie_rows"][0]), "the tie count", test=_SIZES_TEST
    )
    dd.start(premise="rows").substitute("ties")
    return dd


@register(
    "universality.shallow_inverse_temperature", "β(p) = 2^⌈log2(ln2 (p + T log2 Q + 3 + log2 Lp))⌉"
)
def shallow_inverse_temperature() -> Derivation:
    """The shallow model's β at ``p`` bits: the off-match mass absorbed by rounding."""
    dd = Derivation(
        "universality.shallow_inverse_temperature",
        claim="universality",
        goal="the shallow model's inverse temperature at p significand bits",
        quantity=beta,
    )
    rows = sp.Symbol("Lp", positive=True)
    dd.definition(
        "power",
        sp.Eq(
            beta, 2 ** sp.Max(0, sp.ceiling(log2(sp.log(2) * (p + _T * log2(Q) + 3 + log2(rows)))))
        ),
        "β = 2^⌈log2(ln2 (p + T log2 Q + 3 + log2 Lp))⌉: Lp e^{−β} < 2^{−(p + T log2 Q + 3)}",
        test=_BITS_TEST,
    )
    prompt = derivation("universality.shallow_prompt_rows")
    dd.lemma(
        "rows",
        sp.Eq(rows, prompt.result),
        prompt.goal,
        proof=None,
        source="universality.shallow_prompt_rows (the shallow prompt's rows)",
    )
    dd.start(premise="power").substitute("rows")
    return dd


def _parameters(name: str, sizes: dict[sp.Symbol, sp.Expr], model: str) -> Derivation:
    dd = Derivation(
        f"universality.{name}",
        claim="universality",
        goal=f"the dense parameters of the {model} model",
        quantity=entries,
    )
    dd.definition(
        "dense",
        sp.Eq(
            entries,
            2 * d * D
            + L * D
            + 2 * D * key_w
            + 2 * D * value_w
            + (2 * D + 1) * (units_in + units_out)
            + D * (layers_in + layers_out),
        ),
        "embedding and read-out 2dD, positional LD, W_Q, W_K 2D d_k, W_V, W_O 2D d_v, FFN "
        "layers (2D + 1)·hidden + D each: every entry of every dense array",
        test=_SHALLOW + "test_widths_and_resources_equal_the_sympy_formulas",
    )
    dd.start(premise="dense")
    for symbol, value in sizes.items():
        dd.lemma(
            str(symbol),
            sp.Eq(symbol, value),
            f"the {model} model's {symbol}",
            source=f"the {model} model's derivations (universality.*)",
        )
        dd.substitute(str(symbol))
    return dd


def _derived(name: str) -> sp.Expr:
    return derivation(f"universality.{name}").result


@register("universality.parameters_deep", "dense parameters of the deep model")
def parameters_deep() -> Derivation:
    """The deep model's dense parameters."""
    depth = 2 * _T + 2
    sizes = {
        D: _derived("model_width"),
        key_w: sp.Integer(3),
        value_w: d + L,
        units_in: _derived("ffn_in_units"),
        units_out: _derived("ffn_out_units"),
        layers_in: sp.Integer(3),
        layers_out: depth,
    }
    return _parameters("parameters_deep", sizes, "deep")


@register("universality.parameters_wide", "dense parameters of the wide model")
def parameters_wide() -> Derivation:
    """The wide model's dense parameters."""
    sizes = {
        D: _derived("model_width_wide"),
        key_w: sp.Integer(3),
        value_w: d + L,
        units_in: _derived("ffn_in_units"),
        units_out: _derived("wide_ffn_out_units"),
        layers_in: sp.Integer(3),
        layers_out: 3 + sp.Min(1, _T - 1),
    }
    return _parameters("parameters_wide", sizes, "wide")


@register("universality.parameters_shallow", "dense parameters of the shallow model")
def parameters_shallow() -> Derivation:
    """The shallow model's dense parameters."""
    sizes = {
        D: _derived("model_width_shallow"),
        key_w: d + L + 2,
        value_w: d + _STEPS + L,
        units_in: 2 * _STEPS,
        units_out: _derived("shallow_ffn_out_units"),
        layers_in: sp.Integer(1),
        layers_out: sp.Integer(1),
    }
    return _parameters("parameters_shallow", sizes, "shallow")
