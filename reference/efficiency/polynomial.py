"""Certified fast attention by the polynomial method (Alman–Song; theory.md §5).

``fast_attention(q, k, v, scale=..., eps=...)`` replaces ``exp`` on the interval ``[-R, R]`` that
the logits ``scale · q·k`` provably occupy (``R = scale · max‖q_i‖ · max‖k_j‖``, Cauchy–Schwarz)
by a polynomial of relative error ``<= eps`` (:func:`reference.efficiency.polyfit.fit_exp`),
factorizes it exactly with the multinomial features (:mod:`reference.efficiency.features`) and
computes

    T = diag(φ(Q) ψ(K)ᵀ 1)^{-1} φ(Q) (ψ(K)ᵀ V)

in ``O((n + m) · r · d_v)`` time with ``r = C(d + g, g)``, streaming key blocks into the summary
``ψ(K)ᵀ [V, 1]`` ``(r, d_v + 1)`` and processing query blocks independently (memory
``O(block · r + r · d_v)``). Values are centred per column (``V − c``, ``c`` the mid-range,
added back at the end) and queries/keys balanced by a power of two (exact), so neither the
rounding nor the features depend on an offset of ``V`` or on how the radius splits between
``q`` and ``k``. What lives elsewhere: the radius, fit and cost model (:func:`plan`) in
:mod:`reference.efficiency.planning`, the certificate (approximation and rounding bounds, what
is not covered) in :mod:`reference.efficiency.certificate`.

It never returns an uncertified answer. Every refusal of the polynomial method — inputs whose
radius exceeds a declared ``R`` or the largest radius a float64 fit can certify, a fit that
cannot be certified, features that would overflow, values whose range float64 cannot hold, a
rank above ``max_rank``, a rounding term above ``eps``, or a cost model predicting exact
attention is cheaper — raises :class:`FastAttentionRefused`; with ``fallback="auto"`` exact
attention is computed instead and the result says why.

:func:`fast_attention` checks its arguments once; the blocked computation below it runs on
checked arrays (functions with a leading underscore are called with checked arguments).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference._threads import one_blas_thread_below
from reference._validation import (
    as_array,
    check_qkv_shapes,
    open_unit_interval,
    positive_float,
    positive_int,
)
from reference.efficiency.certificate import (
    NOT_COVERED,
    _certified_output_bound,
    rounding_bound,
    rounding_relative,
    underflow_bound,
    value_range,
)
from reference.efficiency.features import BlockFeatures, FeatureMap, _blocked_passes
from reference.efficiency.planning import (
    _certifiable_radius,
    _plan,
    _scaled_rows,
    balance_exponent,
    max_row_norm,
)
from reference.efficiency.polyfit import ExpFit, FastAttentionRefused, check_method
from reference.model.attention import _attention_unchecked, _resolve_scale

#: The public API (the summary and blocking helpers are steps of fast_attention and the prompt
#: caches, called with checked arguments).
__all__ = ["FastAttentionResult", "fast_attention"]

FALLBACKS = ("refuse", "auto")
DEFAULT_MAX_RANK = 1 << 17
FEATURE_BLOCK_ELEMENTS = 1 << 20  # features held at once per block: r * rows <= this ...
MIN_BLOCK_ROWS = 32  # ... unless the rank is so large that fewer rows would fit
# fast_attention's blocks: r * rows <= this (1.5 MiB of float64: measured fastest here, 5-8 %
# ahead of blocks inside the 1 MiB L2 cache, docs/efficiency.md, Speed); each block's products
# are split so that M·N·K <= SMALL_GEMM_MNK (features.py), where OpenBLAS skips packing.
CACHE_BLOCK_ELEMENTS = 3 << 16

#: ``FeatureMap.raw`` (checks its rows) or ``FeatureMap._raw`` (rows already checked)
RawFeatures = Callable[[np.ndarray, str], np.ndarray]


def block_rows(r: int) -> int:
    """Rows per block: ``FEATURE_BLOCK_ELEMENTS // r``, at least ``MIN_BLOCK_ROWS``."""
    return max(MIN_BLOCK_ROWS, FEATURE_BLOCK_ELEMENTS // r)


def cache_block_rows(r: int) -> int:
    """Rows per block of :func:`fast_attention`: ``CACHE_BLOCK_ELEMENTS // r``, at least
    ``MIN_BLOCK_ROWS``.

    >>> from reference.efficiency.polynomial import cache_block_rows
    >>> cache_block_rows(495)
    397
    """
    return max(MIN_BLOCK_ROWS, CACHE_BLOCK_ELEMENTS // r)


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
    return _key_summary(features, k, v, features.raw)


def _key_summary(
    features: FeatureMap, k: np.ndarray, v: np.ndarray, raw: RawFeatures
) -> np.ndarray:
    """:func:`key_summary` with the key features from ``raw``: ``features.raw`` checks the key
    rows, ``features._raw`` is for rows already checked (called with checked arguments)."""
    m, dv = v.shape
    summary = np.zeros((features.rank, dv + 1))  # (r, dv+1)
    v1 = np.empty((min(m, block_rows(features.rank)), dv + 1))  # (b, dv+1) = [V_b, 1]
    v1[:, dv] = 1.0
    step = max(1, v1.shape[0])
    for start in range(0, m, step):
        stop = min(m, start + step)
        v1[: stop - start, :dv] = v[start:stop]
        summary += raw(k[start:stop], "k") @ v1[: stop - start]  # (r, dv+1)
    summary *= features.psi_weights[:, None]
    if not np.all(np.isfinite(summary)):
        raise FastAttentionRefused(
            "k: the key summary ψ(K)ᵀ[V, 1] overflows float64 (too many or too large keys or "
            f"values for the degree-{features.table.degree} features)"
        )
    return summary


def apply_summary(features: FeatureMap, q: np.ndarray, summary: np.ndarray) -> np.ndarray:
    """Rows ``φ(q_i)ᵀ summary / φ(q_i)ᵀ summary[:, -1]`` ``(n, d_v)``; asserts positive
    denominators (a relative error below 1 keeps every weight positive).

    >>> import numpy as np
    >>> from reference.efficiency.features import FeatureMap
    >>> from reference.efficiency.polynomial import apply_summary
    >>> fm = FeatureMap.build(np.array([1.0, 1.0]), dim=1, scale=1.0)
    >>> apply_summary(fm, np.array([[0.5]]), np.array([[3.0, 1.0], [6.0, 2.0]])).tolist()
    [[3.0]]
    """
    return _apply_summary(features, q, summary, features.raw)


def _apply_summary(
    features: FeatureMap, q: np.ndarray, summary: np.ndarray, raw: RawFeatures
) -> np.ndarray:
    """:func:`apply_summary` with the query features from ``raw`` (as in :func:`_key_summary`)."""
    n, dv = q.shape[0], summary.shape[1] - 1
    weighted = summary * features.phi_weights[:, None]  # (r, dv+1): φ = w_φ ∘ raw
    out = np.empty((n, dv))  # (n, dv)
    step = block_rows(features.rank)
    for start in range(0, n, step):
        stop = min(n, start + step)
        num = raw(q[start:stop], "q").T @ weighted  # (b, dv+1)
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
    (and batch entry): ``approximation`` ``(max V − min V)·ε/(1 + √(1 − ε²))`` plus
    ``rounding`` of the computed path (gradual underflow included); ``certified_bound`` is
    their maximum (a bound on ``‖·‖_max``), 0 when the exact method was used.
    ``not_covered`` says what the certificate does not cover. ``predicted_speedup`` is exact
    cost / polynomial cost from the cost model; ``degree`` is ``None`` (and ``rank`` 0) when no
    fit could be certified.
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
    approximation_bound: float = 0.0  # max over columns of (max V − min V)·ε/(1 + √(1 − ε²))
    rounding_bound: float = 0.0  # max over columns of the rounding term
    not_covered: str = ""


def _check_batch(
    q: object, k: object, v: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """``q (..., n, d)``, ``k (..., m, d)``, ``v (..., m, d_v)`` with equal leading dimensions,
    reshaped to ``(B, ·, ·)``, and the leading dimensions: each array checked once
    (:func:`reference._validation.as_array`), the shapes of a batch entry as
    :func:`reference._validation.check_qkv` checks them (every entry has the same shape)."""
    ranks = tuple(range(2, 33))
    q, k, v = (as_array(name, a, ndim=ranks) for name, a in (("q", q), ("k", k), ("v", v)))
    lead = q.shape[:-2]
    for name, a in (("k", k), ("v", v)):
        if a.shape[:-2] != lead:
            raise ValueError(
                f"{name}: expected the leading (batch) dimensions of q {lead}, got shape {a.shape}"
            )
    if q.ndim == 2:
        check_qkv_shapes(q, k, v)
        return q[None], k[None], v[None], lead
    batch = math.prod(lead)
    if batch == 0:
        raise ValueError(f"q: expected non-empty batch dimensions, got shape {q.shape}")
    qb, kb, vb = (a.reshape((batch, *a.shape[-2:])) for a in (q, k, v))
    check_qkv_shapes(qb[0], kb[0], vb[0])
    return qb, kb, vb, lead


def attend_with_fit(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    fit: ExpFit,
    scale: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One ``(n, d), (m, d), (m, d_v)`` attention by the polynomial of ``fit`` (no refusal
    checks; :func:`fast_attention` makes them): the output ``(n, d_v)``, the approximation and
    rounding bounds ``(d_v,)`` and the relative rounding ``η`` of
    :func:`reference.efficiency.certificate.rounding_relative`. Checks ``q``, ``k`` and ``scale``
    on the way (as :class:`reference.efficiency.features.FeatureMap` does).

    >>> import numpy as np
    >>> from reference.efficiency.polyfit import fit_exp
    >>> from reference.efficiency.polynomial import attend_with_fit
    >>> out, approx, rounding, eta = attend_with_fit(
    ...     np.ones((2, 1)), np.ones((3, 1)), np.arange(3.0)[:, None], fit_exp(1.0, 1e-3), 1.0)
    >>> out.ravel().tolist(), bool(approx[0] < 1.1e-3 and rounding[0] < 1e-12)
    ([1.0, 1.0], True)
    """
    features = FeatureMap.build(fit.coeffs, dim=q.shape[1], scale=scale)
    q, k = features._check("q", q), features._check("k", k)
    return _attend(features, q, k, v, fit)


def _attend_with_fit(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    fit: ExpFit,
    scale: float,
    norms: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """:func:`attend_with_fit`, called with checked arguments (``d >= 1``, ``scale > 0``)."""
    features = FeatureMap._build(fit.coeffs, dim=q.shape[1], scale=scale)
    return _attend(features, q, k, v, fit, norms=norms)


def _attend(
    features: FeatureMap,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    fit: ExpFit,
    rows: int | None = None,
    norms: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The work of :func:`attend_with_fit` on checked rows with the features of ``fit`` built,
    in blocks of ``rows`` rows (default :func:`cache_block_rows`); ``norms`` are
    ``max‖q_i‖, max‖k_j‖`` when the caller has them."""
    center, spread, half = value_range(v)  # (dv,) each
    out, log2_q, log2_k = _blocked_attention(features, q, k, v, center, rows, norms)  # (n, dv)
    approx = _certified_output_bound(fit.certified_error, spread)  # (dv,)
    relative = rounding_relative(fit, k.shape[0], features.rank)
    underflow = underflow_bound(
        relative=relative,
        fit=fit,
        keys=k.shape[0],
        rank_=features.rank,
        phi_weight_max=float(features.phi_weights.max()),
        log2_query_features=log2_q,
        log2_key_features=log2_k,
        half_width=half,
    )
    if not np.all(np.isfinite(underflow)):
        raise FastAttentionRefused(
            f"q, k: the gradual-underflow allowance overflows (feature bounds 2^{log2_q:.4g}, "
            f"2^{log2_k:.4g}): no certified answer"
        )
    return out, approx, rounding_bound(relative, half, center) + underflow, relative


def blocked_attention(
    features: FeatureMap,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    center: np.ndarray,
    rows: int | None = None,
    norms: tuple[float, float] | None = None,
) -> np.ndarray:
    """``diag(φ(Q)ψ(K)ᵀ1)^{-1} φ(Q)ψ(K)ᵀ(V − c) + c`` ``(n, d_v)`` in row blocks: the key
    summary ``ψ(K)ᵀ[V − c, 1]`` ``(r, d_v + 1)`` streams key blocks, each query block is
    applied to it; the features of one block ``(r, rows)`` are all that is held (memory
    ``O(rows·r + r·d_v)`` beyond the inputs and the output). Queries and keys are balanced by
    a power of two (:func:`reference.efficiency.planning.balance`, folded into the scale
    factor). Refuses
    (:class:`FastAttentionRefused`, naming ``q`` or ``k``) features, summaries or numerators
    that could overflow, before computing them. Called with checked rows (finite, ``d``
    columns); ``center`` ``(d_v,)`` is subtracted from ``v`` and added back; ``norms`` are
    ``max‖q_i‖, max‖k_j‖`` (computed when ``None``).

    >>> import numpy as np
    >>> from reference.efficiency.features import FeatureMap
    >>> from reference.efficiency.polynomial import blocked_attention
    >>> fm = FeatureMap.build(np.array([1.0, 1.0]), dim=1, scale=1.0)
    >>> q, k, v = np.array([[0.5], [0.0]]), np.array([[2.0], [1.0]]), np.array([[3.0], [1.0]])
    >>> out = blocked_attention(fm, q, k, v, np.array([2.0]), rows=1)
    >>> [round(x, 12) for x in out.ravel().tolist()]  # weights 1 + q·k: (2, 1.5) and (1, 1)
    [2.142857142857, 2.0]
    """
    return _blocked_attention(features, q, k, v, center, rows, norms)[0]


def _blocked_attention(
    features: FeatureMap,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    center: np.ndarray,
    rows: int | None,
    norms: tuple[float, float] | None,
) -> tuple[np.ndarray, float, float]:
    """:func:`blocked_attention` and ``log2`` of the bounds on every query and key feature
    (for :func:`reference.efficiency.certificate.underflow_bound`)."""
    table = features.table
    rows = cache_block_rows(table.rank) if rows is None else rows
    root_scale = math.sqrt(features.scale)
    a = balance_exponent(*(norms or (max_row_norm(q), max_row_norm(k))))
    qs, q_factor = _scaled_rows(q, root_scale, a)
    ks, k_factor = _scaled_rows(k, root_scale, -a)
    blocks = BlockFeatures(table, rows)
    # each block's product is small (2·r·rows·(d_v+1) FLOPs): one BLAS thread (measured:
    # docs/efficiency.md, Speed), the pool restored afterwards
    with one_blas_thread_below(2.0 * table.rank * rows * (v.shape[1] + 1)):
        return _blocked_passes(features, blocks, qs, ks, v, center, (q_factor, k_factor))


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
    qb, kb, vb, lead = _check_batch(q, k, v)
    _, n, d = qb.shape
    m, dv = vb.shape[1:]
    eps = open_unit_interval("eps", eps)
    max_rank = positive_int("max_rank", max_rank)
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback: expected one of {FALLBACKS}, got {fallback!r}")
    fit_method = check_method(fit_method, "fit_method")
    scale = _resolve_scale(scale, d) if d else _resolve_scale(scale, 1)
    if R is not None:  # checked whatever happens next (d = 0, a refusal with fallback="auto")
        R = positive_float("R", R)
    q64, k64, v64 = (np.asarray(a, dtype=np.float64) for a in (qb, kb, vb))
    info: dict = {"degree": None, "rank": 0, "radius": 0.0, "eps": eps}
    info |= {"predicted_speedup": 0.0, "fit_method": fit_method}

    def exact(reason: str) -> FastAttentionResult:
        triples = zip(q64, k64, v64, strict=True)
        out = np.stack([_attention_unchecked(a, b, c, scale) for a, b, c in triples])  # (B, n, dv)
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
        norms = [(max_row_norm(a), max_row_norm(b)) for a, b in zip(q64, k64, strict=True)]
        needed = max(scale * qn * kn for qn, kn in norms)  # guaranteed_radius of each entry
        radius = _certifiable_radius(needed, R, eps, "R")
        info["radius"] = radius
        if n == 0 or dv == 0:  # (m >= 1 and d >= 1 hold already)
            name, what, shape = (
                ("q", "query row", (n, d)) if n == 0 else ("v", "value column", (m, dv))
            )
            raise ValueError(f"{name}: expected at least one {what}, got shape {(*lead, *shape)}")
        fit, r, speedup = _plan(n, m, d, dv, radius, eps, fit_method)
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
        entries = zip(q64, k64, v64, norms, strict=True)
        parts = [_attend_with_fit(a, b, c, fit, scale, nm) for a, b, c, nm in entries]
    except FastAttentionRefused as exc:
        if fallback == "refuse":
            raise FastAttentionRefused(f"fast_attention refused: {exc}") from None
        return exact(str(exc))
    out = parts[0][0] if len(parts) == 1 else np.stack([p[0] for p in parts])  # (B, n, dv)
    out = out.reshape((*lead, n, dv))
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
