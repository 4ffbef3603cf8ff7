"""Foundation (theory.md §2): the two exact identities of prompt attention, for any lengths.

One query row; ``Z_u = Σ_m e^{u_m}`` over the ``Lp`` prompt keys and ``Z_w = Σ_j e^{w_j}`` over
the ``L`` input keys (both positive), ``N_u = Σ_m e^{u_m} c_m`` and ``N_w = Σ_j e^{w_j} x_j``
the value-weighted sums. The softmax weight of input key 0 and the output are then
``e^{w_0}/(Z_u + Z_w)`` and ``(N_u + N_w)/(Z_u + Z_w)`` — whatever ``Lp`` and ``L`` are, so the
derivations prove the identities for every size (``identity_residuals`` in
:mod:`verify.claims.foundation.bounds` checks them on explicit sizes too).

>>> from verify.derive import derivation
>>> derivation("foundation.relative_pattern").result
s_without*(1 - a)
"""

from __future__ import annotations

import sympy as sp

from verify.derive.engine import Derivation
from verify.derive.registry import register

a = sp.Symbol("a", positive=True)  # total weight on the prompt (0 < a < 1 for Lp >= 1)
s_with, s_without = sp.symbols("s_with s_without", nonnegative=True)
o_with, o_without, o_prompt = sp.symbols("o_with o_without o_prompt", real=True)
Z_u, Z_w = sp.symbols("Z_u Z_w", positive=True)  # partition functions of prompt / input keys
N_u, N_w = sp.symbols("N_u N_w", real=True)  # value-weighted sums of prompt / input keys
w0 = sp.Symbol("w_0", real=True)  # the logit of input key 0

_SOFTMAX_TEST = "tests/foundation/test_attention.py::test_attention_matches_50_digit_reference"
_PROMPT_TEST = (
    "tests/foundation/test_prompt_invariances.py::test_empty_prompt_is_the_model_without_prompt"
)


def _softmax_definitions(d: Derivation) -> None:
    d.definition(
        "prompt_mass",
        sp.Eq(a, Z_u / (Z_u + Z_w)),
        "a = the softmax mass on the prompt keys (prompt rows are keys like any other)",
        test=_SOFTMAX_TEST,
    )


@register("foundation.relative_pattern", "s_with = (1 − a)·s_without for softmax of any size")
def relative_pattern() -> Derivation:
    """Relative pattern invariance: the prompt scales every input weight by ``1 − a``."""
    d = Derivation(
        "foundation.relative_pattern",
        claim="foundation",
        goal="an input key's weight with the prompt is (1 − a) times its weight without",
        quantity=s_with,
    )
    d.definition(
        "weight_with",
        sp.Eq(s_with, sp.exp(w0) / (Z_u + Z_w)),
        "attention weights are the softmax of the logits over prompt and input keys",
        test=_SOFTMAX_TEST,
    )
    d.definition(
        "weight_without",
        sp.Eq(s_without, sp.exp(w0) / Z_w),
        "without the prompt the softmax runs over the input keys only",
        test=_PROMPT_TEST,
    )
    _softmax_definitions(d)
    d.start(premise="weight_with")
    d.equal((1 - Z_u / (Z_u + Z_w)) * sp.exp(w0) / Z_w, "1 − Z_u/(Z_u + Z_w) = Z_w/(Z_u + Z_w)")
    d.fold("prompt_mass", "weight_without", claimed=(1 - a) * s_without)
    return d


@register("foundation.bias_only", "o_with = (1 − a)·o_without + a·o_prompt for softmax")
def bias_only() -> Derivation:
    """The bias-only effect: the prompt mixes in its own weighted average with weight ``a``."""
    d = Derivation(
        "foundation.bias_only",
        claim="foundation",
        goal="the output with the prompt is (1 − a)·(output without) + a·(prompt average)",
        quantity=o_with,
    )
    d.definition(
        "output_with",
        sp.Eq(o_with, (N_u + N_w) / (Z_u + Z_w)),
        "the attention output is the softmax-weighted sum of all values",
        test=_SOFTMAX_TEST,
    )
    d.definition(
        "output_without",
        sp.Eq(o_without, N_w / Z_w),
        "without the prompt: the softmax over the input keys only",
        test=_PROMPT_TEST,
    )
    d.definition(
        "prompt_average",
        sp.Eq(o_prompt, N_u / Z_u),
        "the prompt-weighted average of the prompt values at the query",
        test=_SOFTMAX_TEST,
    )
    _softmax_definitions(d)
    d.start(premise="output_with")
    d.equal(
        Z_w / (Z_u + Z_w) * (N_w / Z_w) + Z_u / (Z_u + Z_w) * (N_u / Z_u),
        "split the sum by keys and normalise each part",
    )
    d.fold(
        "prompt_mass",
        "output_without",
        "prompt_average",
        claimed=(1 - a) * o_without + a * o_prompt,
    )
    return d
