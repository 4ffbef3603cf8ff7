"""The exact rational spec of the lookup model: layout, ``FFN_in``, attention and the chosen
``FFN_out`` decoder, assembled without allocating dense arrays (docs/universality.md)."""

from __future__ import annotations

from fractions import Fraction

from reference.constructions.decoders.deep import (
    _ffn_out_spec,
)
from reference.constructions.decoders.shallow import shallow_spec
from reference.constructions.decoders.wide import _ffn_out_wide_spec
from reference.constructions.layout import (
    _ONE,
    Layout,
    _ffn_in_spec,
    _Spec,
)

#: No public API: the spec behind construct_lookup and the exact backend, built with checked sizes.
__all__: list[str] = []


def lookup_spec(
    d: int, L: int, K: int, Q: int, eta: Fraction, beta: int, decoder: str = "deep"
) -> _Spec:
    """The exact rational spec of the lookup model (no allocation of dense arrays).

    ``decoder``: ``"deep"`` or ``"wide"`` (three ``FFN_in`` layers and a multi-layer ``FFN_out``),
    or ``"shallow"`` (one FFN layer on each side, :mod:`reference.constructions.decoders.shallow`).

    >>> from fractions import Fraction
    >>> from reference.constructions.spec import lookup_spec
    >>> spec = lookup_spec(1, 1, 2, 2, Fraction(1, 8), 4)
    >>> spec.width, [len(layer) for layer in spec.ffn_in]
    (21, [1, 2, 2])
    """
    if decoder == "shallow":
        return shallow_spec(d, L, K, Q, eta, beta)
    lay = Layout(d, L, K, Q, decoder)
    spec = _Spec(lay.width, d, L)
    spec.ffn_in = _ffn_in_spec(lay, eta)
    spec.ffn_out = _ffn_out_spec(lay) if decoder == "deep" else _ffn_out_wide_spec(lay)
    spec.w_q = {(lay["u"], 0): _ONE, (lay["u2"], 1): _ONE, (lay["one"], 2): _ONE}
    spec.w_k = {
        (lay["pk1"], 0): Fraction(2 * beta),
        (lay["one"], 1): Fraction(beta),
        (lay["pk2"], 2): Fraction(-beta),
    }
    for r in range(d):
        spec.w_v[(lay.at("pv", r), r)] = _ONE
        spec.w_o[(r, lay.at("rem0", r))] = Fraction(L + 1)
        spec.readout[(lay.at("acc", r), r)] = Fraction(1, Q)
        spec.readout[(lay["one"], r)] = Fraction(1, 2 * Q)
    for p in range(L):
        spec.w_v[(lay.at("ch", p), d + p)] = _ONE
        spec.w_o[(d + p, lay.at("ach", p))] = Fraction(L + 1)
        spec.positional[(p, lay["one"])] = _ONE
        spec.positional[(p, lay.at("pos", p))] = _ONE
    return spec
