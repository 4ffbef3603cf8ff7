"""Certified fast attention by the polynomial method (Alman–Song; theory.md §5).

``fast_attention(q, k, v, scale=..., eps=...)`` replaces ``exp`` on the interval ``[-R, R]`` that
the logits ``scale · q·k`` provably occupy (``R = scale · max‖q_i‖ · max‖k_j‖``, Cauchy–Schwarz)
by a polynomial of relative error ``<= eps`` (:func:`reference.polyfit.fit_exp`), factorizes it
exactly with the multinomial features (:mod:`reference.features`) and computes

    T = diag(φ(Q) ψ(K)ᵀ 1)^{-1} φ(Q) (ψ(K)ᵀ V)

in ``O((n + m) · r · d_v)`` time with ``r = C(d + g, g)``, streaming key blocks into the summary
``ψ(K)ᵀ [V, 1]`` ``(r, d_v + 1)`` and processing query blocks independently (memory
``O(block · r + r · d_v)``). The result satisfies ``‖T − attention‖_max <= 2ε/(1 − ε) · ‖V‖_max``
with ``ε`` the fit's certified relative error (every output row is a ratio of weighted sums whose
weights all carry a relative error in ``[−ε, ε]``).

It never returns an uncertified answer: inputs whose norms exceed a declared ``R`` are refused,
and when the rank exceeds ``max_rank`` or the cost model predicts exact attention is cheaper it
raises :class:`FastAttentionRefused`, or (``fallback="auto"``) computes exact attention and says
so in the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reference._validation import (
    check_qkv,
    open_unit_interval,
    positive_float,
    positive_int,
)
from reference.attention import attention
from reference.features import FeatureMap, rank
from reference.polyfit import METHODS, ExpFit, fit_exp

SCALE_CONVENTIONS = {
    "paper": lambda d: 1.0,  # the paper's block: no scaling
    "alman-song": lambda d: 1.0 / d,  # Alman–Song: 1/d
    "practice": lambda d: 1.0 / math.sqrt(d),  # common practice: 1/sqrt(d)
}
FALLBACKS = ("refuse", "auto")
DEFAULT_MAX_RANK = 1 << 17
FEATURE_BLOCK_ELEMENTS = 1 << 20  # features held at once per block: r * rows <= this ...
MIN_BLOCK_ROWS = 32  # ... unless the rank is so large that fewer rows would fit

# Cost model in abstract operation counts (mirrored symbolically in verify.bounds.efficiency).
EXP_COST = 20.0  # one exp and the softmax bookkeeping per logit, in multiply-add units


class FastAttentionRefused(ValueError):
    """The polynomial method cannot deliver a certified answer within the budget asked for."""


def exact_cost(n: int, m: int, d: int, dv: int) -> float:
    """Operation count of exact attention: ``n·m·(2d + 2d_v + EXP_COST)``.

    >>> from reference.polynomial_attention import exact_cost
    >>> exact_cost(2, 3, 1, 1)
    144.0
    """
    return float(n) * m * (2 * d + 2 * dv + EXP_COST)


def polynomial_cost(n: int, m: int, r: int, dv: int) -> float:
    """Operation count of the polynomial method: ``(n + m)·r·(2(d_v + 1) + 2)``.

    >>> from reference.polynomial_attention import polynomial_cost
    >>> polynomial_cost(2, 3, 1, 1)
    30.0
    """
    return float(n + m) * r * (2 * (dv + 1) + 2)


def resolve_scale(scale: object, d: int) -> float:
    """A positive number, or a named convention: ``"paper"`` (1), ``"alman-song"`` (1/d),
    ``"practice"`` (1/√d).

    >>> from reference.polynomial_attention import resolve_scale
    >>> resolve_scale("alman-song", 8)
    0.125
    """
    if isinstance(scale, str):
        if scale not in SCALE_CONVENTIONS:
            raise ValueError(
                f"scale: expected a positive number or one of {tuple(SCALE_CONVENTIONS)}, "
                f"got {scale!r}"
            )
        return SCALE_CONVENTIONS[scale](d)
    return positive_float("scale", scale)


def max_row_norm(a: np.ndarray) -> float:
    """``max_i ‖a_i‖`` over the rows of ``a (n, k)`` (0 for no rows).

    >>> import numpy as np
    >>> from reference.polynomial_attention import max_row_norm
    >>> max_row_norm(np.array([[3.0, 4.0], [1.0, 0.0]]))
    5.0
    """
    return float(np.sqrt(np.max(np.einsum("ij,ij->i", a, a)))) if a.shape[0] else 0.0


def guaranteed_radius(q: np.ndarray, k: np.ndarray, scale: float) -> float:
    """``scale · max_i ‖q_i‖ · max_j ‖k_j‖ >= max |scale · q_i·k_j|`` (Cauchy–Schwarz).

    >>> import numpy as np
    >>> from reference.polynomial_attention import guaranteed_radius
    >>> guaranteed_radius(np.array([[3.0, 4.0]]), np.array([[1.0, 0.0]]), 0.5)
    2.5
    """
    return scale * max_row_norm(q) * max_row_norm(k)


def resolve_radius(needed: float, declared: float | None, *, name: str = "R") -> float:
    """The fit radius: ``needed`` rounded up when nothing is declared; else the declared value,
    refused (never extrapolated) when the inputs need more.

    >>> from reference.polynomial_attention import resolve_radius
    >>> resolve_radius(0.99, 1.0)
    1.0
    >>> resolve_radius(1.5, 1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: R: inputs need a logit radius ... = 1.5, above the declared R = 1; refusing ...
    """
    if declared is None:
        return round_up_radius(needed)
    radius = positive_float(name, declared)
    if needed > radius:
        raise ValueError(
            f"{name}: inputs need a logit radius scale·max‖q‖·max‖k‖ = {needed:.6g}, above the "
            f"declared {name} = {radius:.6g}; refusing to extrapolate the polynomial"
        )
    return radius


def round_up_radius(radius: float, digits: int = 3) -> float:
    """``radius`` rounded up to ``digits`` significant digits (so fits are reused from the
    cache), at least ``2^-20``.

    >>> from reference.polynomial_attention import round_up_radius
    >>> round_up_radius(1.0000000000000007)
    1.01
    """
    radius = max(float(radius), 2.0**-20)
    shift = digits - 1 - math.floor(math.log10(radius))
    rounded = math.ceil(radius * 10.0**shift) / 10.0**shift
    return rounded if rounded >= radius else math.nextafter(rounded, math.inf)


def block_rows(r: int) -> int:
    """Rows per block: ``FEATURE_BLOCK_ELEMENTS // r``, at least ``MIN_BLOCK_ROWS``."""
    return max(MIN_BLOCK_ROWS, FEATURE_BLOCK_ELEMENTS // r)


def key_summary(features: FeatureMap, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``ψ(K)ᵀ [V, 1]`` ``(r, d_v + 1)``, streaming key blocks (the ψ weights are applied once
    to the ``(r, d_v + 1)`` sum, not to every block).

    >>> import numpy as np
    >>> from reference.features import FeatureMap
    >>> from reference.polynomial_attention import key_summary
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
        summary += features.raw(k[start:stop]) @ v1[: stop - start]  # (r, dv+1)
    summary *= features.psi_weights[:, None]
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
        num = features.raw(q[start:stop]).T @ weighted  # (b, dv+1)
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

    ``certified_bound`` bounds ``‖output − attention(q, k, v)‖_max``; it is 0 when the exact
    method was used. ``predicted_speedup`` is exact cost / polynomial cost from the cost model.
    """

    output: np.ndarray  # (n, dv)
    method: str  # "polynomial" or "exact"
    degree: int
    rank: int
    radius: float
    eps: float
    certified_relative_error: float
    certified_bound: float
    predicted_speedup: float
    fit_method: str
    reason: str = ""


def certified_output_bound(relative_error: float, v_max: float) -> float:
    """``2ε/(1 − ε) · ‖V‖_max``.

    >>> from reference.polynomial_attention import certified_output_bound
    >>> certified_output_bound(0.5, 1.0)
    2.0
    """
    return 2.0 * relative_error / (1.0 - relative_error) * v_max


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

    >>> from reference.polynomial_attention import plan
    >>> fit, r, speedup = plan(1 << 16, 1 << 16, 8, 8, radius=1.0, eps=1e-3)
    >>> (fit.degree, r, speedup > 30)
    (4, 495, True)
    """
    fit = fit_exp(radius, eps, fit_method)
    r = rank(d, fit.degree)
    return fit, r, exact_cost(n, m, d, dv) / polynomial_cost(n, m, r, dv)


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

    ``R`` declares the logit radius; inputs with ``scale·max‖q‖·max‖k‖ > R`` are refused (never
    extrapolated). Without ``R`` the guaranteed radius of the inputs is used. When the rank
    ``C(d + g, g)`` exceeds ``max_rank``, or the cost model predicts exact attention is cheaper
    (unless ``allow_slower``), ``fallback="refuse"`` raises :class:`FastAttentionRefused` and
    ``fallback="auto"`` computes exact attention (``method="exact"``, with the reason).
    Computation is in float64.

    >>> import numpy as np
    >>> from reference.polynomial_attention import fast_attention
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.random((64, 2)), rng.random((64, 2)), rng.random((64, 3))
    >>> res = fast_attention(q, k, v, scale=0.5, eps=1e-3, allow_slower=True)
    >>> from reference import attention
    >>> exact = attention(q, k, v, scale=0.5)
    >>> bool(np.max(np.abs(res.output - exact)) <= res.certified_bound)
    True
    """
    q, k, v = check_qkv(q, k, v)
    n, d = q.shape
    m, dv = v.shape
    scale = resolve_scale(scale, d)
    eps = open_unit_interval("eps", eps)
    max_rank = positive_int("max_rank", max_rank)
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback: expected one of {FALLBACKS}, got {fallback!r}")
    if fit_method not in METHODS:
        raise ValueError(f"fit_method: expected one of {METHODS}, got {fit_method!r}")
    q64, k64, v64 = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    radius = resolve_radius(guaranteed_radius(q64, k64, scale), R)
    fit, r, speedup = plan(n, m, d, dv, radius=radius, eps=eps, fit_method=fit_method)
    reason = ""
    if r > max_rank:
        reason = f"rank C({d}+{fit.degree}, {fit.degree}) = {r} exceeds max_rank = {max_rank}"
    elif speedup < 1.0 and not allow_slower:
        reason = (
            f"cost model predicts exact attention is cheaper (predicted speedup {speedup:.3g} at "
            f"n={n}, m={m}, rank {r})"
        )
    common = {
        "degree": fit.degree,
        "rank": r,
        "radius": radius,
        "eps": eps,
        "predicted_speedup": speedup,
        "fit_method": fit_method,
    }
    if reason:
        if fallback == "refuse":
            raise FastAttentionRefused(f"fast_attention refused: {reason}")
        exact = attention(q64, k64, v64, scale=scale)  # (n, dv)
        return FastAttentionResult(
            exact,
            "exact",
            certified_relative_error=0.0,
            certified_bound=0.0,
            reason=reason,
            **common,
        )
    features = FeatureMap.build(fit.coeffs, dim=d, scale=scale)
    summary = key_summary(features, k64, v64)  # (r, dv+1)
    out = apply_summary(features, q64, summary)  # (n, dv)
    v_max = float(np.max(np.abs(v64))) if v64.size else 0.0
    return FastAttentionResult(
        out,
        "polynomial",
        certified_relative_error=fit.certified_error,
        certified_bound=certified_output_bound(fit.certified_error, v_max),
        **common,
    )
