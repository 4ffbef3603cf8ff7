"""Materialisation: the exact spec and the prompt as dense float64 or mpmath arrays (the
numbers themselves: :mod:`reference.constructions.materialiser`)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from reference.constructions.layout import _ONE, Layout, _Spec
from reference.constructions.materialiser import _Materialiser
from reference.model.transformer import Attention, Transformer

#: No public API: the backends of construct_lookup, called with a checked spec and precision.
__all__: list[str] = []


def materialise(spec: _Spec, backend: str, precision_bits: int) -> Transformer:
    """Dense :class:`Transformer` of the spec on ``backend``.

    >>> from fractions import Fraction
    >>> from reference.constructions.materialise import materialise
    >>> from reference.constructions.spec import lookup_spec
    >>> model = materialise(lookup_spec(1, 1, 2, 2, Fraction(1, 8), 4), "float64", 53)
    >>> model.width, model.attn.scale
    (21, 1.0)
    """
    mat = _Materialiser(backend, precision_bits)
    D, d, L = spec.width, spec.d, spec.L
    embed = mat.dense((d, D), {(r, r): Fraction(1) for r in range(d)})
    attn = Attention(
        mat.dense((D, spec.key_width), spec.w_q),
        mat.dense((D, spec.key_width), spec.w_k),
        mat.dense((D, spec.values), spec.w_v),
        mat.dense((spec.values, D), spec.w_o),
        1.0,
    )
    return Transformer(
        embed=embed,
        readout=mat.dense((D, d), spec.readout),
        attn=attn,
        ffn_in=tuple(mat.layer(D, units) for units in spec.ffn_in),
        ffn_out=tuple(mat.layer(D, units) for units in spec.ffn_out),
        positional=mat.dense((L, D), spec.positional),
    )


def build_prompt(
    packed: list[list[Fraction]],
    d: int,
    L: int,
    K: int,
    Q: int,
    backend: str,
    precision_bits: int,
    decoder: str = "deep",
) -> np.ndarray:
    """The prompt ``(L K^d, D)``: flag, key features ``m, m²`` and the packed tables (the
    shallow model's: :func:`reference.constructions.decoders.shallow.build_shallow_prompt`).

    >>> from fractions import Fraction
    >>> from reference.constructions.materialise import build_prompt
    >>> build_prompt([[Fraction(1, 4)], [Fraction(3, 4)]], 1, 1, 2, 2, "float64", 53).shape
    (2, 21)
    """
    if decoder == "shallow":  # its own key features and pad rows
        from reference.constructions.decoders.shallow import build_shallow_prompt

        return build_shallow_prompt(packed, d, L, K, Q, backend, precision_bits)
    lay = Layout(d, L, K, Q, decoder)
    mat = _Materialiser(backend, precision_bits)
    rows = L * K**d
    prompt = mat.zeros((rows, lay.width))  # (Lp, D)
    one = mat.scalar(1)
    for m in range(rows):
        prompt[m, lay["flag"]] = one
        prompt[m, lay["pk1"]] = mat.scalar(m)
        prompt[m, lay["pk2"]] = mat.scalar(m * m)
        for r in range(d):
            prompt[m, lay.at("pv", r)] = mat.scalar(packed[m][r])
    return prompt


def _spec_max_weight(spec: _Spec) -> float:
    """Largest weight magnitude, read off the exact spec (the embedding is the identity, FFN
    output biases are zero) rather than off the dense, mostly-zero materialised arrays."""
    values: list[Fraction] = [_ONE]  # embed
    for entries in (spec.w_q, spec.w_k, spec.w_v, spec.w_o, spec.readout, spec.positional):
        values += entries.values()
    for unit in (u for layer in (*spec.ffn_in, *spec.ffn_out) for u in layer):
        values += [*unit.w_in.values(), unit.bias, *unit.w_out.values()]
    return float(max(abs(Fraction(v)) for v in values))
