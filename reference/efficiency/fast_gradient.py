"""Low-rank attention gradients with respect to keys and values (theory.md §5, "Gradient").

Scope: the gradient of the attention layer ``O = softmax(scale · Q Kᵀ) V`` with respect to the
**keys and values** (what a prompt's rows feed), for a given upstream gradient ``G = ∂loss/∂O``;
and, built on it, the prompt gradient of a whole model, :func:`fast_prompt_loss_and_grad`.

With ``S̃ = diag(D̃)^{-1} φ(Q) ψ(K)ᵀ`` (``φ, ψ`` the multinomial features of a relative-error
fit, ``D̃ = φ(Q) ψ(K)ᵀ 1``) and ``δ_i = ⟨G_i, Õ_i⟩``, the softmax backward
``dZ = S̃ ∘ (G Vᵀ) − diag(δ) S̃`` gives, never forming an ``n × m`` matrix
(Alman–Song 2024: row-wise Kronecker products of the factors):

    dV_j = ψ(k_j)ᵀ A₁,                     A₁ = Σ_i φ(q_i) G_iᵀ / D̃_i              (r, d_v)
    dK_j = scale · (Σ_a V_ja ψ(k_j)ᵀ A₃[:, a, :] − ψ(k_j)ᵀ A₂),
                                            A₂ = Σ_i φ(q_i) δ_i q_iᵀ / D̃_i         (r, d_k)
                                            A₃ = Σ_i φ(q_i) (G_i ⊗ q_i)ᵀ / D̃_i     (r, d_v·d_k)

in ``O((n + m) · r · d_v · d_k)`` time. Certified tolerances (our derivation, with ``ε`` the fit's
certified relative error, ``η = 2ε/(1−ε)``, ``κ = (1+ε)/(1−ε)`` and the computable column sums
``c̃_j = Σ_i S̃_ij``; every weight satisfies ``|S̃_ij − S_ij| <= η S_ij`` and ``S_ij <= κ S̃_ij``):

    ‖dṼ − dV‖_max <= η · κ · ‖G‖_max · max_j c̃_j
    ‖dK̃ − dK‖_max <= η · (2κ + 1) · scale · ‖Q‖_max · ‖V‖_max · max_i ‖G_i‖_1 · max_j c̃_j

For the whole model (:func:`fast_prompt_loss_and_grad`) the upstream gradient itself comes from the
approximate forward pass, so no certified bound is claimed there; it is compared with
:func:`reference.prompt_loss_and_grad` in the tests and the report (error shrinking with ``ε``).

The public functions check their arguments once. :func:`low_rank_key_value_grad` then works on
checked arrays (``FeatureMap._raw``); :func:`fast_prompt_loss_and_grad` computes its keys and
queries through the model, so their features are checked on the way (``FeatureMap.raw``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reference._threads import one_blas_thread_below
from reference._validation import (
    NumericalOverflow,
    as_array,
    check_dim,
    check_qkv,
    open_unit_interval,
    positive_float,
)
from reference.efficiency.features import FeatureMap
from reference.efficiency.planning import (
    _certifiable_radius,
    _declared_radius,
    _refuse_uncertifiable,
    guaranteed_radius,
    max_row_norm,
)
from reference.efficiency.polyfit import ExpFit, FastAttentionRefused, _fit_exp, check_method
from reference.efficiency.polynomial import RawFeatures, _key_summary, block_rows, key_summary
from reference.efficiency.prompt_cache import input_projections
from reference.model.attention import DEFAULT_CHUNK_ELEMENTS, _resolve_scale
from reference.model.prompt_tuning import (
    _check_inputs,
    _check_prompt,
    check_finite_result,
    check_model,
    head_loss_and_grad,
)
from reference.model.transformer import Transformer, stack_backward, stack_forward


@dataclass(frozen=True)
class KeyValueGrad:
    """``dK (m, d_k)``, ``dV (m, d_v)`` and, for the low-rank method, their certified bounds."""

    grad_k: np.ndarray
    grad_v: np.ndarray
    output: np.ndarray  # (n, dv) the forward output used for δ
    bound_k: float = 0.0
    bound_v: float = 0.0
    degree: int = -1
    rank: int = 0
    certified_relative_error: float = 0.0
    column_sum_max: float = 0.0  # max_j c̃_j = max_j Σ_i S̃_ij


def _check_qkvg(
    q: object, k: object, v: object, grad_out: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    q, k, v = check_qkv(q, k, v)
    g = as_array("grad_out", grad_out, ndim=2)
    check_dim("grad_out", g, 0, q.shape[0], "number of query rows (q.shape[0])")
    check_dim("grad_out", g, 1, v.shape[1], "value width (v.shape[1])")
    as64 = [np.asarray(a, dtype=np.float64) for a in (q, k, v, g)]
    return as64[0], as64[1], as64[2], as64[3]


def exact_key_value_grad(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, grad_out: np.ndarray, *, scale: float | str
) -> KeyValueGrad:
    """Exact ``dK, dV`` of ``softmax(scale · q kᵀ) v``, in query-row chunks (``O(n·m·d)``).

    >>> import numpy as np
    >>> from reference.efficiency.fast_gradient import exact_key_value_grad
    >>> q, k, v = np.zeros((1, 1)), np.zeros((2, 1)), np.array([[1.0], [3.0]])
    >>> exact_key_value_grad(q, k, v, np.ones((1, 1)), scale=1.0).grad_v.tolist()
    [[0.5], [0.5]]
    """
    q, k, v, g = _check_qkvg(q, k, v, grad_out)
    scale = _resolve_scale(scale, q.shape[1])
    n, m = q.shape[0], k.shape[0]
    rows = max(1, min(n, DEFAULT_CHUNK_ELEMENTS // max(m, 1)))  # query rows of one block
    flops = 2 * rows * m * max(q.shape[1], v.shape[1])  # the largest product of a block
    with np.errstate(over="ignore", invalid="ignore"), one_blas_thread_below(flops):
        result = _exact_key_value_grad(q, k, v, g, scale)
    _check_finite_grad(result)
    return result


def _check_finite_grad(result: KeyValueGrad) -> None:
    """Refuse (:class:`NumericalOverflow`, naming the inputs) a gradient that overflowed."""
    for what in ("grad_k", "grad_v", "output"):
        if not np.all(np.isfinite(getattr(result, what))):
            raise NumericalOverflow(
                f"q, k, v, grad_out, scale: the key/value gradient ({what}) overflows float64 for "
                "these finite inputs; rescale them"
            )


def _exact_key_value_grad(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, g: np.ndarray, scale: float
) -> KeyValueGrad:
    """:func:`exact_key_value_grad` on checked float64 arrays."""
    n, m = q.shape[0], k.shape[0]
    grad_k = np.zeros_like(k)  # (m, dk)
    grad_v = np.zeros_like(v)  # (m, dv)
    out = np.empty((n, v.shape[1]))  # (n, dv)
    rows = max(1, min(n, DEFAULT_CHUNK_ELEMENTS // m))
    qs = q * scale  # (n, dk)
    buf = np.empty((rows, m))  # (c, m) reused: logits -> weights
    for start in range(0, n, rows):
        sl = slice(start, min(n, start + rows))
        s = np.matmul(qs[sl], k.T, out=buf[: sl.stop - start])  # (c, m) logits
        s -= s.max(axis=1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)  # (c, m) softmax weights
        out[sl] = s @ v
        delta = np.einsum("ij,ij->i", g[sl], out[sl])  # (c,)
        grad_v += s.T @ g[sl]
        dz = g[sl] @ v.T  # (c, m)
        dz -= delta[:, None]
        dz *= s
        grad_k += dz.T @ q[sl]
    grad_k *= scale
    return KeyValueGrad(grad_k, grad_v, out)


def _block_output(raw: np.ndarray, weighted: np.ndarray, dv: int) -> tuple[np.ndarray, np.ndarray]:
    """``Õ`` rows ``(b, d_v)`` and denominators ``D̃`` ``(b,)`` of a query block from its raw
    features ``(r, b)`` and the φ-weighted summary ``(r, d_v + 1)``; asserts ``D̃ > 0`` as
    :func:`reference.efficiency.polynomial.apply_summary` does."""
    num = raw.T @ weighted  # (b, dv+1)
    den = num[:, dv]  # (b,)
    if not np.all(den > 0):
        raise FloatingPointError(
            "fast attention: non-positive denominator; the polynomial was evaluated "
            "outside its certified interval or the fit is broken"
        )
    return num[:, :dv] / den[:, None], den


def _summary_output(
    features: FeatureMap, q: np.ndarray, summary: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``apply_summary`` that also returns the denominators: ``Õ (n, d_v)``, ``D̃ (n,)``."""
    n, dv = q.shape[0], summary.shape[1] - 1
    weighted = summary * features.phi_weights[:, None]  # (r, dv+1)
    out, den = np.empty((n, dv)), np.empty(n)  # (n, dv), (n,)
    step = block_rows(features.rank)
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        out[sl], den[sl] = _block_output(features.raw(q[sl]), weighted, dv)
    return out, den


