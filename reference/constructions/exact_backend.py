"""Exact backend: evaluate the lookup construction's rational spec, each sequence a proof.

The dense backends (``float64``, ``mpmath``) materialise every weight, zeros included, and round
every operation. This module evaluates the exact rational spec (:func:`lookup_spec`) instead,
touching only its non-zero weights, in exact integer arithmetic (fixed point at scale ``2^F``,
every operation checked exact). The only transcendental part, the softmax, is enclosed
rigorously:

* the rows of maximal score (the *match set*, ``n`` rows) get weight 1 each after subtracting
  the maximum; every other row has weight ``exp(−g) <= 2^{−⌊g·λ⌋}`` with its exact score gap
  ``g > 0`` and ``λ = LOG2E_LOWER <= log2 e``;
* so the attention output is ``c + e`` with ``c`` the exact mean of the match set's values and
  ``|e_j| <= ρ_j = (Σ_off 2^{−⌊gλ⌋}) · max_i |v_ij − c_j| / n`` (a dyadic upper bound);
* after attention every coordinate is carried as an *affine form* ``centre + Σ_j J_j e_j``
  (exact rationals). A ReLU whose pre-activation interval ``centre ± Σ_j |J_j| ρ_j`` lies on
  one side of 0 is exactly the identity or exactly 0 on the whole enclosure; one that straddles
  0 makes the sequence *undecided* (never silently rounded).

Hence an output ``o ± w`` with a decided digit ``a`` (``[o − w, o + w] ⊂ (a/Q, (a+1)/Q)``) is a
proof that the transformer, evaluated in exact real arithmetic on that input, outputs level
``a``. ``relative_error`` widens ``ρ_j`` by ``|c_j|·relative_error`` to certify a worst-case
rounding of the attention output (the precision analysis of docs/universality.md).

Token-wise layers before attention are evaluated once per distinct input row, scores once per
pair of distinct rows; the cost per sequence is dominated by ``FFN_out`` (linear in its number
of non-zero weights, times the bits of the packed numbers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from reference.constructions.construction import Construction
from reference.constructions.layout import Layout, _Spec, _Unit
from reference.constructions.materialise import build_prompt
from reference.constructions.packing import cell_centers, context_index, pack_tables
from reference.constructions.sizes import contexts, inverse_temperature
from reference.constructions.spec import lookup_spec

#: A rational lower bound of ``log2 e = 1.44269504088896…`` (so ``e^{−g} <= 2^{−g·λ}``).
LOG2E_LOWER = Fraction(14426950408, 10**10)
#: Extra fixed-point bits beyond the finest input, prompt, bias or weight denominator.
HEADROOM_BITS = 16
#: Bits of the radius scale beyond the value scale (radii are rounded up at ``2^{−G}``).
RADIUS_EXTRA_BITS = 64


# ----------------------------------------------------------------------------- rationals
def dyadic_exponent(value: Fraction) -> int:
    """``e`` with ``value = n / 2^e`` (``n`` an integer); raises if ``value`` is not dyadic.

    >>> from fractions import Fraction
    >>> from reference.constructions.exact_backend import dyadic_exponent
    >>> dyadic_exponent(Fraction(3, 8)), dyadic_exponent(Fraction(5))
    (3, 0)
    """
    den = Fraction(value).denominator
    if den & (den - 1):
        raise ValueError(f"value: the exact backend needs dyadic rationals, got {value}")
    return den.bit_length() - 1


def to_fraction(value: object) -> Fraction:
    """Exact rational value of a float, int, Fraction or ``mpmath.mpf`` (no rounding).

    >>> from reference.constructions.exact_backend import to_fraction
    >>> to_fraction(0.375), to_fraction(3)
    (Fraction(3, 8), Fraction(3, 1))
    """
    if isinstance(value, (int, Fraction, float, np.integer, np.floating)):
        return Fraction(value)
    man_exp = getattr(value, "man_exp", None)
    if man_exp is None:
        raise TypeError(f"value: expected a number or mpmath.mpf, got {type(value).__name__}")
    man, exp = man_exp
    return Fraction(int(man)) * Fraction(2) ** int(exp)


def _fixed(value: Fraction, scale_bits: int) -> int:
    scaled = Fraction(value) * (1 << scale_bits)
    if scaled.denominator != 1:
        raise ValueError(f"value {value} is not a multiple of 2^-{scale_bits} (fixed point)")
    return scaled.numerator


# ----------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class ExactModel:
    """The exact rational spec of a lookup construction and its exact prompt ``(Lp, D)``.

    Build it with :func:`exact_lookup` (no dense arrays) or :func:`exact_model` (from a built
    :class:`~reference.constructions.lookup.Construction`, its prompt converted exactly).
    """

    spec: _Spec
    prompt: tuple[tuple[Fraction, ...], ...]
    d: int
    L: int
    K: int
    Q: int
    decoder: str = "deep"
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def width(self) -> int:
        return self.spec.width

    def with_packed(self, packed: list[list[Fraction]]) -> ExactModel:
        """The same model with other packed tables ``packed[m][r]`` in the prompt (e.g. rounded
        ones); shares the compiled layers (its scale stays valid: entries are no finer).

        >>> import numpy as np
        >>> from fractions import Fraction
        >>> from reference.constructions.exact_backend import exact_forward, exact_lookup
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
    :func:`reference.constructions.lookup.construct_lookup` builds it, without materialising weights).

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from reference.constructions.exact_backend import exact_forward
    >>> from reference.constructions.exact_backend import exact_forward, exact_lookup
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
    :func:`build_prompt`, materialised at a precision that holds every entry exactly (checked:
    the packed values read back equal), converted to rationals.

    >>> from fractions import Fraction
    >>> from reference.constructions.spec import lookup_spec
    >>> from reference.constructions.exact_backend import exact_from_spec
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


