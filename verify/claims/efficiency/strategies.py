"""Hypothesis strategies for the polynomial method: attention inputs in explicit norm regimes,
fit parameters, prompt-cache and gradient cases.

Every case draws sizes, a logit radius ``R`` (the norm regime), a scale convention and a seed, and
builds its arrays with a seeded generator so that ``scale · max‖q‖ · max‖k‖ <= R`` holds by
construction. With ``aligned=True`` some keys are (anti-)parallel to a longest query, so logits
reach ``±R`` — the ends of the interval where fits are worst.

:func:`tight_attention_cases` is the adversarial tight family of the output bound (``d = 1``,
keys at two extremes of the fit's relative error with opposite signs, values ``±1`` on them,
multiplicities balancing the softmax mass): it reaches most of the sharp output bound
``ε·W/(1 + √(1 − ε²))``.
:func:`near_budget_cases` draws ``d = 8`` with a rank near ``DEFAULT_MAX_RANK`` (thorough runs).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from numpy.polynomial import polynomial as poly

from reference import Transformer
from reference.efficiency.planning import max_row_norm
from reference.efficiency.polyfit import fit_exp
from reference.efficiency.prompt_cache import input_projections
from reference.model.attention import resolve_scale
from verify.claims.strategies import seeds

RADIUS_GRID = (0.05, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0)
EPSILON_GRID = (1e-2, 1e-3, 1e-4, 1e-6)
RADII = st.sampled_from(RADIUS_GRID)
EPSILONS = st.sampled_from(EPSILON_GRID)
SCALES: st.SearchStrategy[float | str] = st.sampled_from(
    ["paper", "alman-song", "practice", 0.3, 2.0]
)
TIGHT_SCALES: st.SearchStrategy[float | str] = st.sampled_from([1.0, 0.3, 2.0, "practice"])
FIT_METHODS = st.sampled_from(["minimax", "chebyshev", "taylor"])


def rows_with_norms(rng: np.random.Generator, count: int, dim: int, top: float) -> np.ndarray:
    """``count`` random rows whose norms are uniform in ``[0, top]``, the first exactly ``top``.

    >>> import numpy as np
    >>> from verify.claims.efficiency.strategies import rows_with_norms
    >>> x = rows_with_norms(np.random.default_rng(0), 5, 3, 2.0)
    >>> bool(np.isclose(np.linalg.norm(x, axis=1).max(), 2.0))
    True
    """
    x = rng.standard_normal((count, dim))  # (count, dim)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    norms = rng.uniform(0.0, top, size=count)  # (count,)
    norms[0] = top
    return x * norms[:, None]


@dataclass(frozen=True)
class AttentionCase:
    """Inputs of one attention call in a declared norm regime."""

    q: np.ndarray  # (n, d)
    k: np.ndarray  # (m, d)
    v: np.ndarray  # (m, dv)
    grad_out: np.ndarray  # (n, dv)
    scale: float | str
    radius: float
    eps: float
    seed: int

    def __repr__(self) -> str:
        return (
            f"AttentionCase(n={self.q.shape[0]}, m={self.k.shape[0]}, d={self.q.shape[1]}, "
            f"dv={self.v.shape[1]}, scale={self.scale!r}, R={self.radius}, eps={self.eps}, "
            f"seed={self.seed})"
        )


@st.composite
def attention_cases(
    draw: st.DrawFn,
    *,
    max_rows: int = 96,
    max_d: int = 8,
    radii: st.SearchStrategy[float] = RADII,
    epsilons: st.SearchStrategy[float] = EPSILONS,
) -> AttentionCase:
    """Random ``q, k, v`` and an upstream gradient with ``scale·max‖q‖·max‖k‖ <= R``."""
    n = draw(st.integers(1, max_rows))
    m = draw(st.integers(1, max_rows))
    d = draw(st.integers(1, max_d))
    dv = draw(st.integers(1, 3))
    scale = draw(SCALES)
    radius = draw(radii)
    if d > 4:  # wide keys: small radii keep the rank small (near_budget_cases covers the rest)
        radius = min(radius, 1.0)
    eps = draw(epsilons)
    aligned = draw(st.booleans())
    split = draw(st.floats(0.1, 0.9))  # share of the radius carried by the queries (log scale)
    value_scale = draw(st.sampled_from([0.1, 1.0, 10.0]))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    s = resolve_scale(scale, d)
    total = radius / s * (1 - 1e-9)  # max‖q‖ · max‖k‖, just inside R despite rounding
    q_top = total**split
    k_top = total / q_top
    q = rows_with_norms(rng, n, d, q_top)  # (n, d)
    k = rows_with_norms(rng, m, d, k_top)  # (m, d)
    if aligned:
        direction = q[0] / q_top  # (d,)
        k[0] = direction * k_top
        if m > 1:
            k[1] = -direction * k_top
    v = rng.standard_normal((m, dv)) * value_scale  # (m, dv)
    v += draw(st.sampled_from([0.0, 0.0, 50.0]))  # an offset: the bound depends on the spread
    grad_out = rng.standard_normal((n, dv))  # (n, dv)
    return AttentionCase(q, k, v, grad_out, scale, radius, eps, seed)


@st.composite
def near_budget_cases(draw: st.DrawFn, *, max_rows: int = 16) -> AttentionCase:
    """``d = 8`` with ``R ∈ {4, 6}`` and ``ε ∈ {1e-3, 1e-4}``: ranks 24310, 125970 (just
    under ``DEFAULT_MAX_RANK = 131072``) and above it (a refusal). One key is parallel to the
    longest query (a logit at ``R``)."""
    n, m = draw(st.integers(1, max_rows)), draw(st.integers(1, max_rows))
    dv = draw(st.integers(1, 2))
    scale = draw(SCALES)
    radius = draw(st.sampled_from([4.0, 6.0]))
    eps = draw(st.sampled_from([1e-3, 1e-4]))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    top = math.sqrt(radius / resolve_scale(scale, 8) * (1 - 1e-9))  # max‖q‖ = max‖k‖
    q = rows_with_norms(rng, n, 8, top)  # (n, 8)
    k = rows_with_norms(rng, m, 8, top)  # (m, 8)
    k[0] = q[0]  # one logit at +R
    v = rng.standard_normal((m, dv))  # (m, dv)
    return AttentionCase(q, k, v, rng.standard_normal((n, dv)), scale, radius, eps, seed)


def relative_error_extremes(coeffs: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Local extremes ``t`` of ``ρ(t) = p(t) e^{-t} − 1`` on ``[-R, R]`` (ends included, on a
    grid of 8193 points) and ``ρ`` there.

    >>> import numpy as np
    >>> from reference.efficiency.polyfit import fit_exp
    >>> from verify.claims.efficiency.strategies import relative_error_extremes
    >>> t, rho = relative_error_extremes(fit_exp(1.0, 1e-3).coeffs, 1.0)
    >>> len(t) >= 6, bool(np.all(np.sign(rho[1:]) != np.sign(rho[:-1])))
    (True, True)
    """
    t = np.linspace(-radius, radius, 8193)  # (N,)
    rho = poly.polyval(t, coeffs) * np.exp(-t) - 1.0  # (N,)
    inner = (rho[1:-1] - rho[:-2]) * (rho[2:] - rho[1:-1]) <= 0  # slope changes sign
    idx = np.concatenate([[0], 1 + np.flatnonzero(inner), [t.size - 1]])
    keep = [idx[0]]
    for i in idx[1:]:  # one point per extreme: drop neighbours on a flat top
        if i - keep[-1] > 1:
            keep.append(i)
        elif abs(rho[i]) > abs(rho[keep[-1]]):
            keep[-1] = i
    keep_arr = np.array(keep)
    return t[keep_arr], rho[keep_arr]


