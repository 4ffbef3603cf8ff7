"""Exact evaluation of an :class:`~reference.constructions.exact.model.ExactModel`, each
sequence a proof: :func:`evaluate_exact` and its result :class:`ExactOutput`.

The dense backends (``float64``, ``mpmath``) materialise every weight, zeros included, and round
every operation. The exact backend evaluates the exact rational spec
(:func:`~reference.constructions.spec.lookup_spec`) instead, touching only its non-zero weights,
in exact integer arithmetic (fixed point at scale ``2^F``, every operation checked exact). The
only transcendental part, the softmax, is enclosed rigorously:

* the rows of maximal score (the *match set*, ``n`` rows) get weight 1 each after subtracting
  the maximum; every other row has weight ``exp(−g) <= 2^{−⌊g·λ⌋}`` with its exact score gap
  ``g > 0`` and ``λ = LOG2E_LOWER <= log2 e``
  (:data:`~reference.constructions.exact.rationals.LOG2E_LOWER`);
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
of non-zero weights, times the bits of the packed numbers). Here: the attention tables (scores
and values between distinct rows, the certified softmax enclosure), the read-out and the decided
digits; the token-wise layers are :mod:`reference.constructions.exact.model`'s. On a built
:class:`~reference.constructions.construction.Construction`:
:func:`reference.constructions.exact.backend.exact_forward`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from reference.constructions.exact.model import (
    ExactModel,
    IntArray,
    _compiled,
    _input_rows,
    _rows_through,
    _scale_bits,
    _State,
)
from reference.constructions.exact.rationals import (
    LOG2E_LOWER,
    RADIUS_EXTRA_BITS,
    _fixed,
    _mul,
    _weight,
    to_fraction,
)
from reference.constructions.layout import _Spec


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


# ----------------------------------------------------------------------------- attention
def _value_columns(
    entries: dict[tuple[int, int], Fraction], rows: int, cols: int
) -> dict[int, list[tuple[int, int, int]]]:
    """A sparse dyadic matrix ``entries[(i, j)]`` as its non-zero ``(i, numerator, exponent)``
    per column ``j < cols``."""
    out: dict[int, list[tuple[int, int, int]]] = {j: [] for j in range(cols)}
    for (i, j), w in entries.items():
        if w != 0:
            out[j].append((i, *_weight(w)))
    return out


def _project(rows: IntArray, columns: dict[int, list[tuple[int, int, int]]]) -> IntArray:
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


@dataclass
class _AttentionTables:
    """Everything of the attention that depends on distinct rows only (computed once)."""

    s_in: IntArray  # (U, U) scores between distinct input rows, scale 2^{2F}
    pr_max: list[int]  # (U,) best prompt score per query row
    pr_match: list[list[int]]  # prompt rows attaining it
    pr_off: list[int]  # Σ over the other prompt rows of ⌈2^G 2^{−⌊gλ⌋}⌉
    v_in: IntArray  # (U, dv) values of input rows
    v_pr: IntArray  # (Lp, dv) values of prompt rows
    gap_den: int

    @classmethod
    def build(
        cls, spec: _Spec, rows: IntArray, prompt: IntArray, F: int, G: int
    ) -> _AttentionTables:
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

    def attend(
        self, a: int, ins: np.ndarray, F: int, G: int, rel: Fraction
    ) -> tuple[IntArray, int, IntArray]:
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


# ----------------------------------------------------------------------------- read-out
def _readout(state: _State, spec: _Spec, r: int, F: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Output coordinate ``r``: exact centres and radii ``(n,)`` as Fractions."""
    val: int | IntArray = 0
    coeffs: dict[int, Any] = {}
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


# ----------------------------------------------------------------------------- the forward pass
def evaluate_exact(
    model: ExactModel,
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
    >>> from reference.constructions.exact.evaluate import evaluate_exact
    >>> from reference.constructions.exact.model import exact_lookup
    >>> m = exact_lookup(np.array([[[0], [1]], [[1], [0]], [[1], [1]], [[0], [0]]]),
    ...                  d=1, L=2, K=2, Q=2, eta=Fraction(1, 16))
    >>> out = evaluate_exact(m, np.array([[[0.25], [0.75]]]))
    >>> out.digits.ravel().tolist(), out.values.ravel().tolist(), out.undecided.tolist()
    ([1, 0], [Fraction(3, 4), Fraction(1, 4)], [False])
    """
    if not isinstance(model, ExactModel):
        raise TypeError(f"model: expected an ExactModel, got {type(model)}")
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
        jac: list[dict[int, Any]] = [{} for _ in range(D)]
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