def exact_model(c: Construction) -> ExactModel:
    """The exact model of a built construction: its spec rebuilt from ``(d, L, K, Q, band,
    β, decoder)`` and its prompt converted exactly (a rounded float64 prompt stays rounded).

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from reference.constructions.layout import Layout
    >>> from reference.constructions.exact_backend import exact_model
    >>> from reference.constructions.lookup import construct_lookup
    >>> c = construct_lookup(np.array([[[0]], [[1]]]), d=1, L=1, K=2, Q=2, eta=Fraction(1, 8))
    >>> exact_model(c).prompt[1][Layout(1, 1, 2, 2).at("pv", 0)]
    Fraction(3, 4)
    """
    if c.exact is not None:  # built with backend="exact"
        return c.exact
    spec = lookup_spec(c.d, c.L, c.K, c.Q, Fraction(c.band), c.beta, c.decoder)
    prompt = tuple(tuple(to_fraction(v) for v in row) for row in np.asarray(c.prompt))
    return ExactModel(spec, prompt, c.d, c.L, c.K, c.Q, c.decoder)


# ----------------------------------------------------------------------------- compiled layers
@dataclass(frozen=True)
class _CUnit:
    w_in: tuple[tuple[int, int, int], ...]  # (coordinate, numerator, exponent)
    bias: int
    w_out: tuple[tuple[int, int, int], ...]


def _weight(w: Fraction) -> tuple[int, int]:
    w = Fraction(w)
    return w.numerator, dyadic_exponent(w)


def _compile(layer: list[_Unit], F: int) -> list[_CUnit]:
    return [
        _CUnit(
            tuple((c, *_weight(w)) for c, w in sorted(u.w_in.items()) if w != 0),
            _fixed(Fraction(u.bias), F),
            tuple((c, *_weight(w)) for c, w in sorted(u.w_out.items()) if w != 0),
        )
        for u in layer
    ]


def _mul(x, num: int, exp: int):
    """``x · num / 2^exp`` on fixed-point integers (scalars or object arrays), exactly."""
    if exp == 0 and num in (1, -1):
        return x if num == 1 else -x
    y = x * num
    if exp:
        mask = (1 << exp) - 1
        if np.any(np.asarray(y & mask, dtype=object)):
            raise ArithmeticError("fixed point too coarse for an exact product; raise the scale")
        y = y >> exp
    return y