TIGHT_MULTIPLICITY = 64  # most keys per extreme


def tight_pairs(coeffs: np.ndarray, radius: float) -> list[tuple[float, float, int, int, float]]:
    """Pairs of extremes ``(t_a, t_b, m_a, m_b, fraction)`` with ``ρ(t_a) > 0 > ρ(t_b)``, best
    predicted fraction of ``ε/(1−ε)`` first: ``m_a`` keys at ``t_a`` with value +1 and ``m_b`` at
    ``t_b`` with value −1 give the error ``2 S_a S_b (ρ_a − ρ_b)/(1 + ρ̄)``, largest when the
    softmax masses ``S_a ∝ m_a e^{t_a}`` and ``S_b`` are equal."""
    t, rho = relative_error_extremes(coeffs, radius)
    top = float(np.abs(rho).max())
    out = []
    for a in np.flatnonzero(rho > 0):
        for b in np.flatnonzero(rho < 0):
            w = math.exp(t[a] - t[b])  # mass of one key at t_a over one at t_b
            best = (0.0, 1, 1)
            for m_a in range(1, TIGHT_MULTIPLICITY + 1):
                m_b = min(TIGHT_MULTIPLICITY, max(1, round(m_a * w)))
                s_a = m_a * w / (m_a * w + m_b)
                mean = s_a * rho[a] + (1 - s_a) * rho[b]
                err = 2 * s_a * (1 - s_a) * (rho[a] - rho[b]) / (1 + mean)
                best = max(best, (err / (top / (1 - top)), m_a, m_b))
            out.append((float(t[a]), float(t[b]), best[1], best[2], best[0]))
    return sorted(out, key=lambda p: -p[4])


