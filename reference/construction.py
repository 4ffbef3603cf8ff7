"""The lookup transformer behind the universality and memorization constructions (theory.md §3).

One frozen :class:`~reference.model.Transformer` (depending on ``d, L, K, Q, η`` and the backend
only) and one prompt (depending on a table of output digits) realise a lookup: input token ``i``
at position ``pos`` in grid cell ``c`` reads the prompt row with id ``u = pos·K^d + c``, whose value
packs the quantized outputs of that token for every *context* (the cells of the other ``L − 1``
tokens) as base-``Q`` digits; ``FFN_out`` extracts the digit of the actual context.

Coordinates of the model width ``D`` (all names in :class:`Layout`):

* ``x_r`` (the input token), ``one`` and ``pos_p`` (positional encoding: 1 and a one-hot position),
  ``flag`` (1 on prompt rows only: drives every ``FFN_in`` pre-activation negative there);
* ``FFN_in`` writes ``cell`` (flattened cell index), ``u`` (token id), ``u2`` (``u²``) and
  ``ch_p`` (``cell`` if the token sits at position ``p``, else 0) — all exact integers off the band;
* prompt rows carry ``pk1 = m``, ``pk2 = m²`` and ``pv_r`` (the packed table of output coordinate
  ``r``); attention (scale 1, inverse temperature ``β``) scores prompt row ``m`` with
  ``β u² − β (u − m)²`` and every input row with ``β u²``, so the matching prompt row and the ``L``
  input rows share the weight ``1/(L+1)``; ``W_O`` multiplies back by ``L + 1`` into ``rem0_r``
  (the packed table) and ``ach_p`` (the cell at position ``p``);
* ``FFN_out`` computes the context index ``cnt`` and extracts one digit per layer (``dig_r``),
  accumulating the selected digit in ``acc_r``; the read-out is ``(acc_r + 1/2) / Q``.

The spec is built in exact rationals (:class:`fractions.Fraction`) and materialised per backend:
``float64`` (numpy) or ``mpmath`` (object arrays of ``mpmath.mpf`` at ``precision_bits``).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from reference._validation import as_array, positive_int
from reference.model import Attention, FFNLayer, Transformer
from reference.prompt_tuning import prompt_forward

BACKENDS = ("float64", "mpmath")
DECODERS = ("deep", "wide")
FLOAT64_BITS = 53
MPMATH_EXTRA_BITS = 8  # default mpmath precision: the needed bits plus this margin
GUARD_BITS = 6  # the packed table's relative error must stay below 2^-(T log2 Q + 3): 3·2^-p ≤ that
MAX_PROMPT_ROWS = 1 << 16
MAX_CONTEXTS = 1 << 12
MAX_DENSE_ENTRIES = 1 << 24
MAX_GRID_SEQUENCES = 1 << 20  # target evaluations K^{dL} of construct_universal


# --------------------------------------------------------------------------- sizes and precision
def power_of_two_at_least(value: float, *, minimum_exponent: int = 1) -> int:
    """Smallest ``2^k >= value`` with ``k >= minimum_exponent`` (exact for dyadic inputs).

    >>> from reference.construction import power_of_two_at_least
    >>> power_of_two_at_least(5.0), power_of_two_at_least(0.3), power_of_two_at_least(8)
    (8, 2, 8)
    """
    frac = Fraction(value)
    k = minimum_exponent
    while Fraction(2) ** k < frac:
        k += 1
    return 1 << k


def band_width(eps: float, d: int, L: int, K: int) -> Fraction:
    """Default band half-width ``η = 2^⌊log2(ε / (2 d L K))⌋``: band measure ``<= 2dLηK <= ε``.

    >>> from reference.construction import band_width
    >>> band_width(0.25, 1, 1, 4)
    Fraction(1, 32)
    """
    return Fraction(1, power_of_two_at_least(2 * d * L * K / Fraction(eps), minimum_exponent=0))


def log2_levels(Q: int) -> int:
    """``log2 Q`` for the power of two ``Q`` (packing and unpacking are exact only then).

    >>> from reference.construction import log2_levels
    >>> log2_levels(16)
    4
    """
    if Q < 2 or Q & (Q - 1):
        raise ValueError(f"Q: expected a power of two >= 2, got {Q}")
    return Q.bit_length() - 1


def cell_coordinates(x: np.ndarray, K: int) -> np.ndarray:
    """Grid cell per coordinate, ``min(⌊K x⌋, K − 1)``, as integers (same shape as ``x``)."""
    return np.clip(np.floor(x * K), 0, K - 1).astype(np.int64)


def in_band(x: np.ndarray, K: int, eta: Fraction) -> np.ndarray:
    """Mask of coordinates of ``x`` closer than ``eta`` to an interior cell boundary ``j/K``."""
    scaled = x * K  # (..., L, d)
    nearest = np.clip(np.rint(scaled), 1, K - 1)
    return np.abs(scaled - nearest) < float(eta) * K


def digit_table(cells: np.ndarray, levels: np.ndarray, d: int, L: int, K: int) -> np.ndarray:
    """The prompt's digit table ``(L K^d, T, d)``: for every sequence of cells ``cells (S, L)``
    with output levels ``levels (S, L, d)``, row ``pos·K^d + cell_pos`` holds the levels of
    position ``pos`` at the context of the other tokens (unlisted entries stay 0)."""
    kd = K**d
    digits = np.zeros((L * kd, contexts(d, L, K), d), dtype=np.int64)  # (Lp, T, d)
    for pos in range(L):
        digits[pos * kd + cells[:, pos], context_index(cells, pos, K, d)] = levels[:, pos]
    return digits


def contexts(d: int, L: int, K: int) -> int:
    """Number of contexts of one token, ``T = K^{d(L−1)}`` (cells of the other tokens)."""
    return K ** (d * (L - 1))


def inverse_temperature(d: int, L: int, K: int, Q: int) -> int:
    """``β = 2^⌈log2(ln 2 · (T log2 Q + 5 + log2(L K^d)))⌉``.

    Then the ``L K^d`` non-matching prompt rows move the packed table by at most
    ``2 L K^d e^{−β} <= 2^{−(T log2 Q + 4)}`` (relative).

    >>> from reference.construction import inverse_temperature
    >>> inverse_temperature(1, 2, 4, 4)
    16
    """
    q = log2_levels(Q)
    needed = math.log(2) * (contexts(d, L, K) * q + 5 + math.log2(L * K**d))
    return power_of_two_at_least(needed, minimum_exponent=0)


def precision_needed(d: int, L: int, K: int, Q: int) -> int:
    """Significand bits the construction needs: ``max(T log2 Q + 6, log2 β + 2⌈log2(L K^d)⌉ + 2)``.

    The first term: the packed table (``T log2 Q + 1`` bits) reaches ``FFN_out`` with relative
    error ``<= 3·2^{−p} + 2 L K^d e^{−β}``, which must stay below ``2^{−(T log2 Q + 3)}`` (a
    quarter of the last digit's margin, amplified by ``Q`` per extracted digit); the second
    keeps the attention logits exact integers.

    >>> from reference.construction import precision_needed
    >>> precision_needed(1, 2, 4, 4)
    14
    """
    q = log2_levels(Q)
    beta_bits = inverse_temperature(d, L, K, Q).bit_length() - 1
    n_bits = math.ceil(math.log2(L * K**d))
    return max(contexts(d, L, K) * q + GUARD_BITS, beta_bits + 2 * n_bits + 2)


def decoder_ramps(d: int, L: int, K: int, Q: int, decoder: str = "deep") -> int:
    """Ramp units (= step coordinates) of the decoder: ``d(Q−1)`` for the deep decoder (reused
    per digit), ``d Σ_{t<T} (Q^{t+1} − 1) = d(Q(Q^T − 1)/(Q − 1) − T)`` for the wide one.

    >>> from reference.construction import decoder_ramps
    >>> decoder_ramps(1, 2, 2, 4), decoder_ramps(1, 2, 2, 4, "wide")
    (3, 18)
    """
    if decoder == "deep":
        return d * (Q - 1)
    T = contexts(d, L, K)
    return d * (Q * (Q**T - 1) // (Q - 1) - T)


# --------------------------------------------------------------------------------- the layout
@dataclass(frozen=True)
class Layout:
    """Coordinate indices of the model width (see the module docstring)."""

    d: int
    L: int
    K: int
    Q: int
    decoder: str = "deep"

    def blocks(self) -> dict[str, tuple[int, int]]:
        """``name -> (start, size)`` for every block of coordinates, in order."""
        d, L, K, Q = self.d, self.L, self.K, self.Q
        T = contexts(d, L, K)
        ramps = decoder_ramps(d, L, K, Q, self.decoder)
        sizes = [
            ("x", d),  # input token
            ("one", 1),  # 1 on input rows (positional encoding)
            ("pos", L),  # one-hot position (positional encoding)
            ("flag", 1),  # 1 on prompt rows
            ("qg", d * (K - 1)),  # FFN_in: ReLU ramps of the quantizer
            ("qs", d * (K - 1)),  # FFN_in: exact steps [x_r >= j/K]
            ("u", 1),  # token id pos·K^d + cell
            ("u2", 1),  # u²
            ("ch", L),  # cell if the token sits at position p, else 0
            ("pk1", 1),  # prompt: row id m
            ("pk2", 1),  # prompt: m²
            ("pv", d),  # prompt: packed tables
            ("rem0", d),  # attention output: packed table, then ping-pong remainders
            ("rem1", d),
            ("ach", L),  # attention output: cell at position p
            ("cntraw", 1),  # context index (before snapping)
            ("cg", T - 1),  # ramps of the context snap
            ("cs", T - 1),  # exact steps of the context snap
            ("cnt", 1),  # exact context index
            ("dg", ramps),  # decoder ramps
            ("ds", ramps),  # decoder exact steps
            ("dig", d),  # last extracted digit
            ("acc", d),  # selected digit (the output level)
        ]
        out, start = {}, 0
        for name, size in sizes:
            out[name] = (start, size)
            start += size
        return out

    def at(self, name: str, i: int = 0) -> int:
        """Index of component ``i`` of the block ``name``."""
        start, size = self.blocks()[name]
        if not 0 <= i < max(size, 1):
            raise IndexError(f"{name}[{i}] outside a block of size {size}")
        return start + i

    def __getitem__(self, name: str) -> int:
        return self.at(name)

    @property
    def width(self) -> int:
        start, size = list(self.blocks().values())[-1]
        return start + size


# -------------------------------------------------------------------------- layer specification
@dataclass
class _Unit:
    """A hidden ReLU unit ``ReLU(Σ w_in[c] h[c] + bias)``, added to ``h[c']`` × ``w_out[c']``."""

    w_in: dict[int, Fraction]
    bias: Fraction
    w_out: dict[int, Fraction]


@dataclass
class _Spec:
    """Exact rational description of the whole model, before materialisation."""

    width: int
    d: int
    L: int
    ffn_in: list[list[_Unit]] = field(default_factory=list)
    ffn_out: list[list[_Unit]] = field(default_factory=list)
    w_q: dict[tuple[int, int], Fraction] = field(default_factory=dict)
    w_k: dict[tuple[int, int], Fraction] = field(default_factory=dict)
    w_v: dict[tuple[int, int], Fraction] = field(default_factory=dict)
    w_o: dict[tuple[int, int], Fraction] = field(default_factory=dict)
    readout: dict[tuple[int, int], Fraction] = field(default_factory=dict)
    positional: dict[tuple[int, int], Fraction] = field(default_factory=dict)


_ONE = Fraction(1)


def _clamp_units(src: int, dst: int) -> list[_Unit]:
    """``h[dst] += min(h[src], 1)`` and ``h[src] ← 0`` for ``h[src] >= 0`` (exact in floats:
    ``g − (g − 1)`` is exact whenever ``ulp(g) <= 1``)."""
    return [
        _Unit({src: _ONE}, Fraction(0), {src: -_ONE, dst: _ONE}),
        _Unit({src: _ONE}, -_ONE, {dst: -_ONE}),
    ]


def _ffn_in_spec(lay: Layout, eta: Fraction) -> list[list[_Unit]]:
    """Three layers: ramps ``qg``, exact steps ``qs``, then ``u``, ``u²`` and ``ch_p``.

    A step is one ReLU ramp ``ReLU((x − j/K)/(2η) + 1/2)`` (0 below the band, >= 1 above it)
    followed by an exact clamp to ``[0, 1]``; every prompt row has ``flag = 1`` and zeros where
    these layers read, so all its pre-activations are negative and it passes unchanged.
    """
    d, L, K = lay.d, lay.L, lay.K
    kd = K**d
    flag = {lay["flag"]: -_ONE}
    s = 1 / (2 * eta)
    ramps, clamps = [], []
    for r in range(d):
        for j in range(1, K):
            i = r * (K - 1) + j - 1
            w_in = {lay.at("x", r): s, **flag}
            ramps.append(_Unit(w_in, Fraction(1, 2) - s * Fraction(j, K), {lay.at("qg", i): _ONE}))
            clamps += _clamp_units(lay.at("qg", i), lay.at("qs", i))
    for unit in clamps:
        unit.w_in.update(flag)
    # u = Σ_r K^r Σ_j qs_{r,j} + Σ_p p K^d pos_p, linear in the residual: read it directly.
    u_in: dict[int, Fraction] = dict(flag)
    for r in range(d):
        for j in range(1, K):
            u_in[lay.at("qs", r * (K - 1) + j - 1)] = Fraction(K**r)
    cell_in = {c: w for c, w in u_in.items() if c != lay["flag"]}
    for p in range(1, L):
        u_in[lay.at("pos", p)] = Fraction(p * kd)
    features = [_Unit(dict(u_in), Fraction(0), {lay["u"]: _ONE, lay["u2"]: _ONE})]
    for v in range(1, L * kd - 1):  # u² = u + 2 Σ_v ReLU(u − v) on integers
        features.append(_Unit(dict(u_in), Fraction(-v), {lay["u2"]: Fraction(2)}))
    for p in range(L):  # ch_p = ReLU(cell + K^d pos_p − K^d)
        w_in = {**cell_in, lay.at("pos", p): Fraction(kd), **flag}
        features.append(_Unit(w_in, Fraction(-kd), {lay.at("ch", p): _ONE}))
    return [ramps, clamps, features]


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


def _context_units(lay: Layout) -> list[_Unit]:
    """``cntraw = Σ_{p<pos} cell_p K^{dp} + Σ_{p>pos} cell_p K^{d(p−1)}`` from ``ach``, ``pos``."""
    d, L, K = lay.d, lay.L, lay.K
    kd = K**d
    units = []
    for p in range(L - 1):  # cell_p · [p < pos] = ReLU(ach_p + K^d Σ_{q>p} pos_q − K^d)
        w_in = {lay.at("ach", p): _ONE}
        w_in.update({lay.at("pos", q): Fraction(kd) for q in range(p + 1, L)})
        units.append(_Unit(w_in, Fraction(-kd), {lay["cntraw"]: Fraction(kd**p)}))
    for p in range(1, L):  # cell_p · [p > pos]
        w_in = {lay.at("ach", p): _ONE}
        w_in.update({lay.at("pos", q): Fraction(kd) for q in range(p)})
        units.append(_Unit(w_in, Fraction(-kd), {lay["cntraw"]: Fraction(kd ** (p - 1))}))
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


def lookup_spec(
    d: int, L: int, K: int, Q: int, eta: Fraction, beta: int, decoder: str = "deep"
) -> _Spec:
    """The exact rational spec of the lookup model (no allocation of dense arrays).

    >>> from reference.construction import Fraction, lookup_spec
    >>> spec = lookup_spec(1, 1, 2, 2, Fraction(1, 8), 4)
    >>> spec.width, [len(layer) for layer in spec.ffn_in]
    (21, [1, 2, 2])
    """
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


# ------------------------------------------------------------------------------ materialisation
class _Materialiser:
    """Turns exact rationals into float64 or mpmath.mpf arrays at a given precision."""

    def __init__(self, backend: str, precision_bits: int) -> None:
        self.backend = backend
        self.precision_bits = precision_bits

    def scalar(self, value: Fraction | int):
        value = Fraction(value)
        if self.backend == "float64":
            return float(value)
        import mpmath

        with mpmath.workprec(self.precision_bits):
            return mpmath.mpf(value.numerator) / value.denominator

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        if self.backend == "float64":
            return np.zeros(shape)
        import mpmath

        out = np.empty(shape, dtype=object)
        out.fill(mpmath.mpf(0))
        return out

    def dense(self, shape: tuple[int, int], entries: dict) -> np.ndarray:
        out = self.zeros(shape)
        for (i, j), value in entries.items():
            out[i, j] = self.scalar(value)
        return out

    def layer(self, width: int, units: list[_Unit]) -> FFNLayer:
        hidden = len(units)
        w1, b1 = self.zeros((width, hidden)), self.zeros((hidden,))
        w2, b2 = self.zeros((hidden, width)), self.zeros((width,))
        cache: dict[Fraction, object] = {}

        def conv(v: Fraction):
            if v not in cache:
                cache[v] = self.scalar(v)
            return cache[v]

        for h, unit in enumerate(units):
            for c, w in unit.w_in.items():
                w1[c, h] = conv(Fraction(w))
            b1[h] = conv(Fraction(unit.bias))
            for c, w in unit.w_out.items():
                w2[h, c] = conv(Fraction(w))
        return FFNLayer(w1, b1, w2, b2)


def materialise(spec: _Spec, backend: str, precision_bits: int) -> Transformer:
    """Dense :class:`Transformer` of the spec on ``backend``.

    >>> from reference.construction import Fraction, lookup_spec, materialise
    >>> model = materialise(lookup_spec(1, 1, 2, 2, Fraction(1, 8), 4), "float64", 53)
    >>> model.width, model.attn.scale
    (21, 1.0)
    """
    mat = _Materialiser(backend, precision_bits)
    D, d, L = spec.width, spec.d, spec.L
    embed = mat.dense((d, D), {(r, r): Fraction(1) for r in range(d)})
    attn = Attention(
        mat.dense((D, 3), spec.w_q),
        mat.dense((D, 3), spec.w_k),
        mat.dense((D, d + L), spec.w_v),
        mat.dense((d + L, D), spec.w_o),
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


# ------------------------------------------------------------------------------------ the prompt
def context_index(cells: np.ndarray, pos: int, K: int, d: int) -> np.ndarray:
    """Context index ``t`` of position ``pos`` for cell sequences ``cells (S, L)``: ``(S,)``.

    ``t = Σ_{p<pos} cell_p K^{dp} + Σ_{p>pos} cell_p K^{d(p−1)}`` — the other tokens' cells.

    >>> import numpy as np
    >>> from reference.construction import context_index
    >>> context_index(np.array([[1, 2, 3]]), 1, 2, 1).tolist()
    [7]
    """
    L = cells.shape[1]
    kd = K**d
    t = np.zeros(cells.shape[0], dtype=np.int64)  # (S,)
    for p in range(L):
        if p < pos:
            t += cells[:, p] * kd**p
        elif p > pos:
            t += cells[:, p] * kd ** (p - 1)
    return t


def pack_tables(digits: np.ndarray, Q: int) -> list[list[Fraction]]:
    """Pack ``digits (rows, T, d)`` into ``rows × d`` exact dyadic numbers in ``(0, 1)``.

    ``P = Σ_t a_t Q^{−(t+1)} + Q^{−T}/2`` (one half-digit offset after the last digit).

    >>> import numpy as np
    >>> from reference.construction import pack_tables
    >>> pack_tables(np.array([[[1], [0]]]), 2)
    [[Fraction(5, 8)]]
    """
    rows, T, d = digits.shape
    q = log2_levels(Q)
    out = []
    for m in range(rows):
        row = []
        for r in range(d):
            n = 0
            for a in digits[m, :, r].tolist():
                n = (n << q) | int(a)
            row.append(Fraction(2 * n + 1, 1 << (T * q + 1)))
        out.append(row)
    return out


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
    """The prompt ``(L K^d, D)``: flag, key features ``m, m²`` and the packed tables.

    >>> from reference.construction import Fraction, build_prompt
    >>> build_prompt([[Fraction(1, 4)], [Fraction(3, 4)]], 1, 1, 2, 2, "float64", 53).shape
    (2, 21)
    """
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


# ------------------------------------------------------------------------------- the result type
@dataclass(frozen=True, eq=False)
class Construction:
    """A constructed frozen model, its prompt and its resources (see docs/universality.md).

    Evaluate with ``reference.prompt_forward(c.model, c.prompt, x)`` (float64), or with
    :meth:`forward`, which does exactly that inside :meth:`working_precision` after converting
    ``x`` to the backend (needed for ``mpmath``).
    """

    model: Transformer
    prompt: np.ndarray
    d: int
    L: int
    K: int
    Q: int
    contexts: int
    prompt_rows: int
    bits_per_row: int
    ffn_in_widths: tuple[int, ...]
    ffn_out_widths: tuple[int, ...]
    depth_in: int
    depth_out: int
    max_weight: float
    error_bound: float
    band: float
    beta: int
    backend: str
    precision_bits: int
    precision_needed: int
    decoder: str = "deep"
    lipschitz: float | None = None
    eps: float | None = None

    def __repr__(self) -> str:
        return (
            f"Construction(d={self.d}, L={self.L}, K={self.K}, Q={self.Q}, "
            f"prompt_rows={self.prompt_rows}, bits_per_row={self.bits_per_row}, "
            f"backend={self.backend!r}, precision_bits={self.precision_bits})"
        )

    def off_band(self, x: np.ndarray) -> bool | np.ndarray:
        """Whether each sequence ``x (L, d)`` / ``(B, L, d)`` lies in ``[0,1]`` and at distance
        ``>= band`` from every interior cell boundary ``j/K`` (where the guarantee holds).

        >>> from reference.construction import Fraction, construct_lookup
        >>> import numpy as np
        >>> c = construct_lookup(np.zeros((2, 1, 1), dtype=np.int64), d=1, L=1, K=2, Q=2,
        ...                      eta=Fraction(1, 8))
        >>> c.off_band(np.array([[0.1]])), c.off_band(np.array([[0.45]]))
        (True, False)
        """
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim not in (2, 3) or arr.shape[-2:] != (self.L, self.d):
            raise ValueError(
                f"x: expected shape ({self.L}, {self.d}) or (B, {self.L}, {self.d}), "
                f"got {arr.shape}"
            )
        ok = ~in_band(arr, self.K, self.band) & (arr >= 0) & (arr <= 1)
        ok = ok.all(axis=(-2, -1))
        return bool(ok) if ok.ndim == 0 else ok

    def cells(self, x: np.ndarray) -> np.ndarray:
        """Grid cell per coordinate, ``min(⌊K x⌋, K − 1)``, as integers (same shape as ``x``)."""
        return cell_coordinates(np.asarray(x, dtype=np.float64), self.K)

    def convert(self, x: np.ndarray) -> np.ndarray:
        """``x`` on this construction's backend (mpmath: exact conversion to ``mpf``)."""
        arr = as_array("x", x, ndim=(2, 3), allow_object=True)
        if self.backend == "float64" or arr.dtype == object:
            return arr
        import mpmath

        with mpmath.workprec(self.precision_bits):
            return np.vectorize(mpmath.mpf, otypes=[object])(arr.astype(np.float64))

    def working_precision(self) -> contextlib.AbstractContextManager:
        """Context manager setting ``mpmath`` to :attr:`precision_bits` (no-op for float64)."""
        if self.backend == "float64":
            return contextlib.nullcontext()
        import mpmath

        return mpmath.workprec(self.precision_bits)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``prompt_forward(model, prompt, x)`` at the backend's precision, as float64."""
        with self.working_precision():
            out = prompt_forward(self.model, self.prompt, self.convert(x))
        return np.asarray(out, dtype=np.float64) if out.dtype == object else out


# ------------------------------------------------------------------------------- the builder
def _spec_max_weight(spec: _Spec) -> float:
    """Largest weight magnitude, read off the exact spec (the embedding is the identity, FFN
    output biases are zero) rather than off the dense, mostly-zero materialised arrays."""
    values: list[Fraction] = [_ONE]  # embed
    for entries in (spec.w_q, spec.w_k, spec.w_v, spec.w_o, spec.readout, spec.positional):
        values += entries.values()
    for unit in (u for layer in (*spec.ffn_in, *spec.ffn_out) for u in layer):
        values += [*unit.w_in.values(), unit.bias, *unit.w_out.values()]
    return float(max(abs(Fraction(v)) for v in values))


def ffn_widths(
    d: int, L: int, K: int, Q: int, decoder: str = "deep"
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Hidden widths of the ``FFN_in`` and ``FFN_out`` layers, from the sizes alone.

    ``FFN_in``: ramps ``d(K−1)``, clamps ``2d(K−1)``, features ``L K^d − 1 + L``. ``FFN_out``
    (deep decoder, ``T = K^{d(L−1)}``): ``A_k`` has ``d(Q−1)`` ramps (``k < T``), ``d(Q+1)``
    commit units (``k >= 1``), ``3d`` select units (``k >= 2``), ``2(L−1)`` context units
    (``k = 0``) and ``2(T−1)`` snap clamps (``k = 1``); ``B_k`` has ``2d(Q−1)`` clamps plus
    ``T−1`` snap units for ``k <= 1``; the final layer ``3d``. Wide decoder (``G`` ramps, see
    :func:`decoder_ramps`): ``G + 2(L−1)``, ``2G + T − 1``, ``2(T−1)`` (if ``T > 1``), ``3dT``.

    >>> from reference.construction import ffn_widths
    >>> ffn_widths(1, 1, 4, 4)
    ((3, 6, 4), (3, 6, 5, 3))
    >>> ffn_widths(1, 2, 2, 4, "wide")[1]
    (20, 37, 2, 6)
    """
    T = contexts(d, L, K)
    widths_in = (d * (K - 1), 2 * d * (K - 1), L * K**d - 1 + L)
    if decoder == "wide":
        g = decoder_ramps(d, L, K, Q, "wide")
        wide = (g + 2 * (L - 1), 2 * g + T - 1, *((2 * (T - 1),) if T > 1 else ()), 3 * d * T)
        return widths_in, wide
    widths_out: list[int] = []
    for k in range(T + 1):
        a = d * ((Q - 1) * (k < T) + (Q + 1) * (k >= 1) + 3 * (k >= 2))
        a += 2 * (L - 1) * (k == 0) + 2 * (T - 1) * (k == 1)
        widths_out.append(a)
        if k < T:
            widths_out.append(2 * d * (Q - 1) + (T - 1) * (k <= 1))
    widths_out.append(3 * d)
    return widths_in, tuple(widths_out)


def check_sizes(d: int, L: int, K: int, Q: int, decoder: str = "deep") -> None:
    """Refuse constructions too large to allocate, before allocating anything.

    >>> from reference.construction import check_sizes
    >>> check_sizes(1, 2, 4, 4)
    """
    rows, T = L * K**d, contexts(d, L, K)
    if rows > MAX_PROMPT_ROWS:
        raise ValueError(
            f"construction too large: L·K^d = {rows} prompt rows exceeds {MAX_PROMPT_ROWS} "
            f"(d={d}, L={L}, K={K}); use a larger eps or a smaller lipschitz"
        )
    if T > MAX_CONTEXTS:
        raise ValueError(
            f"construction too large: K^(d(L-1)) = {T} contexts (decoder depth) exceeds "
            f"{MAX_CONTEXTS} (d={d}, L={L}, K={K})"
        )
    if K**d * T > MAX_GRID_SEQUENCES:
        raise ValueError(
            f"construction too large: K^(dL) = {K**d * T} grid sequences exceeds "
            f"{MAX_GRID_SEQUENCES} (d={d}, L={L}, K={K})"
        )
    if decoder == "wide" and d * Q ** (T + 1) > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"construction too large: the wide decoder needs about d·Q^(T+1) = "
            f"{d * Q ** (T + 1)} ramps (d={d}, Q={Q}, T={T}); use decoder='deep'"
        )
    widths_in, widths_out = ffn_widths(d, L, K, Q, decoder)
    entries = 2 * Layout(d, L, K, Q, decoder).width * (sum(widths_in) + sum(widths_out))
    if entries > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"construction too large: {entries} dense FFN weights exceed {MAX_DENSE_ENTRIES} "
            f"(d={d}, L={L}, K={K}, Q={Q}); use a larger eps"
        )


def resolve_precision(
    backend: str, precision_bits: int | None, needed: int, *, check_precision: bool
) -> int:
    """The precision to build at; raises if it is short of ``needed`` (unless told not to)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if backend == "float64":
        if precision_bits not in (None, FLOAT64_BITS):
            raise ValueError(
                f"precision_bits: the float64 backend has {FLOAT64_BITS} bits, got {precision_bits}"
            )
        bits = FLOAT64_BITS
    else:
        bits = (
            needed + MPMATH_EXTRA_BITS
            if precision_bits is None
            else positive_int("precision_bits", precision_bits)
        )
    if check_precision and bits < needed:
        raise ValueError(
            f"backend: {backend!r} at {bits} significand bits lacks the precision this "
            f"construction needs ({needed} bits, see precision_needed); use "
            f"backend='mpmath' with precision_bits >= {needed}, or check_precision=False to "
            f"build it anyway (it will be wrong)"
        )
    return bits


def construct_lookup(
    digits: np.ndarray,
    *,
    d: int,
    L: int,
    K: int,
    Q: int,
    eta: Fraction,
    backend: str = "float64",
    precision_bits: int | None = None,
    check_precision: bool = True,
    error_bound: float = 0.0,
    lipschitz: float | None = None,
    eps: float | None = None,
    decoder: str = "deep",
) -> Construction:
    """Build the lookup model and the prompt for a digit table ``digits (L K^d, T, d)``.

    Row ``m = pos·K^d + cell`` of ``digits`` holds, for every context ``t``, the output level
    (``0 <= a < Q``) of a token at position ``pos`` in cell ``cell``. Public entry points are
    :func:`reference.construct_universal` and :func:`reference.construct_memorizer`.

    >>> import numpy as np
    >>> from reference.construction import Fraction, construct_lookup
    >>> c = construct_lookup(np.array([[[0]], [[1]]]), d=1, L=1, K=2, Q=2, eta=Fraction(1, 8))
    >>> c.forward(np.array([[0.2]])).tolist(), c.forward(np.array([[0.8]])).tolist()
    ([[0.25]], [[0.75]])
    """
    T = contexts(d, L, K)
    if decoder not in DECODERS:
        raise ValueError(f"decoder: expected one of {DECODERS}, got {decoder!r}")
    check_sizes(d, L, K, Q, decoder)
    needed = precision_needed(d, L, K, Q)
    bits = resolve_precision(backend, precision_bits, needed, check_precision=check_precision)
    digits = np.asarray(digits)
    if digits.shape != (L * K**d, T, d):
        raise ValueError(f"digits: expected shape {(L * K**d, T, d)}, got {digits.shape}")
    beta = inverse_temperature(d, L, K, Q)
    spec = lookup_spec(d, L, K, Q, eta, beta, decoder)
    model = materialise(spec, backend, bits)
    prompt = build_prompt(pack_tables(digits, Q), d, L, K, Q, backend, bits, decoder)
    q = log2_levels(Q)
    return Construction(
        model=model,
        prompt=prompt,
        d=d,
        L=L,
        K=K,
        Q=Q,
        contexts=T,
        prompt_rows=int(prompt.shape[0]),
        bits_per_row=T * d * q,
        ffn_in_widths=tuple(layer.hidden for layer in model.ffn_in),
        ffn_out_widths=tuple(layer.hidden for layer in model.ffn_out),
        depth_in=len(model.ffn_in),
        depth_out=len(model.ffn_out),
        max_weight=_spec_max_weight(spec),
        error_bound=float(error_bound),
        band=float(eta),
        beta=beta,
        backend=backend,
        precision_bits=bits,
        precision_needed=needed,
        lipschitz=lipschitz,
        eps=eps,
        decoder=decoder,
    )


def grid_cells(d: int, L: int, K: int) -> np.ndarray:
    """All ``K^{dL}`` cell sequences as one ``(S, L)`` array of flattened cell indices.

    >>> from reference.construction import grid_cells
    >>> grid_cells(1, 2, 2).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    kd = K**d
    return np.indices((kd,) * L).reshape(L, -1).T.astype(np.int64)  # (S, L), position 0 slowest


def cell_centers(cells: np.ndarray, d: int, K: int) -> np.ndarray:
    """Centers ``(c_r + 1/2)/K`` of flattened cells ``(..., L)`` as tokens ``(..., L, d)``.

    >>> import numpy as np
    >>> from reference.construction import cell_centers
    >>> cell_centers(np.array([[1, 2]]), 2, 2).tolist()
    [[[0.75, 0.25], [0.25, 0.75]]]
    """
    powers = K ** np.arange(d)  # (d,)
    coords = (cells[..., None] // powers) % K  # (..., L, d)
    return (coords + 0.5) / K


def flatten_cells(coords: np.ndarray, K: int) -> np.ndarray:
    """Flattened cell index ``Σ_r c_r K^r`` of per-coordinate cells ``(..., L, d)``."""
    powers = K ** np.arange(coords.shape[-1])  # (d,)
    return (coords * powers).sum(axis=-1)