class _State:
    """Coordinates of a batch as affine forms: ``centre[c] (B,)`` and ``jac[c] = {j: (B,)}``."""

    def __init__(self, centre: list, jac: list[dict], rho: dict, G: int, B: int) -> None:
        self.centre, self.jac, self.rho, self.G, self.B = centre, jac, rho, G, B
        self.undecided = np.zeros(B, dtype=bool)

    def width(self, coeffs: dict):
        """``⌈Σ_j |J_j| ρ_j⌉`` at the value scale (rigorous: rounded up)."""
        total = 0
        for j, a in coeffs.items():
            total = total + np.abs(a) * self.rho[j]
        return -((-total) >> self.G)

    def layer(self, units: list[_CUnit]) -> None:
        outs = []
        for u in units:
            pre = u.bias
            coeffs: dict = {}
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


def _rows_through(units_layers: list[list[_CUnit]], rows: np.ndarray, G: int) -> np.ndarray:
    """Token-wise layers on exact rows ``(n, D)`` (no enclosure needed: exact)."""
    n, D = rows.shape
    state = _State([rows[:, c].copy() for c in range(D)], [{} for _ in range(D)], {}, G, n)
    for units in units_layers:
        state.layer(units)
    return np.stack(state.centre, axis=1) if n else rows  # (n, D)


# ----------------------------------------------------------------------------- the forward pass
@dataclass(frozen=True)
class ExactOutput:
    """Outputs ``(B, L, d)`` as exact centres ``values`` (Fractions) with rigorous radii
    ``radius``; ``digits`` the decided level (``-1``: undecided) and ``undecided`` per sequence
    (a ReLU straddled 0 on the enclosure)."""

    values: np.ndarray
    radius: np.ndarray
    digits: np.ndarray
    undecided: np.ndarray

    def as_float(self) -> np.ndarray:
        """The centres as float64 ``(B, L, d)``."""
        return self.values.astype(np.float64)


def _value_columns(entries: dict, rows: int, cols: int) -> dict[int, list[tuple[int, int, int]]]:
    out: dict[int, list] = {j: [] for j in range(cols)}
    for (i, j), w in entries.items():
        if w != 0:
            out[j].append((i, *_weight(w)))
    return out


def _project(rows: np.ndarray, columns: dict) -> np.ndarray:
    """``rows (n, D) @ W`` for a sparse dyadic ``W`` given per output column: ``(n, k)``."""
    n = rows.shape[0]
    out = np.empty((n, len(columns)), dtype=object)
    for j, items in columns.items():
        acc = np.zeros(n, dtype=object)
        for i, num, exp in items:
            acc = acc + _mul(rows[:, i], num, exp)
        out[:, j] = acc
    return out


def _pow2_bound(gap_num: int, gap_den: int, G: int) -> int:
    """``⌈2^G · 2^{−⌊g λ⌋}⌉`` for the gap ``g = gap_num / gap_den > 0``: bounds ``2^G e^{−g}``."""
    k = (gap_num * LOG2E_LOWER.numerator) // (gap_den * LOG2E_LOWER.denominator)
    return 1 << (G - k) if k <= G else 1


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


def _scale_bits(model: ExactModel, xs: list) -> int:
    """Fixed-point scale ``F``: the finest denominator of any input, prompt entry, bias or
    weight, plus :data:`HEADROOM_BITS` (every later product is checked exact)."""
    exps = [dyadic_exponent(v) for seq in xs for tok in seq for v in tok]
    return max([_spec_exponent(model), *exps]) + HEADROOM_BITS


def _compiled(model: ExactModel, F: int) -> tuple[list, list]:
    """``FFN_in`` and ``FFN_out`` compiled at scale ``F`` (cached per scale)."""
    key = ("layers", F)
    if key not in model._cache:
        spec = model.spec
        model._cache[key] = (
            [_compile(layer, F) for layer in spec.ffn_in],
            [_compile(layer, F) for layer in spec.ffn_out],
        )
    return model._cache[key]


