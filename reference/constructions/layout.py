"""Coordinate layout of the model width and the exact rational layer spec (``_Unit``, ``_Spec``).

The layout names every block of coordinates of the model width ``D`` (see
:mod:`reference.constructions.lookup`); the spec describes every layer in exact rationals before a
backend materialises it. Shared unit builders (the exact clamp, the context index) and the
three-layer ``FFN_in`` of the deep and wide decoders live here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from reference.constructions.sizes import contexts, decoder_ramps, quantizer_ramp


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
        sizes = self._shallow_sizes() if self.decoder == "shallow" else self._deep_sizes()
        out, start = {}, 0
        for name, size in sizes:
            out[name] = (start, size)
            start += size
        return out

    def _shallow_sizes(self) -> list[tuple[str, int]]:
        """Blocks of the shallow model (one FFN layer on each side, :mod:`decoder_shallow`)."""
        d, L, K = self.d, self.L, self.K
        return [
            ("x", d),  # input token
            ("one", 1),  # 1 on input rows (positional encoding) and on the prompt's pad rows
            ("pos", L),  # one-hot position (positional encoding)
            ("g", L * d * (K - 1)),  # FFN_in: gated steps [x_r >= j/K]·[pos = p]
            ("pk", d),  # prompt: cell coordinate m_r of the row's token
            ("pk2", 1),  # prompt: Σ_r m_r²
            ("pkpos", L),  # prompt: one-hot position of the row's token
            ("pv", d),  # prompt: packed tables
            ("rem0", d),  # attention output: the packed table of the matching row
            ("ag", L * d * (K - 1)),  # attention output: every position's gated steps
            ("apos", L),  # attention output: every position's one-hot (the same weight λ)
            ("acc", d),  # FFN_out: the selected digit (the output level)
        ]

    def _deep_sizes(self) -> list[tuple[str, int]]:
        """Blocks of the deep and wide models (three ``FFN_in`` layers, a multi-layer decoder)."""
        d, L, K, Q = self.d, self.L, self.K, self.Q
        T = contexts(d, L, K)
        ramps = decoder_ramps(d, L, K, Q, self.decoder)
        return [
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
    key_width: int = 3  # columns of w_q and w_k
    value_width: int | None = None  # columns of w_v (None: d + L, the deep and wide models)

    @property
    def values(self) -> int:
        """Value width ``d_v`` (columns of ``w_v``, rows of ``w_o``)."""
        return self.d + self.L if self.value_width is None else self.value_width


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
    ramps, clamps = [], []
    for r in range(d):
        for j in range(1, K):
            i = r * (K - 1) + j - 1
            s, bias = quantizer_ramp(eta, K, j)  # 1/(2η), 1/2 − j s/K
            w_in = {lay.at("x", r): s, **flag}
            ramps.append(_Unit(w_in, bias, {lay.at("qg", i): _ONE}))
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
