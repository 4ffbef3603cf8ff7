"""The properties of the polynomial method, as ``case -> Observation`` checks, and their plants.

Each check takes the implementation under test as a keyword argument (default: the reference), so
the same check runs on a deliberately broken implementation (a *plant*) to show it can fail. Used
by ``verify/claims/efficiency/test_properties.py`` and by the ``efficiency`` claim of the report.

>>> from verify.claims.efficiency.checks import check_fast_attention
>>> from verify.claims.properties import run_property
>>> from verify.claims.efficiency.strategies import attention_cases
>>> run_property("fast", attention_cases(max_rows=8), check_fast_attention, max_examples=5).passed
True
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
from hypothesis import Phase, find, settings
from hypothesis.errors import NoSuchExample
from numpy.polynomial import polynomial as poly

from reference import Transformer, attention, prompt_forward
from reference.efficiency.fast_gradient import (
    KeyValueGrad,
    exact_key_value_grad,
    low_rank_key_value_grad,
)
from reference.efficiency.features import FeatureMap
from reference.efficiency.polyfit import (
    ExpFit,
    FastAttentionRefused,
    fit_exp,
    gamma,
    minimax_coefficients,
)
from reference.efficiency.polynomial import FastAttentionResult, attend_with_fit, fast_attention
from reference.efficiency.prompt_cache import (
    CachedForward,
    ExactPromptCache,
    PolynomialPromptCache,
    input_projections,
    output_gain,
)
from reference.model.attention import resolve_scale, softmax_rows
from verify.claims.efficiency import bounds
from verify.claims.efficiency.strategies import AttentionCase, PromptCacheCase
from verify.claims.properties import Observation, observe

U = 2.0**-53  # float64 unit roundoff (the reference rounds spreads and half-widths up by 2u)


# ---------------------------------------------------------------- plants
def plant_caught(
    strategy: Any, plant: Callable[[Any], Any], max_examples: int, seed: int = 0
) -> tuple[bool, int, float]:
    """Draw cases until ``plant`` (a check run on a broken implementation) reports a violated
    observation: whether it did, after how many cases, and that case's worst ratio. No
    shrinking: the report only needs to know the plant is caught.

    >>> from verify.claims.efficiency.checks import plant_caught
    >>> from verify.claims.properties import Observation
    >>> from hypothesis import strategies as st
    >>> plant_caught(st.integers(0, 9), lambda x: Observation(float(x), 4.0), 100)[0]
    True
    """
    seen: list[float] = []

    def violated(case: Any) -> bool:
        obs = observe(plant, case)  # a requirement the check raises on counts as caught
        seen.append(max(o.ratio for o in obs))
        return not all(o.holds for o in obs)

    try:
        find(
            strategy,
            violated,
            settings=settings(
                max_examples=max_examples, phases=[Phase.generate], database=None, deadline=None
            ),
            random=random.Random(seed),
        )
    except NoSuchExample:
        return False, len(seen), max(seen, default=0.0)
    return True, len(seen), seen[-1]


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
def sympy_column_bounds(
    fit: ExpFit,
    keys: int,
    rank: int,
    values: np.ndarray,
    center: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The certified bound per output column ``(d_v,)`` from the sympy expressions:
    ``OUTPUT_ERROR`` (the sharp ``ε·W/(1 + √(1 − ε²))``, ``W = max V − min V``) plus
    ``ROUNDING_ERROR`` of the computed path for ``keys`` keys, rank ``rank``, values
    ``values (m, d_v)`` centred at ``center`` (default: their mid-range), as the two parts
    ``(output error, rounding)``; the bound is their sum."""
    top, low = values.max(axis=0), values.min(axis=0)  # (dv,)
    center = top / 2 + low / 2 if center is None else center  # (dv,)
    half = np.abs(values - center).max(axis=0) * (1 + 2 * U)  # (dv,)
    spread = (top - low) * (1 + 2 * U)  # (dv,)
    abs_poly = float(np.sum(np.abs(fit.coeffs) * fit.radius ** np.arange(fit.degree + 1)))
    approx = np.array([float(bounds.output_error(fit.certified_error, w)) for w in spread])
    rounding_part = np.array(
        [
            float(
                bounds.rounding_error(
                    fit.degree, keys, rank, abs_poly, fit.radius, fit.certified_error, h, c
                )
            )
            for h, c in zip(half, center, strict=True)
        ]
    )
    return approx, rounding_part