def _input_rows(model: ExactModel, xs: list, F: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct input rows ``(token, position)`` embedded at scale ``2^F``: ``(U, D)``, and the
    index of each token's row ``(B, L)``."""
    keys: dict[tuple, int] = {}
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


@dataclass
class _AttentionTables:
    """Everything of the attention that depends on distinct rows only (computed once)."""

    s_in: np.ndarray  # (U, U) scores between distinct input rows, scale 2^{2F}
    pr_max: list  # (U,) best prompt score per query row
    pr_match: list  # prompt rows attaining it
    pr_off: list  # Σ over the other prompt rows of ⌈2^G 2^{−⌊gλ⌋}⌉
    v_in: np.ndarray  # (U, dv) values of input rows
    v_pr: np.ndarray  # (Lp, dv) values of prompt rows
    gap_den: int

    @classmethod
    def build(cls, spec: _Spec, rows: np.ndarray, prompt: np.ndarray, F: int, G: int):
        D = spec.width
        dk = 1 + max(j for _, j in spec.w_q)
        dv = 1 + max(j for _, j in spec.w_v)
        kcols = _value_columns(spec.w_k, D, dk)
        vcols = _value_columns(spec.w_v, D, dv)
        q = _project(rows, _value_columns(spec.w_q, D, dk))  # (U, dk)
        s_pr = q.dot(_project(prompt, kcols).T)  # (U, Lp)
        s_in = q.dot(_project(rows, kcols).T)  # (U, U)
        gap_den = 1 << (2 * F)
        pr_max = [max(row) for row in s_pr]
        pairs = list(zip(s_pr, pr_max, strict=True))
        return cls(
            s_in=s_in,
            pr_max=pr_max,
            pr_match=[[m for m, v in enumerate(row) if v == top] for row, top in pairs],
            pr_off=[
                sum(_pow2_bound(top - v, gap_den, G) for v in row if v != top) for row, top in pairs
            ],
            v_in=_project(rows, vcols),
            v_pr=_project(prompt, vcols),
            gap_den=gap_den,
        )

    def attend(self, a: int, ins: np.ndarray, F: int, G: int, rel: Fraction):
        """Query row ``a`` over the prompt and the input rows ``ins``: the match set's value sum
        ``num (dv,)`` (scale ``2^F``), its size ``n`` and the radii ``ρ (dv,)`` (scale ``2^G``)
        with ``|out_j − num_j/n| <= ρ_j`` (plus ``rel·|num_j/n|``)."""
        top = max(self.pr_max[a], max(self.s_in[a, b] for b in ins))
        num = np.zeros(self.v_pr.shape[1], dtype=object)
        vmax, vmin = self.v_pr.max(axis=0), self.v_pr.min(axis=0)  # (dv,)
        count, off = 0, 0
        if self.pr_max[a] == top:
            count += len(self.pr_match[a])
            for m in self.pr_match[a]:
                num = num + self.v_pr[m]
            off += self.pr_off[a]
        else:  # every prompt row is off, by at least top − (best prompt score)
            off += len(self.v_pr) * _pow2_bound(top - self.pr_max[a], self.gap_den, G)
        for b in ins:
            vmax, vmin = np.maximum(vmax, self.v_in[b]), np.minimum(vmin, self.v_in[b])
            if self.s_in[a, b] == top:
                count += 1
                num = num + self.v_in[b]
            else:
                off += _pow2_bound(top - self.s_in[a, b], self.gap_den, G)
        # |out_j − c_j| <= off · max_i |v_ij − c_j| / n with c_j = num_j / n
        dev = np.maximum(vmax * count - num, num - vmin * count)  # (dv,) at scale 2^F · n
        rho = -((-(off * dev)) // (count * count << F))  # (dv,) at scale 2^G
        if rel:
            extra = np.abs(num) * rel.numerator << G
            rho = rho + -((-extra) // (rel.denominator * count << F))
        return num, count, rho


def _readout(state: _State, spec: _Spec, r: int, F: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Output coordinate ``r``: exact centres and radii ``(n,)`` as Fractions."""
    val: object = 0
    coeffs: dict = {}
    for (c, rr), w in spec.readout.items():
        if rr == r:
            num_w, exp_w = _weight(w)
            val = val + _mul(state.centre[c], num_w, exp_w)
            for j, a in state.jac[c].items():
                coeffs[j] = coeffs.get(j, 0) + _mul(a, num_w, exp_w)
    width = state.width(coeffs) if coeffs else np.zeros(n, dtype=object)
    scale = Fraction(1, 1 << F)
    vals = np.array([Fraction(v) * scale for v in np.broadcast_to(val, (n,))])
    return vals, np.array([Fraction(w) * scale for w in np.broadcast_to(width, (n,))])


def exact_forward(
    model: ExactModel | Construction,
    x: np.ndarray,
    *,
    relative_error: Fraction = Fraction(0),
    batch: int = 1024,
) -> ExactOutput:
    """Evaluate ``τ([P; X])`` exactly for sequences ``x (B, L, d)`` (or one ``(L, d)``).

    ``relative_error`` adds ``|c_j| · relative_error`` to every attention output's radius (a
    worst-case rounding of that size, certified). ``batch``: query rows per vectorised pass.

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from reference.constructions.exact_backend import exact_forward
    >>> from reference.constructions.exact_backend import exact_forward, exact_lookup
    >>> m = exact_lookup(np.array([[[0], [1]], [[1], [0]], [[1], [1]], [[0], [0]]]),
    ...                  d=1, L=2, K=2, Q=2, eta=Fraction(1, 16))
    >>> out = exact_forward(m, np.array([[[0.25], [0.75]]]))
    >>> out.digits.ravel().tolist(), out.values.ravel().tolist(), out.undecided.tolist()
    ([1, 0], [Fraction(3, 4), Fraction(1, 4)], [False])
    """
    if isinstance(model, Construction):
        model = exact_model(model)
    if not isinstance(model, ExactModel):
        raise TypeError(f"model: expected an ExactModel or Construction, got {type(model)}")
    spec, L, d, D = model.spec, model.L, model.d, model.width
    arr = np.asarray(x, dtype=object)
    single = arr.ndim == 2
    arr = arr[None] if single else arr
    if arr.ndim != 3 or arr.shape[1:] != (L, d):
        raise ValueError(f"x: expected shape ({L}, {d}) or (B, {L}, {d}), got {arr.shape}")
    rel = Fraction(relative_error)
    if rel < 0:
        raise ValueError(f"relative_error: expected >= 0, got {rel}")
    xs = [[tuple(to_fraction(v) for v in tok) for tok in seq] for seq in arr]
    F = _scale_bits(model, xs)
    G = F + RADIUS_EXTRA_BITS
    rows, idx = _input_rows(model, xs, F)  # (U, D), (B, L)
    ffn_in, ffn_out = _compiled(model, F)
    rows = _rows_through(ffn_in, rows, G)  # (U, D)
    prompt = np.array([[_fixed(v, F) for v in row] for row in model.prompt], dtype=object)
    tables = _AttentionTables.build(spec, rows, _rows_through(ffn_in, prompt, G), F, G)
    dv = tables.v_pr.shape[1]
    w_o = _value_columns({(j, c): w for (j, c), w in spec.w_o.items()}, dv, D)  # c -> [(j, ..)]

    B = len(xs)
    values = np.empty((B, L, d), dtype=object)
    radius = np.empty((B, L, d), dtype=object)
    undecided = np.zeros(B, dtype=bool)
    per_batch = max(1, batch // L)
    for start in range(0, B, per_batch):
        stop = min(B, start + per_batch)
        n = (stop - start) * L
        attended = [
            tables.attend(idx[s, p], idx[s], F, G, rel)
            for s in range(start, stop)
            for p in range(L)
        ]
        centre = rows[idx[start:stop].ravel()].copy()  # (n, D)
        contrib = np.array([a[0] for a in attended], dtype=object).reshape(n, dv)
        nmatch = np.array([a[1] for a in attended], dtype=object)  # (n,)
        rho = np.array([a[2] for a in attended], dtype=object).reshape(n, dv)
        jac: list[dict] = [{} for _ in range(D)]
        for c, items in w_o.items():  # residual + W_O (centre exact, one noise per value column)
            acc = np.zeros(n, dtype=object)
            for j, num_w, exp_w in items:
                acc = acc + _mul(contrib[:, j], num_w, exp_w)
                jac[c][j] = np.full(n, _mul(1 << F, num_w, exp_w), dtype=object)
            if items:
                if np.any(acc % nmatch):
                    raise ArithmeticError("attention output not dyadic: the exact backend needs it")
                centre[:, c] = centre[:, c] + acc // nmatch
        state = _State([centre[:, c].copy() for c in range(D)], jac, dict(enumerate(rho.T)), G, n)
        for units in ffn_out:
            state.layer(units)
        for r in range(d):
            vals, rads = _readout(state, spec, r, F, n)
            values[start:stop, :, r] = vals.reshape(stop - start, L)
            radius[start:stop, :, r] = rads.reshape(stop - start, L)
        undecided[start:stop] = state.undecided.reshape(stop - start, L).any(axis=1)
    digits = _decide(values, radius, model.Q)
    if single:
        return ExactOutput(values[0], radius[0], digits[0], undecided[0])
    return ExactOutput(values, radius, digits, undecided)


def _decide(values: np.ndarray, radius: np.ndarray, Q: int) -> np.ndarray:
    """Level ``a`` with ``[v − w, v + w] ⊂ (a/Q, (a+1)/Q)``, else ``-1`` (same shape)."""
    out = np.full(values.shape, -1, dtype=np.int64)
    for i, (v, w) in enumerate(zip(values.ravel(), radius.ravel(), strict=True)):
        lo, hi = (v - w) * Q, (v + w) * Q
        a = int(lo // 1)
        if lo > a and hi < a + 1 and 0 <= a < Q:
            out.flat[i] = a
    return out


# ----------------------------------------------------------------------------- grid verification
@dataclass(frozen=True)
class GridVerification:
    """Counts over grid sequences: ``verified`` (every digit decided and equal to the table),
    ``wrong`` (a digit decided and different), ``undecided`` (the enclosure did not decide)."""

    sequences: int
    verified: int
    wrong: int
    undecided: int
    max_radius: Fraction
    seconds: float
    wrong_ids: tuple[int, ...] = ()


def grid_ids_cells(ids: np.ndarray, d: int, L: int, K: int) -> np.ndarray:
    """Cell sequences ``(S, L)`` of grid sequence ids (position 0 slowest, as ``grid_cells``).

    >>> import numpy as np
    >>> from reference.constructions.exact_backend import grid_ids_cells
    >>> grid_ids_cells(np.arange(4), 1, 2, 2).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    kd = K**d
    return (ids[:, None] // kd ** np.arange(L - 1, -1, -1)) % kd  # (S, L)


def verify_grid(
    model: ExactModel,
    digits: np.ndarray,
    ids: np.ndarray | None = None,
    *,
    relative_error: Fraction = Fraction(0),
    batch: int = 1024,
) -> GridVerification:
    """Evaluate grid sequences (cell centres) exactly and compare every decoded digit with the
    table ``digits (L K^d, T, d)`` the model should realise. ``ids``: which of the ``K^{dL}``
    sequences (default: all).

    >>> import numpy as np
    >>> from fractions import Fraction
    >>> from reference.constructions.exact_backend import exact_forward, exact_lookup
    >>> from reference.constructions.exact_backend import verify_grid
    >>> table = np.random.default_rng(0).integers(0, 4, size=(4, 2, 1))
    >>> m = exact_lookup(table, d=1, L=2, K=2, Q=4, eta=Fraction(1, 16))
    >>> v = verify_grid(m, table)
    >>> (v.sequences, v.verified, v.wrong, v.undecided)
    (4, 4, 0, 0)
    """
    d, L, K = model.d, model.L, model.K
    if ids is None:
        ids = np.arange(K ** (d * L))
    ids = np.asarray(ids, dtype=np.int64)
    cells = grid_ids_cells(ids, d, L, K)  # (S, L)
    xs = cell_centers(cells, d, K)  # (S, L, d)
    start = time.perf_counter()
    out = exact_forward(model, xs, relative_error=relative_error, batch=batch)
    seconds = time.perf_counter() - start
    expected = np.stack(
        [digits[p * K**d + cells[:, p], context_index(cells, p, K, d)] for p in range(L)], axis=1
    )  # (S, L, d)
    decided = (out.digits >= 0).all(axis=(1, 2)) & ~out.undecided
    correct = (out.digits == expected).all(axis=(1, 2))
    wrong = decided & ~correct
    return GridVerification(
        sequences=int(ids.size),
        verified=int((decided & correct).sum()),
        wrong=int(wrong.sum()),
        undecided=int((~decided).sum()),
        max_radius=max(out.radius.ravel(), default=Fraction(0)),
        seconds=seconds,
        wrong_ids=tuple(int(i) for i in ids[wrong]),
    )