def tight_case(
    radius: float,
    eps: float,
    *,
    pair: int = 0,
    queries: int = 1,
    scale: float | str = 1.0,
    offset: float = 0.0,
    sign: float = 1.0,
) -> AttentionCase:
    """The tight family at ``(R, ε)``: ``d = 1``, ``queries`` equal queries, keys at the
    ``pair``-th best pair of :func:`tight_pairs` of the reference fit, values ``offset ± 1``.

    >>> from verify.claims.efficiency.strategies import tight_case
    >>> c = tight_case(1.0, 1e-3)
    >>> c.q.shape[1], sorted(set(c.v.ravel().tolist()))
    (1, [-1.0, 1.0])
    """
    fit = fit_exp(radius, eps)
    pairs = tight_pairs(fit.coeffs, radius)
    t_a, t_b, m_a, m_b, _ = pairs[min(pair, len(pairs) - 1)]
    s = resolve_scale(scale, 1)
    shrink = 1 - 1e-12  # logits just inside [-R, R] despite rounding
    q = np.ones((queries, 1))  # (n, 1)
    k = np.array([t_a] * m_a + [t_b] * m_b)[:, None] * (shrink / s)  # (m, 1)
    v = offset + sign * np.array([1.0] * m_a + [-1.0] * m_b)[:, None]  # (m, 1)
    return AttentionCase(q, k, v, np.ones((queries, 1)), scale, radius, eps, pair)


@st.composite
def tight_attention_cases(
    draw: st.DrawFn,
    *,
    radii: st.SearchStrategy[float] = RADII,
    epsilons: st.SearchStrategy[float] = EPSILONS,
) -> AttentionCase:
    """The adversarial tight family (:func:`tight_case`) over drawn ``(R, ε)``, pair, number
    of queries, scale, value offset and sign."""
    return tight_case(
        draw(radii),
        draw(epsilons),
        pair=draw(st.integers(0, 2)),
        queries=draw(st.integers(1, 4)),
        scale=draw(TIGHT_SCALES),
        offset=draw(st.sampled_from([0.0, 3.0, -100.0])),
        sign=draw(st.sampled_from([1.0, -1.0])),
    )


@st.composite
def large_offset_cases(draw: st.DrawFn, *, max_rows: int = 24) -> AttentionCase:
    """Random cases whose values sit at an offset of ``±1e12 … 1e15``: there the rounding of
    the computed path (the add-back of the centre) dominates the certified bound, so these
    are the cases that test its rounding term."""
    case = draw(attention_cases(max_rows=max_rows))
    offset = draw(st.sampled_from([1e12, 1e14, 1e15])) * draw(st.sampled_from([1.0, -1.0]))
    return dataclasses.replace(case, v=case.v + offset)


def fast_attention_cases(*, near_budget: bool = False) -> st.SearchStrategy[AttentionCase]:
    """The evidence of the ``fast_attention_error`` bound check: random cases, large value
    offsets (and, with ``near_budget``, ``d = 8`` near the rank budget). The adversarial tight
    family is an attainment check of its own and never evidence; plants draw it too
    (:func:`fast_attention_plant_cases`)."""
    parts = [attention_cases(), large_offset_cases()]
    if near_budget:
        parts.append(near_budget_cases())
    return st.one_of(*parts)


def fast_attention_plant_cases(*, near_budget: bool = False) -> st.SearchStrategy[AttentionCase]:
    """The cases on which the plants of ``fast_attention_error`` must be caught: the evidence
    and the tight family (a fit 3× worse than reported shows only near the bound)."""
    return st.one_of(fast_attention_cases(near_budget=near_budget), tight_attention_cases())


@dataclass(frozen=True)
class FitPair:
    """Two fit requests with ``R1 <= R2`` and ``eps1 >= eps2`` (the second is harder)."""

    radius_1: float
    eps_1: float
    radius_2: float
    eps_2: float
    method: str


