"""Certified fast attention by the polynomial method (Alman–Song; theory.md §5).

``fast_attention(q, k, v, scale=..., eps=...)`` replaces ``exp`` on the interval ``[-R, R]`` that
the logits ``scale · q·k`` provably occupy (``R = scale · max‖q_i‖ · max‖k_j‖``, Cauchy–Schwarz)
by a polynomial of relative error ``<= eps`` (:func:`reference.efficiency.polyfit.fit_exp`), factorizes it
exactly with the multinomial features (:mod:`reference.efficiency.features`) and computes

    T = diag(φ(Q) ψ(K)ᵀ 1)^{-1} φ(Q) (ψ(K)ᵀ V)

in ``O((n + m) · r · d_v)`` time with ``r = C(d + g, g)``, streaming key blocks into the summary
``ψ(K)ᵀ [V, 1]`` ``(r, d_v + 1)`` and processing query blocks independently (memory
``O(block · r + r · d_v)``). Values are centred per column (``V − c``, ``c`` the mid-range,
added back at the end) and queries/keys balanced by a power of two (exact), so neither the
rounding nor the features depend on an offset of ``V`` or on how the radius splits between
``q`` and ``k``.

The certificate, per output column (docs/efficiency.md, items 4 and 5):

    |T_i − attention_i| <= ε/(1 − ε) · (max V − min V)/2 + rounding,

``ε`` the fit's certified relative error; ``rounding`` bounds every float64 rounding of the
computed path (features, ``ψ(K)ᵀV``, the rank-``r`` sums, the division) in Higham's standard
model (:func:`rounding_bound`). Not covered: gradual underflow (subnormal intermediates) in the
feature products, where the standard model does not hold (``FastAttentionResult.not_covered``).

It never returns an uncertified answer. Every refusal of the polynomial method — inputs whose
radius exceeds a declared ``R`` or the largest radius a float64 fit can certify, a fit that
cannot be certified, features that would overflow, a rank above ``max_rank``, a rounding term
above ``eps``, or a cost model predicting exact attention is cheaper — raises
:class:`FastAttentionRefused`; with ``fallback="auto"`` exact attention is computed instead and
the result says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reference._validation import (
    MAX_RANK,
    NumericalOverflow,
    as_array,
    check_qkv,
    open_unit_interval,
    positive_float,
    positive_int,
    real_float,
)
from reference.efficiency.features import FeatureMap, rank
from reference.efficiency.polyfit import (
    UNIT_ROUNDOFF,
    ExpFit,
    FastAttentionRefused,
    check_method,
    fit_exp,
    largest_certifiable_radius,
)
from reference.model.attention import attention, resolve_scale

#: The public API (the cost, radius, summary and rounding helpers are steps of plan and
#: fast_attention, called with checked arguments).
__all__ = [
    "FastAttentionResult",
    "certified_output_bound",
    "fast_attention",
    "plan",
]

FALLBACKS = ("refuse", "auto")
DEFAULT_MAX_RANK = 1 << 17
FEATURE_BLOCK_ELEMENTS = 1 << 20  # features held at once per block: r * rows <= this ...
MIN_BLOCK_ROWS = 32  # ... unless the rank is so large that fewer rows would fit

# Cost model in abstract operation counts (mirrored symbolically in verify.claims.efficiency.bounds).
EXP_COST = 20.0  # one exp and the softmax bookkeeping per logit, in multiply-add units
NOT_COVERED = (
    "gradual underflow: the rounding bound uses the float64 standard model, which does not hold "
    "for subnormal intermediates in the feature products"
)


def exact_cost(n: int, m: int, d: int, dv: int) -> float:
    """Operation count of exact attention: ``n·m·(2d + 2d_v + EXP_COST)``.

    >>> from reference.efficiency.polynomial import exact_cost
    >>> exact_cost(2, 3, 1, 1)
    144.0
    """
    return float(n) * m * (2 * d + 2 * dv + EXP_COST)


def polynomial_cost(n: int, m: int, r: int, dv: int) -> float:
    """Operation count of the polynomial method: ``(n + m)·r·(2(d_v + 1) + 2)``.

    >>> from reference.efficiency.polynomial import polynomial_cost
    >>> polynomial_cost(2, 3, 1, 1)
    30.0
    """
    return float(n + m) * r * (2 * (dv + 1) + 2)


def max_row_norm(a: np.ndarray) -> float:
    """``max_i ‖a_i‖`` over the rows of ``a (n, k)`` (0 for no rows), without overflow for
    entries near the float64 maximum (rows are scaled by the largest entry first).

    >>> import numpy as np
    >>> from reference.efficiency.polynomial import max_row_norm
    >>> max_row_norm(np.array([[3.0, 4.0], [1.0, 0.0]]))
    5.0
    >>> max_row_norm(np.array([[3e300, 4e300]]))
    5e+300
    """
    if a.size == 0:
        return 0.0
    top = float(np.max(np.abs(a)))
    if top == 0.0:
        return 0.0
    b = a / top  # (n, k), entries in [-1, 1]
    return top * float(np.sqrt(np.max(np.einsum("ij,ij->i", b, b))))


def guaranteed_radius(q: np.ndarray, k: np.ndarray, scale: float) -> float:
    """``scale · max_i ‖q_i‖ · max_j ‖k_j‖ >= max |scale · q_i·k_j|`` (Cauchy–Schwarz).

    >>> import numpy as np
    >>> from reference.efficiency.polynomial import guaranteed_radius
    >>> guaranteed_radius(np.array([[3.0, 4.0]]), np.array([[1.0, 0.0]]), 0.5)
    2.5
    """
    return scale * max_row_norm(q) * max_row_norm(k)


def resolve_radius(needed: float, declared: float | None, *, name: str = "R") -> float:
    """The fit radius: ``needed`` rounded up when nothing is declared; else the declared value,
    refused (never extrapolated) when the inputs need more.

    >>> from reference.efficiency.polynomial import resolve_radius
    >>> resolve_radius(0.99, 1.0)
    1.0
    >>> resolve_radius(1.5, 1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reference.efficiency.polyfit.FastAttentionRefused: R: inputs need a logit radius ... = 1.5, above ...
    """
    if declared is None:
        return round_up_radius(needed)
    radius = positive_float(name, declared)
    if needed > radius:
        raise FastAttentionRefused(
            f"{name}: inputs need a logit radius scale·max‖q‖·max‖k‖ = {needed:.6g}, above the "
            f"declared {name} = {radius:.6g}; refusing to extrapolate the polynomial"
        )
    return radius


def certifiable_radius(needed: float, declared: float | None, eps: float, name: str = "R") -> float:
    """:func:`resolve_radius`, after refusing (:class:`FastAttentionRefused`) inputs whose
    radius exceeds the largest a float64 fit can certify at ``eps``
    (:func:`reference.efficiency.polyfit.largest_certifiable_radius`).

    >>> from reference.efficiency.polynomial import certifiable_radius
    >>> certifiable_radius(30.0, None, 1e-3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reference.efficiency.polyfit.FastAttentionRefused: R: inputs need a logit radius ... = 30, above 14.5684...
    """
    limit = largest_certifiable_radius(eps)
    if needed > limit:
        raise FastAttentionRefused(
            f"{name}: inputs need a logit radius scale·max‖q‖·max‖k‖ = {needed:.6g}, above "
            f"{limit:.6g}, the largest radius a float64 fit can certify at eps = {eps:.3g}"
        )
    return resolve_radius(needed, declared, name=name)


def round_up_radius(radius: float, digits: int = 3) -> float:
    """``radius`` rounded up to ``digits`` significant digits (so fits are reused from the
    cache), at least ``2^-20``.

    >>> from reference.efficiency.polynomial import round_up_radius
    >>> round_up_radius(1.0000000000000007)
    1.01
    >>> round_up_radius(1.797e308)  # no rounding up beyond the float64 range
    1.797e+308
    """
    radius = max(positive_float("radius", radius, allow_zero=True), 2.0**-20)
    shift = digits - 1 - math.floor(math.log10(radius))
    unit = 10.0 ** abs(shift)  # finite: |shift| <= 330
    rounded = math.ceil(radius * unit) / unit if shift >= 0 else math.ceil(radius / unit) * unit
    if not math.isfinite(rounded):
        return radius
    return rounded if rounded >= radius else math.nextafter(rounded, math.inf)


def block_rows(r: int) -> int:
    """Rows per block: ``FEATURE_BLOCK_ELEMENTS // r``, at least ``MIN_BLOCK_ROWS``."""
    return max(MIN_BLOCK_ROWS, FEATURE_BLOCK_ELEMENTS // r)


def key_summary(features: FeatureMap, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``ψ(K)ᵀ [V, 1]`` ``(r, d_v + 1)``, streaming key blocks (the ψ weights are applied once
    to the ``(r, d_v + 1)`` sum, not to every block).

    >>> import numpy as np
    >>> from reference.efficiency.features import FeatureMap
    >>> from reference.efficiency.polynomial import key_summary
    >>> fm = FeatureMap.build(np.array([1.0, 1.0]), dim=1, scale=1.0)
    >>> key_summary(fm, np.array([[2.0]]), np.array([[3.0]])).tolist()
    [[3.0, 1.0], [6.0, 2.0]]
    """
    m, dv = v.shape
    summary = np.zeros((features.rank, dv + 1))  # (r, dv+1)
    v1 = np.empty((min(m, block_rows(features.rank)), dv + 1))  # (b, dv+1) = [V_b, 1]
    v1[:, dv] = 1.0
    step = max(1, v1.shape[0])
    for start in range(0, m, step):
        stop = min(m, start + step)
        v1[: stop - start, :dv] = v[start:stop]
        summary += features.raw(k[start:stop], "k") @ v1[: stop - start]  # (r, dv+1)
    summary *= features.psi_weights[:, None]
    if not np.all(np.isfinite(summary)):
        raise FastAttentionRefused(
            "k: the key summary ψ(K)ᵀ[V, 1] overflows float64 (too many or too large keys or "
            f"values for the degree-{features.table.degree} features)"
        )
    return summary


def apply_summary(features: FeatureMap, q: np.ndarray, summary: np.ndarray) -> np.ndarray:
    """Rows ``φ(q_i)ᵀ summary / φ(q_i)ᵀ summary[:, -1]`` ``(n, d_v)``; asserts positive
    denominators (a relative error below 1 keeps every weight positive)."""
    n, dv = q.shape[0], summary.shape[1] - 1
    weighted = summary * features.phi_weights[:, None]  # (r, dv+1): φ = w_φ ∘ raw
    out = np.empty((n, dv))  # (n, dv)
    step = block_rows(features.rank)
    for start in range(0, n, step):
        stop = min(n, start + step)
        num = features.raw(q[start:stop], "q").T @ weighted  # (b, dv+1)
        den = num[:, dv]  # (b,)
        if not np.all(den > 0):
            raise FloatingPointError(
                "fast attention: non-positive denominator; the polynomial was evaluated "
                "outside its certified interval or the fit is broken"
            )
        out[start:stop] = num[:, :dv] / den[:, None]
    return out


@dataclass(frozen=True)
class FastAttentionResult:
    """Output of :func:`fast_attention` and everything needed to trust it.

    ``column_bounds`` ``(..., d_v)`` bounds ``|output − attention(q, k, v)|`` per output column
    (and batch entry): ``approximation`` ``ε/(1 − ε)·(max V − min V)/2`` plus ``rounding`` of the
    computed path; ``certified_bound`` is their maximum (a bound on ``‖·‖_max``), 0 when the
    exact method was used. ``not_covered`` says what the certificate does not cover.
    ``predicted_speedup`` is exact cost / polynomial cost from the cost model; ``degree`` is
    ``None`` (and ``rank`` 0) when no fit could be certified.
    """

    output: np.ndarray  # (..., n, dv)
    method: str  # "polynomial" or "exact"
    degree: int | None
    rank: int
    radius: float
    eps: float
    certified_relative_error: float
    certified_bound: float
    predicted_speedup: float
    fit_method: str
    reason: str = ""
    column_bounds: np.ndarray | None = None  # (..., dv)
    approximation_bound: float = 0.0  # max over columns of ε/(1−ε)·(max V − min V)/2
    rounding_bound: float = 0.0  # max over columns of the rounding term
    not_covered: str = ""


def certified_output_bound(relative_error: float, v_spread: float | np.ndarray) -> np.ndarray:
    """``ε/(1 − ε) · (max V − min V)/2`` for a column whose values span ``v_spread``.

    >>> from reference.efficiency.polynomial import certified_output_bound
    >>> float(certified_output_bound(0.5, 2.0))
    1.0
    """
    relative_error = open_unit_interval("relative_error", relative_error)
    if isinstance(v_spread, (np.ndarray, list, tuple)):
        spread = as_array("v_spread", v_spread, ndim=range(MAX_RANK + 1)).astype(np.float64)
    else:
        spread = np.float64(real_float("v_spread", v_spread))
    if spread.size and not (np.all(np.isfinite(spread)) and np.min(spread) >= 0):
        raise ValueError("v_spread: expected finite spreads >= 0 (max V − min V)")
    with np.errstate(over="ignore"):
        bound = relative_error / (1.0 - relative_error) * np.asarray(spread) / 2.0
    if not np.all(np.isfinite(bound)):
        raise NumericalOverflow(
            f"relative_error, v_spread: the bound overflows the float range "
            f"(relative_error = {relative_error}, max v_spread = {np.max(spread)})"
        )
    return bound


def rounding_count(degree: int, keys: int, rank_: int) -> int:
    """Roundings on the longest path of one numerator entry: ``6g + m + r + 10``.

    >>> from reference.efficiency.polynomial import rounding_count
    >>> rounding_count(4, 100, 35)
    169
    """
    return 6 * degree + keys + rank_ + 10


def rounding_relative(fit: ExpFit, keys: int, rank_: int) -> float:
    """``γ_N · Σ_j |c_j| R^j · e^R / (1 − ε)``: the float64 rounding of the numerators and
    denominators of the computed path relative to the exact denominator (inf when ``N u >= 1``).

    >>> from reference.efficiency.polyfit import fit_exp
    >>> from reference.efficiency.polynomial import rounding_relative
    >>> rounding_relative(fit_exp(1.0, 1e-3), 100, 35) < 1e-12
    True
    """
    n_round = rounding_count(fit.degree, keys, rank_)
    if n_round * UNIT_ROUNDOFF >= 1.0:
        return math.inf
    gamma_n = n_round * UNIT_ROUNDOFF / (1.0 - n_round * UNIT_ROUNDOFF)
    abs_poly = math.fsum(abs(c) * fit.radius**j for j, c in enumerate(fit.coefficients))
    return gamma_n * abs_poly * math.exp(fit.radius) / (1.0 - fit.certified_error)


def rounding_bound(relative: float, half_width: np.ndarray, center: np.ndarray) -> np.ndarray:
    """The float64 rounding of the computed output per column ``(d_v,)`` (docs/efficiency.md,
    item 5): ``E1 = 2ηh/(1 − η)`` (numerator and denominator), ``E2 = u(h + E1)`` (the
    division), ``E3 = u(|c| + h + E1 + E2)`` (adding the centre back); ``η`` from
    :func:`rounding_relative`, ``h = max |v − c|``.

    >>> import numpy as np
    >>> from reference.efficiency.polyfit import UNIT_ROUNDOFF
    >>> from reference.efficiency.polynomial import rounding_bound
    >>> float(rounding_bound(0.0, np.array([1.0]), np.array([0.0]))[0]) == 2 * UNIT_ROUNDOFF
    True
    """
    u = UNIT_ROUNDOFF
    if not relative < 1.0:
        return np.full(np.shape(half_width), np.inf)
    e1 = 2.0 * relative * half_width / (1.0 - relative)
    e2 = u * (half_width + e1)
    e3 = u * (np.abs(center) + half_width + e1 + e2)
    return e1 + e2 + e3


def centred_values(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``v − c`` with ``c`` the per-column mid-range, ``c (d_v,)``, the spread
    ``max − min (d_v,)`` and ``h = max |v − c|`` ``(d_v,)`` (rounded up by ``2u``).

    >>> import numpy as np
    >>> from reference.efficiency.polynomial import centred_values
    >>> shifted, center, spread, half = centred_values(np.array([[1.0], [3.0]]))
    >>> shifted.ravel().tolist(), center.tolist(), bool(spread[0] >= 2.0 and half[0] >= 1.0)
    ([-1.0, 1.0], [2.0], True)
    """
    top, low = v.max(axis=0, initial=0.0), v.min(axis=0, initial=0.0)  # (dv,)
    if v.shape[0]:  # otherwise 0: the range [min, max] is widened to hold 0 (conservative)
        top, low = v.max(axis=0), v.min(axis=0)
    center = top / 2 + low / 2  # (dv,), no overflow
    shifted = v - center  # (m, dv)
    spread = (top - low) * (1 + 2 * UNIT_ROUNDOFF)  # (dv,)
    half = np.max(np.abs(shifted), axis=0, initial=0.0) * (1 + 2 * UNIT_ROUNDOFF)  # (dv,)
    return shifted, center, spread, half


def plan(
    n: int,
    m: int,
    d: int,
    dv: int,
    *,
    radius: float,
    eps: float,
    fit_method: str = "minimax",
) -> tuple[ExpFit, int, float]:
    """The fit, the rank and the predicted speedup (exact cost / polynomial cost).

    >>> from reference.efficiency.polynomial import plan
    >>> fit, r, speedup = plan(1 << 16, 1 << 16, 8, 8, radius=1.0, eps=1e-3)
    >>> (fit.degree, r, speedup > 30)
    (4, 495, True)
    """
    n, m = positive_int("n", n), positive_int("m", m)
    d, dv = positive_int("d", d), positive_int("dv", dv)
    fit = fit_exp(radius, eps, check_method(fit_method, "fit_method"))
    r = rank(d, fit.degree)
    return fit, r, exact_cost(n, m, d, dv) / polynomial_cost(n, m, r, dv)


def balance(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``q·2^a, k·2^-a`` with ``max‖q‖ ≈ max‖k‖`` (exact: a power of two), so the features of
    neither side overflow while the logits are unchanged.

    >>> import numpy as np
    >>> from reference.efficiency.polynomial import balance
    >>> qb, kb = balance(np.array([[1e-8]]), np.array([[1e8]]))
    >>> bool(0.5 <= qb[0, 0] / kb[0, 0] <= 2), float(qb[0, 0] * kb[0, 0])
    (True, 1.0)
    """
    qn, kn = max_row_norm(q), max_row_norm(k)
    if qn == 0.0 or kn == 0.0:
        return q, k
    a = round(0.5 * (math.log2(kn) - math.log2(qn)))
    return np.ldexp(q, a), np.ldexp(k, -a)


def _check_batch(q: object, k: object, v: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``q (..., n, d)``, ``k (..., m, d)``, ``v (..., m, d_v)`` with equal leading dimensions,
    reshaped to ``(B, ·, ·)``; each batch entry checked by :func:`check_qkv`."""
    ranks = tuple(range(2, 33))
    q, k, v = (as_array(name, a, ndim=ranks) for name, a in (("q", q), ("k", k), ("v", v)))
    lead = q.shape[:-2]
    for name, a in (("k", k), ("v", v)):
        if a.shape[:-2] != lead:
            raise ValueError(
                f"{name}: expected the leading (batch) dimensions of q {lead}, got shape {a.shape}"
            )
    if q.ndim == 2:
        return tuple(a[None] for a in check_qkv(q, k, v))  # type: ignore[return-value]
    batch = math.prod(lead)
    if batch == 0:
        raise ValueError(f"q: expected non-empty batch dimensions, got shape {q.shape}")
    qb, kb, vb = (a.reshape((batch, *a.shape[-2:])) for a in (q, k, v))
    for b in range(batch):
        check_qkv(qb[b], kb[b], vb[b])
    return qb, kb, vb


def attend_with_fit(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    fit: ExpFit,
    scale: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One ``(n, d), (m, d), (m, d_v)`` attention by the polynomial of ``fit`` (no refusal
    checks; :func:`fast_attention` makes them): the output ``(n, d_v)``, the approximation and
    rounding bounds ``(d_v,)`` and the relative rounding ``η`` of :func:`rounding_relative`.

    >>> import numpy as np
    >>> from reference.efficiency.polyfit import fit_exp
    >>> from reference.efficiency.polynomial import attend_with_fit
    >>> out, approx, rounding, eta = attend_with_fit(
    ...     np.ones((2, 1)), np.ones((3, 1)), np.arange(3.0)[:, None], fit_exp(1.0, 1e-3), 1.0)
    >>> out.ravel().tolist(), bool(approx[0] < 1.1e-3 and rounding[0] < 1e-12)
    ([1.0, 1.0], True)
    """
    features = FeatureMap.build(fit.coeffs, dim=q.shape[1], scale=scale)
    qb, kb = balance(q, k)
    shifted, center, spread, half = centred_values(v)
    summary = key_summary(features, kb, shifted)  # (r, dv+1)
    out = apply_summary(features, qb, summary) + center  # (n, dv)
    approx = certified_output_bound(fit.certified_error, spread)  # (dv,)
    relative = rounding_relative(fit, k.shape[0], features.rank)
    return out, approx, rounding_bound(relative, half, center), relative


def fast_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    *,
    scale: float | str,
    eps: float,
    R: float | None = None,
    max_rank: int = DEFAULT_MAX_RANK,
    fallback: str = "refuse",
    allow_slower: bool = False,
    fit_method: str = "minimax",
) -> FastAttentionResult:
    """Attention ``softmax(scale · q kᵀ) v`` by the certified polynomial method.

    Inputs are ``(n, d)``, ``(m, d)``, ``(m, d_v)`` or carry the same leading batch/head
    dimensions ``(..., n, d)``; one fit (for the largest radius over the batch) serves all, and
    ``column_bounds`` is ``(..., d_v)``. ``R`` declares the logit radius; inputs with
    ``scale·max‖q‖·max‖k‖ > R`` are refused (never extrapolated). Without ``R`` the guaranteed
    radius of the inputs is used. Every refusal (module docstring) raises
    :class:`FastAttentionRefused` with ``fallback="refuse"``; ``fallback="auto"`` computes exact
    attention instead (``method="exact"``, with the reason). ``d = 0`` (every logit 0) is
    computed exactly. Computation is in float64.

    >>> import numpy as np
    >>> from reference.efficiency.polynomial import fast_attention
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.random((64, 2)), rng.random((64, 2)), rng.random((64, 3))
    >>> res = fast_attention(q, k, v, scale=0.5, eps=1e-3, allow_slower=True)
    >>> from reference import attention
    >>> exact = attention(q, k, v, scale=0.5)
    >>> bool(np.all(np.abs(res.output - exact).max(axis=0) <= res.column_bounds))
    True
    >>> batch = fast_attention(rng.random((2, 3, 64, 2)), rng.random((2, 3, 64, 2)),
    ...                        rng.random((2, 3, 64, 1)), scale=0.5, eps=1e-3, allow_slower=True)
    >>> batch.output.shape, batch.column_bounds.shape
    ((2, 3, 64, 1), (2, 3, 1))
    """
    qb, kb, vb = _check_batch(q, k, v)
    lead = np.shape(q)[:-2] if isinstance(q, np.ndarray) else np.asarray(q).shape[:-2]
    _, n, d = qb.shape
    m, dv = vb.shape[1:]
    eps = open_unit_interval("eps", eps)
    max_rank = positive_int("max_rank", max_rank)
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback: expected one of {FALLBACKS}, got {fallback!r}")
    fit_method = check_method(fit_method, "fit_method")
    scale = resolve_scale(scale, d) if d else resolve_scale(scale, 1)
    q64, k64, v64 = (np.asarray(a, dtype=np.float64) for a in (qb, kb, vb))
    info: dict = {"degree": None, "rank": 0, "radius": 0.0, "eps": eps}
    info |= {"predicted_speedup": 0.0, "fit_method": fit_method}

    def exact(reason: str) -> FastAttentionResult:
        triples = zip(q64, k64, v64, strict=True)
        out = np.stack([attention(a, b, c, scale=scale) for a, b, c in triples])  # (B, n, dv)
        zeros = np.zeros((*lead, dv))
        return FastAttentionResult(
            out.reshape((*lead, n, dv)),
            "exact",
            certified_relative_error=0.0,
            certified_bound=0.0,
            reason=reason,
            column_bounds=zeros,
            **info,
        )

    if d == 0:
        return exact("d = 0: every logit is 0, attention is the mean of V (computed exactly)")
    try:
        pairs = zip(q64, k64, strict=True)
        needed = max((guaranteed_radius(a, b, scale) for a, b in pairs), default=0.0)
        radius = certifiable_radius(needed, R, eps)
        info["radius"] = radius
        fit, r, speedup = plan(n, m, d, dv, radius=radius, eps=eps, fit_method=fit_method)
        info |= {"degree": fit.degree, "rank": r, "predicted_speedup": speedup}
        if r > max_rank:
            raise FastAttentionRefused(
                f"rank C({d}+{fit.degree}, {fit.degree}) = {r} exceeds max_rank = {max_rank}"
            )
        if speedup < 1.0 and not allow_slower:
            raise FastAttentionRefused(
                f"cost model predicts exact attention is cheaper (predicted speedup "
                f"{speedup:.3g} at n={n}, m={m}, rank {r})"
            )
        relative = rounding_relative(fit, m, r)
        if relative > eps:
            raise FastAttentionRefused(
                f"rounding of the computed path (relative {relative:.3g} = γ_N·Σ|c_j|R^j·e^R/"
                f"(1 − ε), N = 6g + m + r + 10) exceeds eps = {eps:.3g}: no certified answer"
            )
        triples = zip(q64, k64, v64, strict=True)
        parts = [attend_with_fit(a, b, c, fit, scale) for a, b, c in triples]
    except FastAttentionRefused as exc:
        if fallback == "refuse":
            raise FastAttentionRefused(f"fast_attention refused: {exc}") from None
        return exact(str(exc))
    out = np.stack([p[0] for p in parts]).reshape((*lead, n, dv))
    approx = np.stack([p[1] for p in parts]).reshape((*lead, dv))
    rounding = np.stack([p[2] for p in parts]).reshape((*lead, dv))
    columns = approx + rounding
    return FastAttentionResult(
        out,
        "polynomial",
        certified_relative_error=fit.certified_error,
        certified_bound=float(columns.max(initial=0.0)),
        column_bounds=columns,
        approximation_bound=float(approx.max(initial=0.0)),
        rounding_bound=float(rounding.max(initial=0.0)),
        not_covered=NOT_COVERED,
        **info,
    )
