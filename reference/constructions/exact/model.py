"""The exact model of the lookup construction and its token-wise layers on exact integers.

:class:`ExactModel` holds the exact rational spec
(:func:`~reference.constructions.spec.lookup_spec`) and the exact prompt; build it with
:func:`exact_lookup` (from a digit table, nothing dense materialised) or :func:`exact_from_spec`
(from a built spec and packed tables).
Its ``FFN_in`` / ``FFN_out`` layers are compiled at a fixed-point scale ``2^F`` (only non-zero
weights kept) and run on :class:`_State`, a batch of coordinates carried as affine forms
``centre + Σ_j J_j e_j`` whose ReLUs are decided on the whole enclosure (or flagged undecided).
Also here: the scale helpers (the finest denominator of the model and of the inputs) and the
embedding of the distinct input rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from reference.constructions.exact.rationals import (
    HEADROOM_BITS,
    _fixed,
    _mul,
    _weight,
    dyadic_exponent,
    to_fraction,
)
from reference.constructions.layout import Layout, _Spec, _Unit
from reference.constructions.materialise import build_prompt
from reference.constructions.packing import pack_tables
from reference.constructions.sizes import contexts, inverse_temperature
from reference.constructions.spec import lookup_spec

#: Fixed-point integers of a batch: an object array of Python ints (exact, unbounded).
IntArray = npt.NDArray[np.object_]
#: Input sequences as exact rationals: ``xs[s][p]`` is the token ``(d,)`` at position ``p``.
ExactInputs = list[list[tuple[Fraction, ...]]]


@dataclass(frozen=True)
class ExactModel:
    """The exact rational spec of a lookup construction and its exact prompt ``(Lp, D)``.

    Build it with :func:`exact_lookup` (no dense arrays) or
    :func:`reference.constructions.exact.backend.exact_model` (from a built
    :class:`~reference.constructions.construction.Construction`, its prompt converted exactly).
    """

    spec: _Spec
    prompt: tuple[tuple[Fraction, ...], ...]
    d: int
    L: int
    K: int
    Q: int
    decoder: str = "deep"
    _cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def width(self) -> int:
        return self.spec.width

    def with_packed(self, packed: list[list[Fraction]]) -> ExactModel:
        """The same model with other packed tables ``packed[m][r]`` in the prompt (e.g. rounded
        ones); shares the compiled layers (its scale stays valid: entries are no finer).

        >>> import numpy as np
        >>> from fractions import Fraction
        >>> from reference.constructions.exact.model import exact_lookup
        >>> from reference.constructions.exact.backend import exact_forward
        >>> m = exact_lookup(np.array([[[0]], [[1]]]), d=1, L=1, K=2, Q=2, eta=Fraction(1, 8))
        >>> m2 = m.with_packed([[Fraction(3, 4)], [Fraction(3, 4)]])
        >>> exact_forward(m2, np.array([[[0.2]], [[0.8]]])).digits.ravel().tolist()
        [1, 1]
        """
        lay = Layout(self.d, self.L, self.K, self.Q, self.decoder)
        rows = [list(row) for row in self.prompt]
        exponent = _spec_exponent(self)
        for m, values in enumerate(packed):
            for r, value in enumerate(values):
                if dyadic_exponent(value) > exponent:
                    raise ValueError(f"packed: {value} is finer than the model's 2^-{exponent}")
                rows[m][lay.at("pv", r)] = Fraction(value)
        prompt = tuple(tuple(row) for row in rows)
        return ExactModel(
            self.spec, prompt, self.d, self.L, self.K, self.Q, self.decoder, self._cache
        )


def exact_lookup(
    digits: np.ndarray,
    *,
    d: int,
    L: int,
    K: int,
    Q: int,
    eta: Fraction,
    decoder: str = "deep",
) -> ExactModel:
    """The exact model of the lookup construction for ``digits (L K^d, T, d)`` (as
    :func:`reference.constructions.lookup.construct_lookup` builds it, without materialising
    weights).

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from reference.constructions.exact.model import exact_lookup
    >>> from reference.constructions.exact.backend import exact_forward
    >>> m = exact_lookup(np.array([[[0]], [[1]]]), d=1, L=1, K=2, Q=2, eta=Fraction(1, 8))
    >>> exact_forward(m, np.array([[[0.2]], [[0.8]]])).digits.ravel().tolist()
    [0, 1]
    """
    digits = np.asarray(digits)
    T = contexts(d, L, K)
    if digits.shape != (L * K**d, T, d):
        raise ValueError(f"digits: expected shape {(L * K**d, T, d)}, got {digits.shape}")
    if digits.min() < 0 or digits.max() >= Q:
        raise ValueError(
            f"digits: expected levels in [0, {Q}), got [{digits.min()}, {digits.max()}]"
        )
    spec = lookup_spec(d, L, K, Q, Fraction(eta), inverse_temperature(d, L, K, Q), decoder)
    return exact_from_spec(spec, pack_tables(digits, Q), d, L, K, Q, decoder)


def exact_from_spec(
    spec: _Spec, packed: list[list[Fraction]], d: int, L: int, K: int, Q: int, decoder: str
) -> ExactModel:
    """The exact model of a built ``spec`` with the packed tables ``packed[m][r]``: the prompt of
    :func:`~reference.constructions.materialise.build_prompt`, materialised at a precision that
    holds every entry exactly (checked: the packed values read back equal), converted to
    rationals.

    >>> from fractions import Fraction
    >>> from reference.constructions.spec import lookup_spec
    >>> from reference.constructions.exact.model import exact_from_spec
    >>> spec = lookup_spec(1, 1, 2, 2, Fraction(1, 8), 4)
    >>> exact_from_spec(spec, [[Fraction(1, 4)], [Fraction(3, 4)]], 1, 1, 2, 2, "deep").width
    21
    """
    bits = max(dyadic_exponent(v) for row in packed for v in row) + 2 * (len(packed)).bit_length()
    dense = build_prompt(packed, d, L, K, Q, "mpmath", bits + 16, decoder)  # (Lp, D)
    prompt = tuple(tuple(to_fraction(v) for v in row) for row in dense)
    lay = Layout(d, L, K, Q, decoder)
    for m, row in enumerate(packed):
        for r, value in enumerate(row):
            if prompt[m][lay.at("pv", r)] != value:  # pragma: no cover - precision is chosen
                raise AssertionError("exact prompt: a packed value was rounded")
    model = ExactModel(spec, prompt, d, L, K, Q, decoder)
    _compiled(model, _spec_exponent(model) + HEADROOM_BITS)  # the scale of grid inputs
    return model


# ----------------------------------------------------------------------------- compiled layers
@dataclass(frozen=True)
class _CUnit:
    w_in: tuple[tuple[int, int, int], ...]  # (coordinate, numerator, exponent)
    bias: int
    w_out: tuple[tuple[int, int, int], ...]


def _compile(layer: list[_Unit], F: int) -> list[_CUnit]:
    return [
        _CUnit(
            tuple((c, *_weight(w)) for c, w in sorted(u.w_in.items()) if w != 0),
            _fixed(Fraction(u.bias), F),
            tuple((c, *_weight(w)) for c, w in sorted(u.w_out.items()) if w != 0),
        )
        for u in layer
    ]


class _State:
    """Coordinates of a batch as affine forms: ``centre[c] (B,)`` and ``jac[c] = {j: (B,)}``."""

    def __init__(
        self,
        centre: list[Any],
        jac: list[dict[int, Any]],
        rho: dict[int, IntArray],
        G: int,
        B: int,
    ) -> None:
        self.centre, self.jac, self.rho, self.G, self.B = centre, jac, rho, G, B
        self.undecided = np.zeros(B, dtype=bool)

    def width(self, coeffs: dict[int, Any]) -> int | IntArray:
        """``⌈Σ_j |J_j| ρ_j⌉`` at the value scale (rigorous: rounded up)."""
        total: int | IntArray = 0
        for j, a in coeffs.items():
            total = total + np.abs(a) * self.rho[j]
        return -((-total) >> self.G)

    def layer(self, units: list[_CUnit]) -> None:
        outs = []
        for u in units:
            pre: Any = u.bias
            coeffs: dict[int, Any] = {}
            for c, num, exp in u.w_in:
                pre = pre + _mul(self.centre[c], num, exp)
                for j, a in self.jac[c].items():
                    coeffs[j] = coeffs.get(j, 0) + _mul(a, num, exp)
            coeffs = {j: a for j, a in coeffs.items() if np.any(a)}
            pre = np.broadcast_to(np.asarray(pre, dtype=object), (self.B,))
            if coeffs:
                w = self.width(coeffs)
                active = pre >= w
                self.undecided |= ~active & (pre > -w)
                out = np.where(active, pre, 0)
                coeffs = {j: np.where(active, a, 0) for j, a in coeffs.items()}
                coeffs = {j: a for j, a in coeffs.items() if np.any(a)}
            else:
                out = np.where(pre > 0, pre, 0)
            outs.append((u, out, coeffs))
        for u, out, coeffs in outs:
            for c, num, exp in u.w_out:
                self.centre[c] = self.centre[c] + _mul(out, num, exp)
                jac = self.jac[c]
                for j, a in coeffs.items():
                    jac[j] = jac.get(j, 0) + _mul(a, num, exp)


def _rows_through(units_layers: list[list[_CUnit]], rows: IntArray, G: int) -> IntArray:
    """Token-wise layers on exact rows ``(n, D)`` (no enclosure needed: exact)."""
    n, D = rows.shape
    state = _State([rows[:, c].copy() for c in range(D)], [{} for _ in range(D)], {}, G, n)
    for units in units_layers:
        state.layer(units)
    return np.stack(state.centre, axis=1) if n else rows  # (n, D)


# ----------------------------------------------------------------------------- scales and inputs
def _spec_exponent(model: ExactModel) -> int:
    """Finest denominator exponent of the prompt and every weight and bias (cached)."""
    if "exponent" not in model._cache:
        spec = model.spec
        exps = [dyadic_exponent(v) for row in model.prompt for v in row]
        for u in (u for layer in (*spec.ffn_in, *spec.ffn_out) for u in layer):
            exps += [dyadic_exponent(Fraction(v)) for v in (*u.w_in.values(), u.bias)]
            exps += [dyadic_exponent(Fraction(v)) for v in u.w_out.values()]
        for entries in (spec.w_q, spec.w_k, spec.w_v, spec.w_o, spec.readout, spec.positional):
            exps += [dyadic_exponent(Fraction(v)) for v in entries.values()]
        model._cache["exponent"] = max(exps)
    return model._cache["exponent"]


def _scale_bits(model: ExactModel, xs: ExactInputs) -> int:
    """Fixed-point scale ``F``: the finest denominator of any input, prompt entry, bias or
    weight, plus :data:`~reference.constructions.exact.rationals.HEADROOM_BITS` (every later
    product is checked exact)."""
    exps = [dyadic_exponent(v) for seq in xs for tok in seq for v in tok]
    return max([_spec_exponent(model), *exps]) + HEADROOM_BITS


def _compiled(model: ExactModel, F: int) -> tuple[list[list[_CUnit]], list[list[_CUnit]]]:
    """``FFN_in`` and ``FFN_out`` compiled at scale ``F`` (cached per scale)."""
    key = ("layers", F)
    if key not in model._cache:
        spec = model.spec
        model._cache[key] = (
            [_compile(layer, F) for layer in spec.ffn_in],
            [_compile(layer, F) for layer in spec.ffn_out],
        )
    return model._cache[key]


def _input_rows(model: ExactModel, xs: ExactInputs, F: int) -> tuple[IntArray, np.ndarray]:
    """Distinct input rows ``(token, position)`` embedded at scale ``2^F``: ``(U, D)``, and the
    index of each token's row ``(B, L)``."""
    keys: dict[tuple[int, tuple[Fraction, ...]], int] = {}
    idx = np.empty((len(xs), model.L), dtype=np.int64)  # (B, L)
    for s, seq in enumerate(xs):
        for p, tok in enumerate(seq):
            idx[s, p] = keys.setdefault((p, tok), len(keys))
    rows = np.zeros((len(keys), model.width), dtype=object)  # (U, D)
    for (p, tok), a in keys.items():
        for r, v in enumerate(tok):
            rows[a, r] = _fixed(v, F)  # the embedding is the identity on the first d coordinates
        for (pp, c), w in model.spec.positional.items():
            if pp == p:
                rows[a, c] += _fixed(Fraction(w), F)
    return rows, idx