@st.composite
def fit_pairs(draw: st.DrawFn) -> FitPair:
    """Ordered pairs of ``(R, eps)`` for the degree-monotonicity property: neighbours on the
    grids (the sharpest test; monotonicity on neighbours implies it everywhere) or any two."""
    if draw(st.booleans()):
        i = draw(st.integers(0, len(RADIUS_GRID) - 1))
        j = draw(st.integers(0, len(EPSILON_GRID) - 1))
        i2 = min(i + draw(st.integers(0, 1)), len(RADIUS_GRID) - 1)
        j2 = min(j + draw(st.integers(0, 1)), len(EPSILON_GRID) - 1)
        r1, r2, e1, e2 = RADIUS_GRID[i], RADIUS_GRID[i2], EPSILON_GRID[j], EPSILON_GRID[j2]
    else:
        r1, r2 = sorted((draw(RADII), draw(RADII)))
        e1, e2 = sorted((draw(EPSILONS), draw(EPSILONS)), reverse=True)
    return FitPair(r1, e1, r2, e2, draw(FIT_METHODS))


@dataclass(frozen=True)
class PromptCacheCase:
    """A random model, a prompt, a batch of inputs and a declared radius covering them."""

    model: Transformer
    prompt: np.ndarray  # (Lp, D)
    xs: np.ndarray  # (B, L, d)
    ys: np.ndarray  # (B, L, d)
    radius: float
    eps: float
    seed: int

    def __repr__(self) -> str:
        return (
            f"PromptCacheCase(d={self.model.d}, D={self.model.width}, "
            f"Lp={self.prompt.shape[0]}, B={self.xs.shape[0]}, L={self.xs.shape[1]}, "
            f"R={self.radius:.4g}, eps={self.eps}, seed={self.seed})"
        )


def needed_radius(model: Transformer, prompt: np.ndarray, xs: np.ndarray) -> float:
    """``scale · max‖q‖ · max‖k‖`` over the inputs' queries and all keys (prompt and inputs)."""
    h_p = prompt
    for layer in model.ffn_in:
        h_p = layer(h_p)
    k_p = h_p @ model.attn.w_k  # (Lp, dk)
    _, q, k_x, _ = input_projections(model, xs)
    q_norm = max_row_norm(q.reshape(-1, q.shape[-1]))
    k_norm = max(max_row_norm(k_p), max_row_norm(k_x.reshape(-1, k_x.shape[-1])))
    return model.attn.scale * q_norm * k_norm


@st.composite
def prompt_cache_cases(
    draw: st.DrawFn, *, max_prompt: int = 64, epsilons: st.SearchStrategy[float] = EPSILONS
) -> PromptCacheCase:
    """A random model and prompt in a drawn norm regime: the query weights are rescaled so the
    needed radius is ``target``; the declared radius is ``target · (1 + slack)``."""
    d = draw(st.integers(1, 3))
    width = d + draw(st.integers(0, 2))
    length = draw(st.integers(1, 5))
    lp = draw(st.integers(1, max_prompt))
    batch = draw(st.integers(1, 3))
    prompt_scale = draw(st.sampled_from([0.1, 0.5, 1.0]))
    slack = draw(st.sampled_from([0.0, 0.5]))
    eps = draw(epsilons)
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    model = Transformer.random(
        d,
        rng=rng,
        width=width,
        key_width=draw(st.integers(1, 3)),
        value_width=draw(st.integers(1, 3)),
        ffn_in_layers=draw(st.integers(0, 1)),
        ffn_out_layers=draw(st.integers(0, 1)),
        weight_scale=draw(st.sampled_from([0.5, 1.0])),
    )
    prompt = rng.standard_normal((lp, width)) * prompt_scale  # (Lp, D)
    xs = rng.random((batch, length, d))  # (B, L, d)
    ys = rng.random((batch, length, d))  # (B, L, d)
    # rescale the query weights so the logits fill [-target, target]: an explicit norm regime
    target = draw(st.sampled_from([0.1, 0.5, 1.0, 2.0, 4.0, 6.0]))
    needed = needed_radius(model, prompt, xs)
    if needed > 0:
        shrink = target * (1 - 1e-9) / needed  # just inside the target despite rounding
        attn = dataclasses.replace(model.attn, w_q=model.attn.w_q * shrink)
        model = dataclasses.replace(model, attn=attn)
    radius = target * (1.0 + slack)
    return PromptCacheCase(model, prompt, xs, ys, radius, eps, seed)
