"""The properties of the polynomial method, as ``case -> Observation`` checks, and their plants.

Each check takes the implementation under test as a keyword argument (default: the reference), so
the same check runs on a deliberately broken implementation (a *plant*) to show it can fail. Used
by ``verify/test_efficiency_properties.py`` and by the ``efficiency`` claim of the report.

>>> from verify.efficiency_checks import check_fast_attention
>>> from verify.properties import run_property
>>> from verify.strategies.efficiency import attention_cases
>>> run_property("fast", attention_cases(max_rows=8), check_fast_attention, max_examples=5).passed
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from numpy.polynomial import polynomial as poly

from reference import attention, prompt_forward
from reference.attention import softmax_rows
from reference.fast_gradient import KeyValueGrad, exact_key_value_grad, low_rank_key_value_grad
from reference.features import FeatureMap
from reference.polyfit import fit_exp, gamma
from reference.polynomial_attention import (
    FastAttentionResult,
    apply_summary,
    certified_output_bound,
    fast_attention,
    key_summary,
    resolve_scale,
)
from reference.prompt_cache import (
    CachedForward,
    ExactPromptCache,
    PolynomialPromptCache,
    input_projections,
    output_gain,
)
from verify.bounds import efficiency as bounds
from verify.properties import Observation
from verify.strategies.efficiency import AttentionCase, FitPair, PromptCacheCase


# ---------------------------------------------------------------- factorization exactness
def factorization_tolerance(
    features: FeatureMap, coeffs: np.ndarray, q: np.ndarray, k: np.ndarray
) -> np.ndarray:
    """A priori rounding bound for ``|φ(q)·ψ(k) − p(scale q·k)|`` ``(n, m)``.

    ``γ_N · (Σ_α |φ_α(q) ψ_α(k)| + Σ_j |c_j| |t|^j)`` with ``γ_N = N u / (1 − N u)``,
    ``N = r + 3g + 6`` (dot product of ``r`` terms, monomials of degree ``<= g``, the weights,
    Horner in ``g`` steps; Higham's standard model), ``u = 2^{-53}``.
    """
    g = len(coeffs) - 1
    abs_dot = np.abs(features.phi(q)).T @ np.abs(features.psi(k))  # (n, m)
    t = np.abs(q @ k.T) * features.scale  # (n, m)
    abs_poly = poly.polyval(t, np.abs(coeffs))  # (n, m)
    return gamma(features.rank + 3 * g + 6) * (abs_dot + abs_poly)


def check_factorization(
    case: AttentionCase, *, build: Callable[..., FeatureMap] = FeatureMap.build
) -> Observation:
    """``max |φ(q)·ψ(k) − p(scale q·k)| / tolerance`` (an identity up to rounding)."""
    s = resolve_scale(case.scale, case.q.shape[1])
    fit = fit_exp(case.radius, case.eps)
    features = build(fit.coeffs, dim=case.q.shape[1], scale=s)
    kernel = features.phi(case.q).T @ features.psi(case.k)  # (n, m)
    direct = poly.polyval((case.q @ case.k.T) * s, fit.coeffs)  # (n, m)
    tol = factorization_tolerance(
        FeatureMap.build(fit.coeffs, dim=case.q.shape[1], scale=s), fit.coeffs, case.q, case.k
    )
    ratio = np.abs(kernel - direct) / tol  # (n, m)
    return Observation(float(ratio.max()), 1.0, "factorization error / rounding bound")


def build_without_multinomials(coeffs: np.ndarray, *, dim: int, scale: float) -> FeatureMap:
    """PLANT: features missing the ``j!/α!`` factors (cross terms under-weighted)."""
    fm = FeatureMap.build(coeffs, dim=dim, scale=scale)
    fix = 1.0 / np.sqrt(fm.table.multinomial)  # (r,)
    return dataclasses.replace(
        fm, phi_weights=fm.phi_weights * fix, psi_weights=fm.psi_weights * fix
    )


# ---------------------------------------------------------------- certified output error
def check_fast_attention(
    case: AttentionCase, *, attend: Callable[..., FastAttentionResult] = fast_attention
) -> Observation:
    """``‖fast − exact‖_max <= 2ε/(1−ε)·‖V‖_max`` (the bound taken from the sympy expression)."""
    res = attend(
        case.q, case.k, case.v, scale=case.scale, eps=case.eps, R=case.radius, allow_slower=True
    )
    exact = attention(case.q, case.k, case.v, scale=resolve_scale(case.scale, case.q.shape[1]))
    bound = float(bounds.output_error(res.certified_relative_error, np.abs(case.v).max()))
    if not np.isclose(bound, res.certified_bound, rtol=1e-12, atol=0):
        raise AssertionError(f"reported bound {res.certified_bound} != sympy bound {bound}")
    return Observation(float(np.abs(res.output - exact).max()), bound, "‖T − attention‖_max")


def extrapolating_attention(q, k, v, *, scale, eps, R, **_: object) -> FastAttentionResult:
    """PLANT: a fit certified on ``[-R/4, R/4]`` used for logits up to ``R`` (extrapolation)."""
    s = resolve_scale(scale, q.shape[1])
    fit = fit_exp(R / 4, eps)
    features = FeatureMap.build(fit.coeffs, dim=q.shape[1], scale=s)
    summary = key_summary(features, k, v)
    try:
        out = apply_summary(features, q, summary)
    except FloatingPointError:
        out = np.full((q.shape[0], v.shape[1]), np.inf)
    bound = certified_output_bound(fit.certified_error, float(np.abs(v).max()))
    return FastAttentionResult(
        out,
        "polynomial",
        fit.degree,
        features.rank,
        R,
        eps,
        fit.certified_error,
        bound,
        1.0,
        "minimax",
    )


# ---------------------------------------------------------------- degree monotonicity
def fitted_degree(radius: float, eps: float, method: str) -> int:
    return fit_exp(radius, eps, method).degree


def check_degree_monotone(
    pair: FitPair, *, degree: Callable[[float, float, str], int] = fitted_degree
) -> Observation:
    """``g(R1, eps1) <= g(R2, eps2)`` when ``R1 <= R2`` and ``eps1 >= eps2``."""
    g1 = degree(pair.radius_1, pair.eps_1, pair.method)
    g2 = degree(pair.radius_2, pair.eps_2, pair.method)
    return Observation(float(g1 - g2), 0.0, "g(easier) − g(harder)")


def degree_with_offset_bug(radius: float, eps: float, method: str) -> int:
    """PLANT: a degree table with an offset bug for long intervals (``R >= 2`` reads four
    degrees too low): not monotone."""
    degree = fit_exp(radius, eps, method).degree
    return max(0, degree - 4) if radius >= 2 else degree


# ---------------------------------------------------------------- prompt cache
def check_prompt_cache(
    case: PromptCacheCase,
    *,
    build: Callable[..., PolynomialPromptCache] = PolynomialPromptCache.build,
) -> list[Observation]:
    """Cached polynomial inference against the exact attention output and ``prompt_forward``.

    The reported bounds must equal the sympy ones: the attention bound
    ``2ε/(1−ε)·‖V‖_max`` (``ε`` of the certified fit for ``(radius, eps)``, ``‖V‖_max`` over the
    prompt's and the inputs' values, both computed here) and the output bound, that times
    :func:`reference.prompt_cache.output_gain`. A mismatch is an observation (``|reported −
    sympy| <= 1e-12·sympy``), so an inflated bound is reported as a violation with its ratio.
    """
    cache = build(case.model, case.prompt, eps=case.eps, radius=case.radius)
    res = cache.forward(case.xs)
    exact_cache = ExactPromptCache.build(case.model, case.prompt)
    exact_att = exact_cache.attention_output(case.xs)
    exact_out = prompt_forward(case.model, case.prompt, case.xs)
    v_x = input_projections(case.model, case.xs)[3]  # (B, L, dv)
    v_max = max(
        float(np.abs(exact_cache.values).max(initial=0.0)), float(np.abs(v_x).max(initial=0.0))
    )
    certified = fit_exp(case.radius, case.eps).certified_error
    att_bound = float(bounds.output_error(certified, v_max))
    out_bound = att_bound * output_gain(case.model)
    return [
        Observation(float(np.abs(res.attention_output - exact_att).max()), att_bound, "attention"),
        Observation(float(np.abs(res.output - exact_out).max()), out_bound, "model output"),
        Observation(
            abs(res.attention_bound - att_bound), 1e-12 * att_bound, "reported − sympy att. bound"
        ),
        Observation(
            abs(res.output_bound - out_bound), 1e-12 * out_bound, "reported − sympy output bound"
        ),
    ]


def build_stale_cache(model, prompt, *, eps, radius) -> PolynomialPromptCache:
    """PLANT: a cache not rebuilt after the prompt changed (built without the first row)."""
    return PolynomialPromptCache.build(model, prompt[1:], eps=eps, radius=radius)


class _InflatedBoundCache(PolynomialPromptCache):
    """A correct cache whose :meth:`forward` reports bounds ten times too loose."""

    def forward(self, x: np.ndarray) -> CachedForward:
        res = super().forward(x)
        return dataclasses.replace(
            res, attention_bound=10 * res.attention_bound, output_bound=10 * res.output_bound
        )


def build_inflated_bound_cache(model, prompt, *, eps, radius) -> PolynomialPromptCache:
    """PLANT: a correct cache that reports bounds ten times the certified ones (an inflated
    bound would let a larger error pass)."""
    return _InflatedBoundCache.build(model, prompt, eps=eps, radius=radius)


# ---------------------------------------------------------------- low-rank gradient
def check_low_rank_grad(
    case: AttentionCase, *, grad: Callable[..., KeyValueGrad] = low_rank_key_value_grad
) -> list[Observation]:
    """Low-rank ``dK, dV`` within their certified bounds of the exact ones."""
    fast = grad(
        case.q, case.k, case.v, case.grad_out, scale=case.scale, eps=case.eps, R=case.radius
    )
    exact = exact_key_value_grad(case.q, case.k, case.v, case.grad_out, scale=case.scale)
    g, s = case.grad_out, resolve_scale(case.scale, case.q.shape[1])
    e, c_max = fast.certified_relative_error, fast.column_sum_max
    bound_v = float(bounds.grad_v_error(e, np.abs(g).max(), c_max))
    bound_k = float(
        bounds.grad_k_error(
            e, s, np.abs(case.q).max(), np.abs(case.v).max(), np.abs(g).sum(axis=1).max(), c_max
        )
    )
    if not np.allclose([bound_k, bound_v], [fast.bound_k, fast.bound_v], rtol=1e-12, atol=0):
        raise AssertionError("reported gradient bounds differ from the sympy expressions")
    return [
        Observation(float(np.abs(fast.grad_k - exact.grad_k).max()), fast.bound_k, "dK"),
        Observation(float(np.abs(fast.grad_v - exact.grad_v).max()), fast.bound_v, "dV"),
    ]


def grad_with_wrong_sign_delta(q, k, v, grad_out, *, scale, eps, R) -> KeyValueGrad:
    """PLANT: the softmax backward with ``+δ`` instead of ``−δ`` (a classic sign slip)."""
    good = low_rank_key_value_grad(q, k, v, grad_out, scale=scale, eps=eps, R=R)
    s = resolve_scale(scale, q.shape[1])
    exact = exact_key_value_grad(q, k, v, grad_out, scale=s)
    # dK with the δ term flipped: dK + 2·scale·Σ_i S_ij δ_i q_i, computed exactly for the plant
    weights = softmax_rows((q @ k.T) * s)  # (n, m)
    delta = np.einsum("ij,ij->i", grad_out, exact.output)  # (n,)
    flipped = good.grad_k + 2 * s * (weights.T @ (delta[:, None] * q))  # (m, dk)
    return dataclasses.replace(good, grad_k=flipped)


__all__ = [
    "build_inflated_bound_cache",
    "build_stale_cache",
    "build_without_multinomials",
    "check_degree_monotone",
    "check_factorization",
    "check_fast_attention",
    "check_low_rank_grad",
    "check_prompt_cache",
    "degree_with_offset_bug",
    "extrapolating_attention",
    "grad_with_wrong_sign_delta",
]
