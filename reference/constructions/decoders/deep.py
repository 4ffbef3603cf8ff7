"""The deep decoder: ``FFN_out`` with two layers per extracted digit (depth ``2T + 2``)."""

from __future__ import annotations

from fractions import Fraction

from reference.constructions.layout import (
    _ONE,
    Layout,
    _clamp_units,
    _context_units,
    _Unit,
)
from reference.constructions.sizes import contexts


def _select_units(lay: Layout, r: int, index: int) -> list[_Unit]:
    """``acc_r += dig_r · [cnt == index]`` for integer ``cnt`` and ``0 <= dig_r < Q``."""
    Q = lay.Q
    dig, cnt, acc = lay.at("dig", r), lay["cnt"], lay.at("acc", r)
    b = Fraction(Q * index)
    return [
        _Unit({dig: _ONE, cnt: Fraction(-Q)}, b, {acc: _ONE}),
        _Unit({cnt: Fraction(-Q)}, b, {acc: Fraction(-2)}),
        _Unit({dig: -_ONE, cnt: Fraction(-Q)}, b, {acc: _ONE}),
    ]


def _remainder_in(lay: Layout, r: int, k: int) -> dict[int, Fraction]:
    """Input weights reading the remainder ``rem_k`` of channel ``r`` (linear in the residual).

    ``rem_0`` is the coordinate ``rem0``; for ``k >= 1``, ``rem_k = Q·rem_{k−1} − Σ_j ds_j``
    with ``rem_{k−1}`` in ``rem[(k−1) % 2]`` and the steps of digit ``k − 1`` in ``ds``.
    """
    Q = lay.Q
    if k == 0:
        return {lay.at("rem0", r): _ONE}
    src = lay.at("rem0" if (k - 1) % 2 == 0 else "rem1", r)
    w = {src: Fraction(Q)}
    for j in range(1, Q):
        w[lay.at("ds", r * (Q - 1) + j - 1)] = -_ONE
    return w


def _decoder_ramp_units(lay: Layout, r: int, k: int, T: int) -> list[_Unit]:
    """Ramps of digit ``k``: ``dg_j = ReLU(s_k (Q rem_k − j)/Q + 1/2)``, ``s_k = 2 Q^{T−k}``.

    ``Q rem_k`` is at distance ``>= Q^{−(T−k−1)}/2`` from every integer (exact packing with the
    half-digit offset), and the ramp is ``Q^{−(T−k−1)}/2`` wide, so it is 0 or ``>= 1``.
    """
    Q = lay.Q
    s = 2 * Fraction(Q) ** (T - k)
    rem = _remainder_in(lay, r, k)
    units = []
    for j in range(1, Q):
        w_in = {c: s * w for c, w in rem.items()}
        bias = Fraction(1, 2) - s * Fraction(j, Q)
        units.append(_Unit(w_in, bias, {lay.at("dg", r * (Q - 1) + j - 1): _ONE}))
    return units


def _decoder_commit_units(lay: Layout, r: int, k: int) -> list[_Unit]:
    """Commit digit ``k − 1``: ``dig ← Σ ds``, ``rem[k%2] ← Q rem[(k−1)%2] − Σ ds``, clear."""
    Q = lay.Q
    src = lay.at("rem0" if (k - 1) % 2 == 0 else "rem1", r)
    dst = lay.at("rem1" if (k - 1) % 2 == 0 else "rem0", r)
    dig = lay.at("dig", r)
    units = [
        _Unit({src: _ONE}, Fraction(0), {src: -_ONE, dst: Fraction(Q)}),
        _Unit({dig: _ONE}, Fraction(0), {dig: -_ONE}),
    ]
    for j in range(1, Q):
        ds = lay.at("ds", r * (Q - 1) + j - 1)
        units.append(_Unit({ds: _ONE}, Fraction(0), {ds: -_ONE, dig: _ONE, dst: -_ONE}))
    return units


def _ffn_out_spec(lay: Layout) -> list[list[_Unit]]:
    """``2T + 2`` layers ``A_0, B_0, …, A_{T−1}, B_{T−1}, A_T, F`` (theory.md §3, deep decoder).

    ``A_k`` writes the ramps of digit ``k`` (``k < T``), commits digit ``k − 1`` (``k >= 1``) and
    selects digit ``k − 2`` into ``acc`` (``k >= 2``); ``B_k`` clamps the ramps to exact steps;
    ``F`` selects digit ``T − 1``. The context index is computed in ``A_0`` and snapped to an
    exact integer in ``B_0, A_1, B_1`` (ramps, clamps, sum), in time for the first selection.
    """
    d, T = lay.d, contexts(lay.d, lay.L, lay.K)
    Q = lay.Q
    layers: list[list[_Unit]] = []
    for k in range(T + 1):
        a_units: list[_Unit] = []
        if k == 0:
            a_units += _context_units(lay)
        if k == 1:
            for j in range(1, T):
                a_units += _clamp_units(lay.at("cg", j - 1), lay.at("cs", j - 1))
        for r in range(d):
            if k < T:
                a_units += _decoder_ramp_units(lay, r, k, T)
            if k >= 1:
                a_units += _decoder_commit_units(lay, r, k)
            if k >= 2:
                a_units += _select_units(lay, r, k - 2)
        layers.append(a_units)
        if k < T:
            b_units: list[_Unit] = []
            if k == 0:  # ramps [cntraw >= j]: ReLU(2 (cntraw − j) + 3/2)
                for j in range(1, T):
                    out = {lay.at("cg", j - 1): _ONE}
                    b_units.append(_Unit({lay["cntraw"]: Fraction(2)}, Fraction(3, 2) - 2 * j, out))
            if k == 1:
                for j in range(1, T):
                    cs = lay.at("cs", j - 1)
                    b_units.append(_Unit({cs: _ONE}, Fraction(0), {cs: -_ONE, lay["cnt"]: _ONE}))
            for r in range(d):
                for j in range(1, Q):
                    i = r * (Q - 1) + j - 1
                    b_units += _clamp_units(lay.at("dg", i), lay.at("ds", i))
            layers.append(b_units)
    layers.append([u for r in range(d) for u in _select_units(lay, r, T - 1)])
    return layers