def check_fast_attention(
    case: AttentionCase, *, attend: Callable[..., FastAttentionResult] = fast_attention
) -> list[Observation]:
    """``|fast − exact| <= ε·W/(1 + √(1 − ε²)) + rounding`` per output column, the bound
    taken from the sympy expressions (and the reported one required to equal it), the error
    measured against a high-precision oracle (:func:`oracle_errors`). A refusal is an exact
    observation that holds (the method may refuse; it may not return a wrong answer)."""
    measured = _fast_attention_errors(case, attend)
    if measured is None:
        return [Observation(0.0, 0.0, "refused", exact=True)]
    res, errors, (approx, rounding) = measured
    col = approx + rounding  # (dv,)
    reported = np.asarray(res.column_bounds)
    if not np.allclose(col, reported, rtol=1e-9, atol=0):
        raise AssertionError(f"reported column bounds {reported} != sympy bounds {col}")
    return _column_observations(errors, col)


def check_without_rounding_term(case: AttentionCase) -> list[Observation]:
    """PLANT: the reference's error against the bound without its rounding term (the output
    error alone), which value offsets of ``1e12 … 1e15`` exceed."""
    measured = _fast_attention_errors(case, fast_attention)
    if measured is None:
        return [Observation(0.0, 0.0, "refused", exact=True)]
    _, errors, (approx, _) = measured
    return _column_observations(errors, approx)


def _fast_attention_errors(
    case: AttentionCase, attend: Callable[..., FastAttentionResult]
) -> tuple[FastAttentionResult, np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
    """``attend``'s result, its error per column against the oracle and the sympy bound's two
    parts, or ``None`` when it refuses."""
    try:
        res = attend(
            case.q,
            case.k,
            case.v,
            scale=case.scale,
            eps=case.eps,
            R=case.radius,
            allow_slower=True,
        )
    except FastAttentionRefused:
        return None
    fit = fit_exp(res.radius, case.eps)
    parts = sympy_column_bounds(fit, case.k.shape[0], res.rank, case.v)  # (dv,) each
    s = resolve_scale(case.scale, case.q.shape[1])
    return res, oracle_errors(res.output, case.q, case.k, case.v, s), parts


def _column_observations(errors: np.ndarray, bound: np.ndarray) -> list[Observation]:
    return [
        Observation(float(e), float(b), f"|T − attention| column {j}")
        for j, (e, b) in enumerate(zip(errors, bound, strict=True))
    ]


ORACLE_MANTISSA_BITS = 64  # long double (x87 extended) or better; else mpmath


def oracle_errors(
    output: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float
) -> np.ndarray:
    """``max_i |output_ic − attention(q, k, v)_ic|`` per column ``(d_v,)`` against exact
    attention of the float64 inputs computed in more precision than float64.

    In ``numpy.longdouble`` where it has at least 64 mantissa bits (x86-64, aarch64): with
    ``c`` a float64 centre of each column, ``attention(v) = c + attention(v − c)`` exactly, and
    ``output − c`` and ``v − c`` are exact in long double for values near ``c``, so the
    comparison ``(output − c) − attention(v − c)`` carries long double's rounding of a
    centred average only (about ``m·2^-64·max|v − c|``). Elsewhere on ``mpmath.mpf`` at 40
    digits. Float64 attention as the oracle reported false failures: at value offsets of
    ``1e12 … 1e15`` its own error reaches 3.8× the certified bound where the true error is
    0.58× (issue 16).

    >>> import numpy as np
    >>> from verify.claims.efficiency.checks import oracle_errors
    >>> q, k, v = np.zeros((1, 1)), np.zeros((2, 1)), np.array([[1e12], [1e12 + 1]])
    >>> float(oracle_errors(np.array([[1e12]]), q, k, v, 1.0)[0])  # the true mean is 1e12 + 0.5
    0.5
    """
    if np.finfo(np.longdouble).nmant + 1 >= ORACLE_MANTISSA_BITS:
        centre = v.max(axis=0) / 2 + v.min(axis=0) / 2  # (dv,) float64
        ql, kl = q.astype(np.longdouble), k.astype(np.longdouble)
        centred = v.astype(np.longdouble) - centre.astype(np.longdouble)  # (m, dv)
        logits = np.longdouble(scale) * (ql @ kl.T)  # (n, m)
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))  # (n, m)
        exact = (weights @ centred) / weights.sum(axis=1, keepdims=True)  # (n, dv)
        diff = np.abs(output.astype(np.longdouble) - centre.astype(np.longdouble) - exact)
        return diff.max(axis=0).astype(np.float64)
    to_mpf = np.vectorize(mpmath.mpf, otypes=[object])
    with mpmath.workdps(40):
        exact = np.asarray(attention(to_mpf(q), to_mpf(k), to_mpf(v), scale=mpmath.mpf(scale)))
        diff = np.abs(to_mpf(output) - exact)  # (n, dv)
        return np.array([float(col.max()) for col in diff.T])


