"""The shallow model: ONE residual ReLU FFN layer before the attention and ONE after it.

The paper's shape (one attention layer, one head, two FFN layers; docs/universality.md, "The
shallow model"). The same lookup as the deep model, with a separable score so that ``FFN_in``
needs only one-dimensional staircases, and a single hidden layer of context-gated steps that
extracts the selected digit:

* ``FFN_in`` (one layer): the gated steps ``g_{p,r,j} = [x_r >= j/K]·[pos = p]``, each the
  difference of two ReLUs ``ReLU(s(x_r − j/K) + 1/2 + s(pos_p − 1))`` and the same minus 1
  (``s = 1/η`` a power of two): exactly 0 or 1 off the band, also in floating point.
* attention (scale 1): the query ``(c_r, Σ_r c_r², 1, pos)`` is linear in the steps
  (``c_r = Σ_{p,j} g``, ``c_r² = Σ_{p,j} (2j − 1) g``); prompt row ``(pos_m, m)`` has key
  ``(2βm_r, 0, −βΣm_r², β·onehot(pos_m))``, input rows and the pad rows ``(0, β, β, 0)``. Scores:
  ``β(|c|² − |c − m|²) + β[pos = pos_m]`` for prompt rows, ``β|c|² + β`` for the others, so the
  matching row, the ``L`` input rows and the ``n − L − 1`` pad rows tie (``n`` a power of two)
  and every other row is ``>= β`` lower. Values: the packed tables and every position's gated
  steps and one-hot positions; ``W_O`` multiplies by ``n``. With ``β`` from
  :func:`~reference.constructions.sizes.shallow_inverse_temperature` the output is exact.
* ``FFN_out`` (one layer): for every position ``p0``, context ``t`` of ``p0``, coordinate ``r``
  and jump ``j`` of the digit ``a_t = ⌊Q^{t+1} P⌋ mod Q``, the step
  ``[Q^{t+1} P >= j]·[context = t]`` as the difference of two ReLUs of
  ``2Q^T P − 2jQ^{T−t−1} + 1/2 − M·mis`` (``M = 4Q^T``), where the mismatch ``mis`` (the
  distance of the transported thermometer codes to those of context ``t``, measured against
  the transported one-hot position ``apos`` so that it is ``>= 0`` for every input, plus
  ``1 − pos_{p0}``) is linear and ``>= 1`` unless the context is ``t``. The output column
  sums ``c_j·step`` with ``c_j = 1`` (``−(Q − 1)`` where ``Q`` divides ``j``): ``acc_r = a_t``.
  In the band at most one context group has ``mis < 1/2``, so ``acc_r ∈ [0, Q − 1]`` there too
  (the range lemma, docs/universality.md).

Every ``FFN_out`` pre-activation is a half-integer, every partial sum of its output column a
half-integer below ``2^{p−1}``: the decoder is exact in any order of summation.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from reference.constructions.layout import _ONE, Layout, _Spec, _Unit
from reference.constructions.materialiser import _Materialiser
from reference.constructions.sizes import (
    contexts,
    shallow_ramp_bias,
    shallow_slope,
    shallow_tie_rows,
)

#: No public API: the shallow decoder's steps, called by construct_lookup with checked sizes.
__all__: list[str] = []

_HALF = Fraction(1, 2)


def _starts(lay: Layout) -> dict[str, int]:
    """First index of every block (``Layout.at`` recomputes the blocks on each call)."""
    return {name: start for name, (start, _) in lay.blocks().items()}


def _step_index(lay: Layout, p: int, r: int, j: int) -> int:
    """Offset of the gated step ``g_{p,r,j}`` (``1 <= j < K``) inside the ``g``/``ag`` blocks."""
    return (p * lay.d + r) * (lay.K - 1) + j - 1


def _ffn_in_units(lay: Layout, eta: Fraction) -> list[_Unit]:
    """Two units per gated step: ``g_{p,r,j} += ReLU(a) − ReLU(a − 1)`` (module docstring)."""
    d, L, K = lay.d, lay.L, lay.K
    at = _starts(lay)
    s = Fraction(shallow_slope(eta))
    units = []
    for p in range(L):
        for r in range(d):
            for j in range(1, K):
                w_in = {at["x"] + r: s, at["pos"] + p: s}
                bias = shallow_ramp_bias(eta, K, j)  # 1/2 − j s/K − s
                out = at["g"] + _step_index(lay, p, r, j)
                units.append(_Unit(dict(w_in), bias, {out: _ONE}))
                units.append(_Unit(dict(w_in), bias - 1, {out: -_ONE}))
    return units


def other_cells(t: int, p0: int, d: int, L: int, K: int) -> dict[tuple[int, int], int]:
    """Cell coordinates ``c*_{q,r}`` of the positions ``q ≠ p0`` in context ``t`` of ``p0``.

    Inverse of :func:`reference.constructions.packing.context_index` (``t = Σ_{q<p0} cell_q K^{dq} +
    Σ_{q>p0} cell_q K^{d(q−1)}``, ``cell_q = Σ_r c_{q,r} K^r``).

    >>> from reference.constructions.decoders.shallow import other_cells
    >>> other_cells(7, 1, 1, 3, 2)
    {(0, 0): 1, (2, 0): 1}
    """
    kd = K**d
    out = {}
    for slot, q in enumerate(q for q in range(L) if q != p0):
        cell = (t // kd**slot) % kd
        for r in range(d):
            out[(q, r)] = (cell // K**r) % K
    return out


def _gate(
    lay: Layout, at: dict[str, int], p0: int, t: int, big: Fraction
) -> tuple[dict[int, Fraction], Fraction]:
    """``−M·mis`` as input weights and a constant, with
    ``mis = (1 − pos_{p0}) + Σ_{q≠p0, r} (Σ_{j <= c*} (apos_q − ag_{q,r,j}) +
    Σ_{j > c*} ag_{q,r,j})``.

    After attention ``ag = λ g`` and ``apos_q = λ`` with one weight ``λ >= 1`` (every input row
    has the same score; ``λ = 1`` off the band), so ``mis = (1 − pos_{p0}) + λ Σ |g − thermo(c*)|
    >= 0`` for every input, band included: ``0`` iff the query at ``p0`` sees context ``t``, and
    the mismatches of two different contexts at ``p0`` sum to ``>= 1`` (docs/universality.md,
    "range lemma (shallow)")."""
    K = lay.K
    weights = {at["pos"] + p0: big}
    cells = other_cells(t, p0, lay.d, lay.L, K)
    for (q, r), c in cells.items():
        for j in range(1, K):
            weights[at["ag"] + _step_index(lay, q, r, j)] = big if j <= c else -big
        if c:
            weights[at["apos"] + q] = weights.get(at["apos"] + q, Fraction(0)) - big * c
    return weights, -big


def _ffn_out_units(lay: Layout) -> list[_Unit]:
    """Two units per position ``p0``, context ``t``, coordinate ``r`` and jump ``j`` of
    ``a_t``: ``acc_r += c_j (ReLU(a) − ReLU(a − 1))`` (module docstring)."""
    d, L, K, Q = lay.d, lay.L, lay.K, lay.Q
    T = contexts(d, L, K)
    at = _starts(lay)
    slope = 2 * Fraction(Q) ** T
    wrap = Fraction(-(Q - 1))
    units = []
    for p0 in range(L):
        for t in range(T):
            gate, const = _gate(lay, at, p0, t, 2 * slope)  # M = 4Q^T: dead once mis >= 1/2
            width = 2 * Fraction(Q) ** (T - t - 1)  # 2Q^{T−t−1}: one jump of Q^{t+1} P
            for r in range(d):
                w_in = {at["rem0"] + r: slope, **gate}
                acc = at["acc"] + r
                for j in range(1, Q ** (t + 1)):
                    c = wrap if j % Q == 0 else _ONE
                    bias = _HALF - j * width + const
                    units.append(_Unit(w_in, bias, {acc: c}))
                    units.append(_Unit(w_in, bias - 1, {acc: -c}))
    return units


def shallow_spec(d: int, L: int, K: int, Q: int, eta: Fraction, beta: int) -> _Spec:
    """The exact rational spec of the shallow model (one FFN layer on each side).

    >>> from fractions import Fraction
    >>> from reference.constructions.decoders.shallow import shallow_spec
    >>> spec = shallow_spec(1, 2, 2, 2, Fraction(1, 16), 64)
    >>> [len(layer) for layer in spec.ffn_in], [len(layer) for layer in spec.ffn_out]
    ([4], [16])
    """
    lay = Layout(d, L, K, Q, "shallow")
    at = _starts(lay)
    n_steps = L * d * (K - 1)
    spec = _Spec(lay.width, d, L, key_width=d + L + 2, value_width=d + n_steps + L)
    spec.ffn_in = [_ffn_in_units(lay, eta)]
    spec.ffn_out = [_ffn_out_units(lay)]
    b, n = Fraction(beta), Fraction(shallow_tie_rows(L))
    sq, one_dim = d, d + 1  # key dimensions: c_r (0..d−1), Σ c_r², 1, pos_p (d+2..)
    for p in range(L):
        for r in range(d):
            for j in range(1, K):
                i = _step_index(lay, p, r, j)
                spec.w_q[(at["g"] + i, r)] = _ONE
                spec.w_q[(at["g"] + i, sq)] = Fraction(2 * j - 1)
                spec.w_v[(at["g"] + i, d + i)] = _ONE
                spec.w_o[(d + i, at["ag"] + i)] = n
        spec.w_v[(at["pos"] + p, d + n_steps + p)] = _ONE  # apos_p = λ (1 off the band)
        spec.w_o[(d + n_steps + p, at["apos"] + p)] = n
        spec.w_q[(at["pos"] + p, d + 2 + p)] = _ONE
        spec.w_k[(at["pkpos"] + p, d + 2 + p)] = b
        spec.positional[(p, at["one"])] = _ONE
        spec.positional[(p, at["pos"] + p)] = _ONE
    spec.w_q[(at["one"], one_dim)] = _ONE
    spec.w_k[(at["one"], sq)] = b
    spec.w_k[(at["one"], one_dim)] = b
    spec.w_k[(at["pk2"], one_dim)] = -b
    for r in range(d):
        spec.w_k[(at["pk"] + r, r)] = 2 * b
        spec.w_v[(at["pv"] + r, r)] = _ONE
        spec.w_o[(r, at["rem0"] + r)] = n
        spec.readout[(at["acc"] + r, r)] = Fraction(1, Q)
        spec.readout[(at["one"], r)] = Fraction(1, 2 * Q)
    return spec


def build_shallow_prompt(
    packed: list[list[Fraction]],
    d: int,
    L: int,
    K: int,
    Q: int,
    backend: str,
    precision_bits: int,
) -> np.ndarray:
    """The shallow model's prompt: row ``pos·K^d + cell`` holds the key features (the cell's
    coordinates, their squares' sum, its position) and the packed tables; then the
    ``n − L − 1`` pad rows (``one = 1``, nothing else), constant whatever the target.

    >>> from fractions import Fraction
    >>> from reference.constructions.decoders.shallow import build_shallow_prompt
    >>> build_shallow_prompt([[Fraction(1, 4)]] * 4, 1, 2, 2, 2, "float64", 53).shape
    (5, 17)
    """
    lay = Layout(d, L, K, Q, "shallow")
    at = _starts(lay)
    mat = _Materialiser(backend, precision_bits)
    kd = K**d
    rows = L * kd
    pad = shallow_tie_rows(L) - L - 1
    prompt = mat.zeros((rows + pad, lay.width))  # (Lp, D)
    one = mat.scalar(1)
    for m in range(rows):
        pos, cell = divmod(m, kd)
        coords = [(cell // K**r) % K for r in range(d)]
        prompt[m, at["pkpos"] + pos] = one
        prompt[m, at["pk2"]] = mat.scalar(sum(c * c for c in coords))
        for r in range(d):
            prompt[m, at["pk"] + r] = mat.scalar(coords[r])
            prompt[m, at["pv"] + r] = mat.scalar(packed[m][r])
    for m in range(rows, rows + pad):
        prompt[m, at["one"]] = one
    return prompt