def _query_sums(
    raw: np.ndarray, den: np.ndarray, g: np.ndarray, delta: np.ndarray, q: np.ndarray
) -> np.ndarray:
    """One query block's share of ``A = Σ_i raw(q_i) [G_i, δ_i q_i, G_i ⊗ q_i, 1] / D̃_i``
    ``(r, d_v + d_k + d_v·d_k + 1)`` (the φψ weights are applied once to the total)."""
    b, dv = g.shape
    dk = q.shape[1]
    rows = np.empty((b, dv + dk + dv * dk + 1))  # (b, w)
    rows[:, :dv] = g
    rows[:, dv : dv + dk] = delta[:, None] * q
    rows[:, dv + dk : -1] = (g[:, :, None] * q[:, None, :]).reshape(b, -1)
    rows[:, -1] = 1.0
    return raw @ (rows / den[:, None])  # (r, w)


def _key_side(
    features: FeatureMap,
    acc: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    scale: float,
    raw: RawFeatures,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``dK (m, d_k)``, ``dV (m, d_v)`` and the column sums ``c̃ (m,)`` from ``ψ(k_j)ᵀ A``
    (``acc`` the weighted query sums of :func:`_query_sums`), in key blocks; the key features
    from ``raw`` (``features.raw`` or, for checked keys, ``features._raw``)."""
    m, dk = k.shape
    dv = v.shape[1]
    grad_k = np.empty((m, dk))  # (m, dk)
    grad_v = np.empty((m, dv))  # (m, dv)
    colsum = np.empty(m)  # (m,)
    step = block_rows(features.rank)
    for start in range(0, m, step):
        sl = slice(start, min(m, start + step))
        t = raw(k[sl], "x").T @ acc  # (b, w)
        grad_v[sl] = t[:, :dv]
        kron = t[:, dv + dk : -1].reshape(-1, dv, dk)  # (b, dv, dk)
        grad_k[sl] = scale * (np.einsum("ba,bak->bk", v[sl], kron) - t[:, dv : dv + dk])
        colsum[sl] = t[:, -1]
    return grad_k, grad_v, colsum


def low_rank_key_value_grad(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    grad_out: np.ndarray,
    *,
    scale: float | str,
    eps: float,
    R: float | None = None,
    fit_method: str = "minimax",
) -> KeyValueGrad:
    """``dK, dV`` by the low-rank factors, with certified bounds (module docstring).

    >>> import numpy as np
    >>> from reference.efficiency.fast_gradient import exact_key_value_grad, low_rank_key_value_grad
    >>> rng = np.random.default_rng(0)
    >>> q, k, v, g = (rng.random((30, 2)), rng.random((20, 2)), rng.random((20, 3)),
    ...               rng.random((30, 3)))
    >>> fast = low_rank_key_value_grad(q, k, v, g, scale=1.0, eps=1e-4)
    >>> exact = exact_key_value_grad(q, k, v, g, scale=1.0)
    >>> bool(np.max(np.abs(fast.grad_k - exact.grad_k)) <= fast.bound_k)
    True
    """
    q, k, v, g = _check_qkvg(q, k, v, grad_out)
    dk = q.shape[1]
    scale = _resolve_scale(scale, dk)
    eps = open_unit_interval("eps", eps)
    radius = _certifiable_radius(guaranteed_radius(q, k, scale), R, eps, "R")
    fit = _fit_exp(radius, eps, check_method(fit_method, "fit_method"))
    rank = math.comb(dk + fit.degree, fit.degree)
    widest = v.shape[1] + dk + v.shape[1] * dk + 1  # the query sums' width
    with (
        np.errstate(over="ignore", invalid="ignore"),
        one_blas_thread_below(2 * rank * block_rows(rank) * widest),
    ):
        result = _low_rank_key_value_grad(q, k, v, g, scale, fit)
    _check_finite_grad(result)
    if not (np.isfinite(result.bound_k) and np.isfinite(result.bound_v)):
        raise NumericalOverflow(
            "q, k, v, grad_out: the certified bound overflows float64 for these finite inputs; "
            "rescale them"
        )
    return result


def _low_rank_key_value_grad(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, g: np.ndarray, scale: float, fit: ExpFit
) -> KeyValueGrad:
    """:func:`low_rank_key_value_grad` on checked float64 arrays with a certified ``fit``."""
    n, dk = q.shape
    dv = v.shape[1]
    features = FeatureMap.build(fit.coeffs, dim=dk, scale=scale)  # refuses d = 0 (dim)
    r = features.rank
    step = block_rows(r)

    # one pass over query blocks: Õ, D̃, δ and the query sums
    #   A = Σ_i φ(q_i) [G_i, δ_i q_i, G_i ⊗ q_i, 1] / D̃_i   (r, dv + dk + dv·dk + 1)
    try:
        weighted = _key_summary(features, k, v, features._raw) * features.phi_weights[:, None]
    except FastAttentionRefused as exc:
        raise FastAttentionRefused(f"k, v: {str(exc).removeprefix('k: ')}") from None
    out = np.empty((n, dv))  # (n, dv)
    acc = np.zeros((r, dv + dk + dv * dk + 1))  # (r, w)
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        raw = features._raw(q[sl])  # (r, b)
        out[sl], den = _block_output(raw, weighted, dv)
        delta = np.einsum("ij,ij->i", g[sl], out[sl])  # (b,)
        acc += _query_sums(raw, den, g[sl], delta, q[sl])
    acc *= (features.phi_weights * features.psi_weights)[:, None]

    # key side: dV_j, dK_j and c̃_j from ψ(k_j)ᵀ A   (key blocks)
    grad_k, grad_v, colsum = _key_side(features, acc, k, v, scale, features._raw)

    e = fit.certified_error
    eta, kappa = 2 * e / (1 - e), (1 + e) / (1 - e)
    c_max = float(colsum.max())
    g_max = float(np.abs(g).max()) if g.size else 0.0
    g_row1 = float(np.abs(g).sum(axis=1).max()) if g.size else 0.0
    q_max = float(np.abs(q).max()) if q.size else 0.0
    v_max = float(np.abs(v).max()) if v.size else 0.0
    bound_v = eta * kappa * g_max * c_max
    bound_k = eta * (2 * kappa + 1) * scale * q_max * v_max * g_row1 * c_max
    return KeyValueGrad(grad_k, grad_v, out, bound_k, bound_v, fit.degree, r, e, c_max)


def fast_prompt_loss_and_grad(
    model: object,
    prompt: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    eps: float,
    radius: float,
    fit_method: str = "minimax",
) -> tuple[float, np.ndarray]:
    """MSE and its prompt gradient with polynomial attention forward and low-rank backward.

    The attention of each example is over ``[K_P; K_X]``; the prompt keys/values are summarised
    once per call, the per-example query sums ``A`` are added over the batch and applied to the
    prompt keys once, so the cost is ``O((B·L + Lp) · r · d_v · d_k)`` instead of
    ``O(B·L·(Lp + L)·d)``. Inputs that need a logit radius above ``radius`` are refused.

    >>> import numpy as np
    >>> from reference.efficiency.fast_gradient import fast_prompt_loss_and_grad
    >>> from reference import Transformer, prompt_loss_and_grad
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(2, rng=rng, width=3)
    >>> xs, ys, p = rng.random((2, 3, 2)), rng.random((2, 3, 2)), 0.3 * rng.random((4, 3))
    >>> loss, grad = fast_prompt_loss_and_grad(m, p, xs, ys, eps=1e-6, radius=2.0)
    >>> bool(np.allclose(grad, prompt_loss_and_grad(m, p, xs, ys)[1], atol=1e-5))
    True
    """
    model = check_model(model)
    p = _check_prompt(model, prompt).astype(np.float64)
    xb = _check_inputs(model, "xs", xs)
    y = as_array("ys", ys, ndim=(2, 3))
    if y.shape != xb.shape:
        raise ValueError(f"ys: expected the shape of xs {xb.shape}, got {y.shape}")
    if xb.ndim == 2:
        xb, y = xb[None], y[None]
    eps = open_unit_interval("eps", eps)
    radius = positive_float("radius", radius)
    attn = model.attn
    scale = attn.scale

    # ---- forward
    with np.errstate(over="ignore", invalid="ignore"):
        h, pre_in = stack_forward(model.ffn_in, p)  # (Lp, D)
        k_p, v_p = h @ attn.w_k, h @ attn.w_v  # (Lp, dk), (Lp, dv)
    check_finite_result(np.concatenate([k_p.ravel(), v_p.ravel()]), "the keys and values", prompt=p)
    h_x, q, k_x, v_x = input_projections(model, xb, "xs")  # (B, L, ·), refuses overflow
    needed = (
        scale
        * max_row_norm(q.reshape(-1, q.shape[-1]))
        * max(max_row_norm(k_p), max_row_norm(k_x.reshape(-1, k_x.shape[-1])))
    )
    if not np.isfinite(needed):
        raise FastAttentionRefused(
            "xs, prompt: the logit radius scale·max‖q‖·max‖k‖ of these inputs overflows float64"
        )
    _refuse_uncertifiable(needed, eps, "radius")  # refuses inputs that need more ...
    _declared_radius(needed, radius, "radius")  # ... than a fit can certify or is declared
    fit = _fit_exp(radius, eps, check_method(fit_method, "fit_method"))
    features = FeatureMap.build(fit.coeffs, dim=q.shape[-1], scale=scale)
    batch, length, _ = q.shape
    o = np.empty((batch, length, v_p.shape[1]))  # (B, L, dv)
    den = np.empty((batch, length))  # (B, L) D̃, kept for the backward
    with np.errstate(over="ignore", invalid="ignore"):
        prompt_summary = _named_summary("prompt", features, k_p, v_p)  # (r, dv+1)
        for b in range(batch):
            summary = prompt_summary + _named_summary("xs", features, k_x[b], v_x[b])
            o[b], den[b] = _summary_output(features, q[b], summary)  # (L, dv), (L,)

    with np.errstate(over="ignore", invalid="ignore"):
        loss, grad = _fast_backward(model, features, pre_in, (q, k_p, v_p, h_x, o, den), y)
    check_finite_result(grad, "the loss gradient", xs=xb, ys=y, prompt=p)
    check_finite_result(loss, "the loss", xs=xb, ys=y, prompt=p)
    return loss, grad


def _named_summary(name: str, features: FeatureMap, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """:func:`key_summary` ``(r, d_v + 1)`` whose refusal names the argument the keys and values
    came from (``name``)."""
    try:
        return key_summary(features, k, v)
    except FastAttentionRefused as exc:
        raise FastAttentionRefused(f"{name}: {str(exc).removeprefix('k: ')}") from None


def _fast_backward(
    model: Transformer,
    features: FeatureMap,
    pre_in: list,
    forward: tuple[np.ndarray, ...],
    y: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Loss and prompt gradient of :func:`fast_prompt_loss_and_grad` from its forward pass
    ``(q (B, L, dk), k_p (Lp, dk), v_p (Lp, dv), h_x (B, L, D), o (B, L, dv), D̃ (B, L))``."""
    q, k_p, v_p, h_x, o, den = forward
    attn, scale = model.attn, model.attn.scale
    batch, length, dk = q.shape
    dv = v_p.shape[1]
    # ---- loss and backward to the attention output
    loss, _, grad_o = head_loss_and_grad(model, h_x, o, y)  # grad_o (B, L, dv)
    delta = np.einsum("blv,blv->bl", grad_o, o)  # (B, L)

    # ---- query sums over the whole batch, applied once to the prompt keys
    acc = np.zeros((features.rank, dv + dk + dv * dk + 1))  # (r, w)
    step = block_rows(features.rank)
    for b in range(batch):
        for start in range(0, length, step):
            sl = slice(start, min(length, start + step))
            raw = features.raw(q[b, sl])  # (r, c)
            acc += _query_sums(raw, den[b, sl], grad_o[b, sl], delta[b, sl], q[b, sl])
    acc *= (features.phi_weights * features.psi_weights)[:, None]
    grad_k, grad_v, _ = _key_side(features, acc, k_p, v_p, scale, features.raw)
    grad_h = grad_k @ attn.w_k.T + grad_v @ attn.w_v.T  # (Lp, D)
    return loss, stack_backward(model.ffn_in, pre_in, grad_h)