def extrapolating_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, *, scale: float, eps: float, R: float, **_: Any
) -> FastAttentionResult:
    """PLANT: a fit certified on ``[-R/4, R/4]`` used for logits up to ``R`` (extrapolation)."""
    return _attention_with_fit(q, k, v, scale, fit_exp(R, eps), fit_exp(R / 4, eps).coeffs)


def _attention_with_fit(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, fit: ExpFit, coeffs: np.ndarray
) -> FastAttentionResult:
    """The reference's computation with the polynomial ``coeffs`` in place of ``fit``'s, while
    reporting what the reference reports for ``fit`` (degree, rank, certificate, bounds)."""
    s = resolve_scale(scale, q.shape[1])
    used = dataclasses.replace(
        fit, coefficients=tuple(float(c) for c in coeffs), degree=len(coeffs) - 1
    )
    _, approx, rounding, _ = attend_with_fit(q, k, v, fit, s)  # what the reference reports
    try:
        out = attend_with_fit(q, k, v, used, s)[0]
    except FloatingPointError:  # a non-positive denominator: report an infinite output
        out = np.full((q.shape[0], v.shape[1]), np.inf)
    bound = approx + rounding  # (dv,)
    r = FeatureMap.build(fit.coeffs, dim=q.shape[1], scale=s).rank
    return FastAttentionResult(
        out,
        "polynomial",
        fit.degree,
        r,
        fit.radius,
        fit.eps,
        fit.certified_error,
        float(bound.max()),
        1.0,
        "minimax",
        column_bounds=bound,
    )


@functools.lru_cache(maxsize=128)
def _finer_fit(radius: float, degree: int) -> np.ndarray:
    return minimax_coefficients(radius, degree)


def understated_fit_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    *,
    scale: float,
    eps: float,
    R: float,
    factor: float = 3.0,
    **_: object,
) -> FastAttentionResult:
    """PLANT: a fit whose relative error is ``factor``× what it reports: ``p_bad = factor·p −
    (factor − 1)·p_fine`` (``p_fine`` the minimax fit four degrees higher), so
    ``p_bad e^{-t} − 1 ≈ factor·ρ(t)``, while the certificate of ``p`` is reported. Random
    cases rarely reach the bound; the tight family (keys at the extremes of ``ρ``) catches it."""
    fit = fit_exp(R, eps)
    fine = _finer_fit(fit.radius, fit.degree + 4)  # about 1e-2 of the fit's error or less
    c = np.zeros(max(fine.size, fit.coeffs.size))
    c[: fit.coeffs.size] += factor * fit.coeffs
    c[: fine.size] -= (factor - 1.0) * fine
    return _attention_with_fit(q, k, v, scale, fit, c)


