"""The wide decoder: ``FFN_out`` in four layers, width exponential in the contexts ``T``."""

from __future__ import annotations

from fractions import Fraction

from reference.constructions.layout import _ONE, Layout, _clamp_units, _context_units, _Unit
from reference.constructions.sizes import contexts


def _wide_ramp_index(lay: Layout, r: int, t: int, j: int) -> int:
    """Index in ``dg``/``ds`` of channel ``r``, digit ``t``, threshold ``j`` (wide decoder)."""
    Q, T = lay.Q, contexts(lay.d, lay.L, lay.K)
    per_channel = Q * (Q**T - 1) // (Q - 1) - T
    before = Q * (Q**t - 1) // (Q - 1) - t  # Σ_{t' < t} (Q^{t'+1} − 1)
    return r * per_channel + before + j - 1


def _ffn_out_wide_spec(lay: Layout) -> list[list[_Unit]]:
    """Four layers: ramps of ``⌊Q^{t+1} rem_0⌋`` for every ``t`` at once, exact clamps (and the
    context snap), the snap's sum, then selection of ``a_t = ⌊Q^{t+1}rem⌋ − Q⌊Q^t rem⌋`` at
    ``t = cnt``. Width ``d Σ_t (Q^{t+1} − 1)``: exponential in ``T``, depth independent of it.

    The ramp of threshold ``j`` of digit ``t`` is ``ReLU(2Q^T rem − 2jQ^{T−t−1} + 1/2)``, i.e.
    ``(Q^{t+1} rem − j)/μ_t + 1/2`` with the same margin ``μ_t = Q^{−(T−t−1)}/2`` as the deep
    decoder's digit ``t``.
    """
    d, Q = lay.d, lay.Q
    T = contexts(d, lay.L, lay.K)
    ramps: list[_Unit] = list(_context_units(lay))
    clamps: list[_Unit] = []
    scale = 2 * Fraction(Q) ** T
    for r in range(d):
        rem = lay.at("rem0", r)
        for t in range(T):
            for j in range(1, Q ** (t + 1)):
                i = _wide_ramp_index(lay, r, t, j)
                bias = Fraction(1, 2) - 2 * j * Fraction(Q) ** (T - t - 1)
                ramps.append(_Unit({rem: scale}, bias, {lay.at("dg", i): _ONE}))
                clamps += _clamp_units(lay.at("dg", i), lay.at("ds", i))
    for j in range(1, T):  # context snap: ramps, clamps, sum
        out = {lay.at("cg", j - 1): _ONE}
        clamps.append(_Unit({lay["cntraw"]: Fraction(2)}, Fraction(3, 2) - 2 * j, out))
    snap = [u for j in range(1, T) for u in _clamp_units(lay.at("cg", j - 1), lay.at("cs", j - 1))]
    cnt = {lay.at("cs", j - 1): _ONE for j in range(1, T)}
    select: list[_Unit] = []
    for r in range(d):
        for t in range(T):
            dig: dict[int, Fraction] = {}
            for j in range(1, Q ** (t + 1)):
                dig[lay.at("ds", _wide_ramp_index(lay, r, t, j))] = _ONE
            for j in range(1, Q**t):
                dig[lay.at("ds", _wide_ramp_index(lay, r, t - 1, j))] = Fraction(-Q)
            minus_cnt = {c: Fraction(-Q) * w for c, w in cnt.items()}
            b = Fraction(Q * t)
            acc = lay.at("acc", r)
            select += [
                _Unit({**dig, **minus_cnt}, b, {acc: _ONE}),
                _Unit(dict(minus_cnt), b, {acc: Fraction(-2)}),
                _Unit({**{c: -w for c, w in dig.items()}, **minus_cnt}, b, {acc: _ONE}),
            ]
    layers = [ramps, clamps]
    if snap:
        layers.append(snap)
    layers.append(select)
    return layers