# ---------------------------------------------------------------- prompt cache
def check_prompt_cache(
    case: PromptCacheCase,
    *,
    build: Callable[..., PolynomialPromptCache] = PolynomialPromptCache.build,
) -> list[Observation]:
    """Cached polynomial inference against the exact attention output and ``prompt_forward``.

    The reported bounds must equal the sympy ones: the attention bound
    the sharp output bound plus the rounding of the computed path per column (``ε`` of the
    certified fit for ``(radius, eps)``, the spread over the prompt's and the input's values,
    centred at the prompt values' mid-range, ``Lp + L`` keys; all computed here) and the output
    bound, that times :func:`reference.efficiency.prompt_cache.output_gain`. A mismatch is an
    observation (``|reported − sympy| <= 1e-9·sympy``), so an inflated bound is reported as a
    violation with its ratio.
    """
    try:
        cache = build(case.model, case.prompt, eps=case.eps, radius=case.radius)
        res = cache.forward(case.xs)
    except FastAttentionRefused:  # e.g. rounding above eps at large R, small eps: no answer
        return [Observation(0.0, 0.0, "refused", exact=True)]
    exact_cache = ExactPromptCache.build(case.model, case.prompt)
    exact_att = exact_cache.attention_output(case.xs)
    exact_out = prompt_forward(case.model, case.prompt, case.xs)
    v_x = input_projections(case.model, case.xs)[3]  # (B, L, dv)
    v_p = exact_cache.values  # (Lp, dv)
    lp = v_p.shape[0]
    if lp == 0:  # an empty prompt: the cache widens the value range to hold 0
        v_p = np.zeros((1, v_x.shape[-1]))
    fit = fit_exp(case.radius, case.eps)
    center = v_p.max(axis=0) / 2 + v_p.min(axis=0) / 2  # (dv,)
    att_bound = max(
        float(
            np.add(
                *sympy_column_bounds(
                    fit, lp + v.shape[0], cache.rank, np.concatenate([v_p, v]), center
                )
            ).max()
        )
        for v in v_x
    )
    out_bound = att_bound * output_gain(case.model)
    return [
        Observation(float(np.abs(res.attention_output - exact_att).max()), att_bound, "attention"),
        Observation(float(np.abs(res.output - exact_out).max()), out_bound, "model output"),
        Observation(
            abs(res.attention_bound - att_bound), 1e-9 * att_bound, "reported − sympy att. bound"
        ),
        Observation(
            abs(res.output_bound - out_bound), 1e-9 * out_bound, "reported − sympy output bound"
        ),
    ]


def build_stale_cache(
    model: Transformer, prompt: np.ndarray, *, eps: float, radius: float
) -> PolynomialPromptCache:
    """PLANT: a cache not rebuilt after the prompt changed (built without the first row)."""
    return PolynomialPromptCache.build(model, prompt[1:], eps=eps, radius=radius)


class _InflatedBoundCache(PolynomialPromptCache):
    """A correct cache whose :meth:`forward` reports bounds ten times too loose."""

    def forward(self, x: np.ndarray) -> CachedForward:
        res = super().forward(x)
        return dataclasses.replace(
            res, attention_bound=10 * res.attention_bound, output_bound=10 * res.output_bound
        )


def build_inflated_bound_cache(
    model: Transformer, prompt: np.ndarray, *, eps: float, radius: float
) -> PolynomialPromptCache:
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


def grad_with_wrong_sign_delta(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    grad_out: np.ndarray,
    *,
    scale: float,
    eps: float,
    R: float | None,
) -> KeyValueGrad:
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
    "check_factorization",
    "check_fast_attention",
    "check_low_rank_grad",
    "check_prompt_cache",
    "extrapolating_attention",
    "grad_with_wrong_sign_delta",
    "understated_fit_attention",
]
