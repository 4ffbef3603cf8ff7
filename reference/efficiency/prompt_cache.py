"""Prompt-tuning inference and training with caches (theory.md §5, "Prompt caching").

A prompt's keys and values are the same for every input, so they are computed once:

* :class:`PolynomialPromptCache` — stores ``S_P = ψ(K_P)ᵀ [V_P − c, 1]`` ``(r, d_v + 1)`` (``c``
  the prompt values' per-column mid-range); each input then costs ``O(L · r · d_v)`` whatever
  ``Lp`` is, with the certified attention error ``ε/(1 − ε) · (max V − min V)/2`` per column
  plus the rounding of the computed path (as :func:`reference.fast_attention`), carried to the
  model output by max-norm Lipschitz constants.
* :class:`ExactPromptCache` — the honest exact baseline: ``K_P, V_P`` cached, exact attention per
  input in ``O(L · (Lp + L) · d)``.
* :class:`InputBlockCache` — for training: per example, everything that does not depend on the
  prompt (``FFN_in`` of the inputs, their queries, keys, values and the exponentiated input–input
  logits) is cached, so an exact loss-and-gradient step costs ``O(B · L · Lp · d)``.

All three agree with :func:`reference.prompt_forward` / :func:`reference.prompt_loss_and_grad`
(the polynomial cache within its certified tolerance, the exact ones to rounding). float64 only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference._threads import one_blas_thread_below
from reference._validation import as_array, open_unit_interval, positive_float, positive_int
from reference.efficiency.certificate import (
    _certified_output_bound,
    centred_values,
    rounding_bound,
    rounding_relative,
)
from reference.efficiency.features import FeatureMap
from reference.efficiency.planning import max_row_norm
from reference.efficiency.polyfit import (
    UNIT_ROUNDOFF,
    ExpFit,
    FastAttentionRefused,
    _fit_exp,
    check_method,
)
from reference.efficiency.polynomial import apply_summary, key_summary
from reference.model.attention import DEFAULT_CHUNK_ELEMENTS, attention
from reference.model.prompt_tuning import (
    _check_inputs,
    _check_prompt,
    check_finite_result,
    check_model,
    head_loss_and_grad,
    query_blocks,
)
from reference.model.transformer import Transformer, stack_backward, stack_forward

#: The public API (the projection helpers are the caches' steps, called with a checked model and
#: inputs). The caches check their arguments once; the prompt's and inputs' keys and values are
#: computed, so their features are still checked on the way (FeatureMap.raw: a model that
#: overflows float64 is refused there).
__all__ = ["CachedForward", "ExactPromptCache", "InputBlockCache", "PolynomialPromptCache"]


def _ffn_in(model: Transformer, h: np.ndarray) -> np.ndarray:
    for layer in model.ffn_in:
        h = layer(h)  # (..., D)
    return h


def after_attention(model: Transformer, h_x: np.ndarray, o: np.ndarray) -> np.ndarray:
    """Residual, ``FFN_out`` and read-out: ``(..., L, d)`` from ``h_x (..., L, D)`` and the
    attention output ``o (..., L, d_v)``."""
    h = h_x + o @ model.attn.w_o  # (..., L, D)
    for layer in model.ffn_out:
        h = layer(h)
    return h @ model.readout  # (..., L, d)


def _max_norm_gain(w: np.ndarray) -> float:
    """``sup ‖h w‖_max / ‖h‖_max`` over row vectors ``h``: the largest column abs-sum of ``w``."""
    return float(np.abs(w).sum(axis=0).max()) if w.size else 0.0


def output_gain(model: Transformer) -> float:
    """A max-norm Lipschitz constant of ``o ↦`` model output (``w_o``, ``FFN_out``, read-out).

    Each residual ReLU layer contributes ``1 + gain(w1)·gain(w2)`` (ReLU is 1-Lipschitz).

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.efficiency.prompt_cache import _max_norm_gain, output_gain
    >>> m = Transformer.random(2, rng=np.random.default_rng(0), width=3, ffn_out_layers=0)
    >>> output_gain(m) == _max_norm_gain(m.attn.w_o) * _max_norm_gain(m.readout)
    True
    """
    gain = _max_norm_gain(model.attn.w_o)
    for layer in model.ffn_out:
        gain *= 1.0 + _max_norm_gain(layer.w1) * _max_norm_gain(layer.w2)
    return gain * _max_norm_gain(model.readout)


def _prompt_keys_values(model: Transformer, prompt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The prompt's keys ``(Lp, dk)`` and values ``(Lp, dv)``; refuses (naming ``prompt``)
    keys or values that overflow float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        h_p = _ffn_in(model, prompt.astype(np.float64))  # (Lp, D)
        k_p, v_p = h_p @ model.attn.w_k, h_p @ model.attn.w_v  # (Lp, dk), (Lp, dv)
    keys_values = np.concatenate([k_p.ravel(), v_p.ravel()])
    check_finite_result(keys_values, "the keys and values", prompt=prompt)
    return k_p, v_p


def input_projections(
    model: Transformer, x: np.ndarray, name: str = "x"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``FFN_in`` of the embedded inputs ``(B, L, D)`` and their queries, keys and values;
    refuses (naming ``name``, the argument ``x`` came from) any that overflow float64."""
    attn = model.attn
    with np.errstate(over="ignore", invalid="ignore"):
        h_x = _ffn_in(model, model.embed_inputs(x.astype(np.float64)))  # (B, L, D)
        out = h_x, h_x @ attn.w_q, h_x @ attn.w_k, h_x @ attn.w_v
    projected = np.concatenate([a.ravel() for a in out])
    check_finite_result(projected, "the queries, keys and values", **{name: x})
    return out


def _as_batch(model: Transformer, x: object) -> tuple[np.ndarray, bool]:
    """Inputs ``x`` checked against a checked ``model``, as a batch, and whether it was one
    sequence."""
    arr = _check_inputs(model, "x", x)
    return (arr[None], True) if arr.ndim == 2 else (arr, False)


@dataclass(frozen=True)
class ExactPromptCache:
    """Exact prompt-tuning inference with the prompt's keys and values cached.

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.efficiency.prompt_cache import ExactPromptCache
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(2, rng=rng, width=4)
    >>> p, x = rng.standard_normal((5, 4)), rng.random((3, 2))
    >>> from reference import prompt_forward
    >>> bool(np.allclose(ExactPromptCache.build(m, p).forward(x), prompt_forward(m, p, x)))
    True
    """

    model: Transformer
    keys: np.ndarray  # (Lp, dk)
    values: np.ndarray  # (Lp, dv)

    @classmethod
    def build(cls, model: Transformer, prompt: np.ndarray) -> ExactPromptCache:
        model = check_model(model)
        k_p, v_p = _prompt_keys_values(model, _check_prompt(model, prompt))
        return cls(model, k_p, v_p)

    def _attend(self, q: np.ndarray, k_x: np.ndarray, v_x: np.ndarray) -> np.ndarray:
        """Exact attention ``(B, L, d_v)`` of the input queries over ``[K_P; K_X]``."""
        return np.stack(
            [
                attention(
                    q[b],
                    np.concatenate([self.keys, k_x[b]]),  # (Lp+L, dk)
                    np.concatenate([self.values, v_x[b]]),  # (Lp+L, dv)
                    scale=self.model.attn.scale,
                )
                for b in range(q.shape[0])
            ]
        )  # (B, L, dv)

    def attention_output(self, x: np.ndarray) -> np.ndarray:
        """The attention output ``o`` of the input rows: ``(L, d_v)`` or ``(B, L, d_v)``."""
        xb, single = _as_batch(self.model, x)
        out = self._attend(*input_projections(self.model, xb)[1:])  # (B, L, dv)
        return out[0] if single else out

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Same as ``prompt_forward(model, prompt, x)``."""
        xb, single = _as_batch(self.model, x)
        h_x, q, k_x, v_x = input_projections(self.model, xb)
        with np.errstate(over="ignore", invalid="ignore"):
            out = after_attention(self.model, h_x, self._attend(q, k_x, v_x))  # (B, L, d)
        check_finite_result(out, "the output", x=xb)
        return out[0] if single else out


@dataclass(frozen=True)
class CachedForward:
    """Output of :meth:`PolynomialPromptCache.forward` with its certified tolerances."""

    output: np.ndarray  # (L, d) or (B, L, d)
    attention_output: np.ndarray  # (L, dv) or (B, L, dv)
    attention_bound: float  # ‖attention_output − exact‖_max <= (approximation + rounding)
    output_bound: float  # ‖output − prompt_forward‖_max <=
    rounding_bound: float = 0.0  # the rounding part of attention_bound


@dataclass(frozen=True)
class PolynomialPromptCache:
    """Prompt-tuning inference by the polynomial method with the prompt summarised once.

    ``radius`` is declared when the cache is built: every input whose logits could leave
    ``[-radius, radius]`` (``scale · max‖q‖ · max‖k‖`` over the input's queries and all keys) is
    refused; so is a prompt whose summary overflows float64 and an input whose rounding term
    exceeds ``eps`` (:class:`reference.FastAttentionRefused`, naming the argument).

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.efficiency.prompt_cache import PolynomialPromptCache
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(2, rng=rng, width=4)
    >>> p, x = 0.5 * rng.standard_normal((50, 4)), rng.random((3, 2))
    >>> cache = PolynomialPromptCache.build(m, p, eps=1e-3, radius=4.0)
    >>> res = cache.forward(x)
    >>> from reference import prompt_forward
    >>> bool(np.max(np.abs(res.output - prompt_forward(m, p, x))) <= res.output_bound)
    True
    """

    model: Transformer
    fit: ExpFit
    features: FeatureMap
    summary: np.ndarray  # (r, dv+1) = ψ(K_P)ᵀ [V_P − c, 1]
    key_norm: float  # max ‖K_P row‖
    value_center: np.ndarray  # (dv,) c, the prompt values' mid-range
    value_low: np.ndarray  # (dv,) min V_P per column
    value_high: np.ndarray  # (dv,) max V_P per column
    gain: float  # output_gain(model)
    prompt_length: int  # Lp, keys in the summary

    @classmethod
    def build(
        cls,
        model: Transformer,
        prompt: np.ndarray,
        *,
        eps: float,
        radius: float,
        fit_method: str = "minimax",
    ) -> PolynomialPromptCache:
        model = check_model(model)
        p = _check_prompt(model, prompt)
        if p.dtype == object:
            raise TypeError("prompt: expected float32 or float64, got object (mpmath)")
        eps = open_unit_interval("eps", eps)
        radius = positive_float("radius", radius)
        k_p, v_p = _prompt_keys_values(model, p)
        scale = model.attn.scale
        fit = _fit_exp(radius, eps, check_method(fit_method, "fit_method"))
        features = FeatureMap.build(fit.coeffs, dim=k_p.shape[1], scale=scale)
        shifted, center = centred_values(v_p)[:2]
        try:
            summary = key_summary(features, k_p, shifted)  # (r, dv+1)
        except FastAttentionRefused as exc:
            raise FastAttentionRefused(
                f"prompt: the prompt's summary ψ(K_P)ᵀ[V_P, 1] overflows float64 ({exc})"
            ) from None
        return cls(
            model,
            fit,
            features,
            summary,
            max_row_norm(k_p),
            center,
            v_p.min(axis=0, initial=0.0) if v_p.shape[0] == 0 else v_p.min(axis=0),
            v_p.max(axis=0, initial=0.0) if v_p.shape[0] == 0 else v_p.max(axis=0),
            output_gain(model),
            k_p.shape[0],
        )

    @property
    def rank(self) -> int:
        return self.features.rank

    def forward(self, x: np.ndarray) -> CachedForward:
        """Model output for ``x (L, d)`` or ``(B, L, d)`` in ``O(B · L · r · d_v)``."""
        xb, single = _as_batch(self.model, x)
        if xb.dtype == object:
            raise TypeError("x: expected float32 or float64, got object (mpmath)")
        h_x, q, k_x, v_x = input_projections(self.model, xb)
        products = 2 * xb.shape[1] * self.rank * (v_x.shape[-1] + 1)  # (L, r) @ (r, dv + 1)
        with one_blas_thread_below(products):  # small products: one BLAS thread is faster
            c = self.value_center  # (dv,)
            half_p = np.abs(np.stack([self.value_low - c, self.value_high - c])).max(axis=0)
            attended = [
                self._attend_one(b, q[b], k_x[b], v_x[b], half_p) for b in range(xb.shape[0])
            ]
        outs = [a[0] for a in attended]
        total = max((a[1] for a in attended), default=0.0)
        rounding = max((a[2] for a in attended), default=0.0)
        o = np.stack(outs)  # (B, L, dv)
        with np.errstate(over="ignore", invalid="ignore"):
            out = after_attention(self.model, h_x, o)  # (B, L, d)
        check_finite_result(out, "the output", x=xb)
        return CachedForward(
            out[0] if single else out,
            o[0] if single else o,
            total,
            total * self.gain,
            rounding,
        )

    def _attend_one(
        self, b: int, q: np.ndarray, k_x: np.ndarray, v_x: np.ndarray, half_p: np.ndarray
    ) -> tuple[np.ndarray, float, float]:
        """Attention output ``(L, d_v)`` of input ``b`` (queries ``q``, keys ``k_x``, values
        ``v_x`` of its rows) against prompt and inputs, its certified bound and rounding part
        (``half_p``: the prompt values' half-width about the centre, the same for every input)."""
        c = self.value_center  # (dv,)
        scale = self.model.attn.scale
        kn = max(self.key_norm, max_row_norm(k_x))
        qn = max_row_norm(q)
        if scale * qn * kn > self.fit.radius:
            raise FastAttentionRefused(
                f"x: input {b} needs a logit radius {scale * qn * kn:.6g}, above the cache's "
                f"declared radius {self.fit.radius:.6g}; refusing to extrapolate"
            )
        relative = rounding_relative(self.fit, self.prompt_length + k_x.shape[0], self.rank)
        if relative > self.fit.eps:
            raise FastAttentionRefused(
                f"x: input {b}: rounding of the computed path (relative {relative:.3g}) "
                f"exceeds eps = {self.fit.eps:.3g}"
            )
        shifted = v_x - c  # (L, dv)
        try:
            summary = self.summary + key_summary(self.features, k_x, shifted)
        except FastAttentionRefused as exc:
            raise FastAttentionRefused(f"x: input {b}: {exc}") from None
        out = apply_summary(self.features, q, summary) + c  # (L, dv)
        spread = np.maximum(self.value_high, v_x.max(axis=0)) - np.minimum(
            self.value_low, v_x.min(axis=0)
        )  # (dv,)
        half = np.maximum(half_p, np.abs(shifted).max(axis=0)) * (1 + 2 * UNIT_ROUNDOFF)
        spread = spread * (1 + 2 * UNIT_ROUNDOFF)
        approx = _certified_output_bound(self.fit.certified_error, spread)  # (dv,)
        round_b = rounding_bound(relative, half, c)  # (dv,)
        return out, float((approx + round_b).max()), float(round_b.max())


@dataclass(frozen=True)
class InputBlockCache:
    """Exact prompt loss and gradient with the prompt-independent work cached per example.

    The input–input attention of every query row is cached as its row maximum, its sum of
    weights and its weighted value sum (``O(B·L·d_v)``, never the ``(B, L, L)`` weights); the
    prompt logits are formed in blocks of query rows of at most ``chunk_elements`` entries, so
    memory is linear in ``Lp + L``.

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.efficiency.prompt_cache import InputBlockCache
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(2, rng=rng, width=3)
    >>> xs, ys, p = rng.random((4, 3, 2)), rng.random((4, 3, 2)), rng.standard_normal((5, 3))
    >>> from reference import prompt_loss_and_grad
    >>> loss, grad = InputBlockCache.build(m, xs, ys).loss_and_grad(p)
    >>> ref_loss, ref_grad = prompt_loss_and_grad(m, p, xs, ys)
    >>> bool(np.isclose(loss, ref_loss) and np.allclose(grad, ref_grad))
    True
    """

    model: Transformer
    h_x: np.ndarray  # (B, L, D) after FFN_in
    q: np.ndarray  # (B, L, dk)
    rowmax_xx: np.ndarray  # (B, L) max_j l_ij over the input keys
    sum_xx: np.ndarray  # (B, L) Σ_j exp(l_ij − rowmax)
    values_xx: np.ndarray  # (B, L, dv) Σ_j exp(l_ij − rowmax) v_j
    ys: np.ndarray  # (B, L, d)
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS

    @classmethod
    def build(
        cls,
        model: Transformer,
        xs: np.ndarray,
        ys: np.ndarray,
        *,
        chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    ) -> InputBlockCache:
        model = check_model(model)
        xb = _check_inputs(model, "xs", xs)
        xb = xb[None] if xb.ndim == 2 else xb
        y = as_array("ys", ys, ndim=(2, 3)).astype(np.float64)  # the cache is float64
        y = y[None] if y.ndim == 2 else y
        if y.shape != xb.shape:
            raise ValueError(f"ys: expected the shape of xs {xb.shape}, got {y.shape}")
        chunk_elements = positive_int("chunk_elements", chunk_elements)
        with np.errstate(over="ignore", invalid="ignore"):
            h_x, q, k_x, v_x = input_projections(model, xb, "xs")
            batch, length = xb.shape[:2]
            rowmax, total = np.empty((batch, length)), np.empty((batch, length))  # (B, L)
            values = np.empty((batch, length, v_x.shape[-1]))  # (B, L, dv)
            kt = np.swapaxes(k_x, 1, 2)  # (B, dk, L)
            for bs, rs in query_blocks(batch, length, length, chunk_elements):
                logits = (q[bs, rs] @ kt[bs]) * model.attn.scale  # (b, c, L)
                top = logits.max(axis=-1)  # (b, c)
                e = np.exp(logits - top[..., None])  # (b, c, L)
                rowmax[bs, rs], total[bs, rs], values[bs, rs] = top, e.sum(axis=-1), e @ v_x[bs]
        check_finite_result(
            np.concatenate([a.ravel() for a in (h_x, q, rowmax, total, values)]),
            "the inputs' attention",
            xs=xb,
        )
        return cls(model, h_x, q, rowmax, total, values, y, chunk_elements)

    def loss_and_grad(self, prompt: np.ndarray) -> tuple[float, np.ndarray]:
        """Same as ``prompt_loss_and_grad(model, prompt, xs, ys)`` in ``O(B·L·Lp·d)``."""
        model = self.model
        p = _check_prompt(model, prompt).astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            h, pre_in = stack_forward(model.ffn_in, p)  # (Lp, D)
            k_p, v_p = h @ model.attn.w_k, h @ model.attn.w_v  # (Lp, dk), (Lp, dv)
            finite = bool(np.all(np.isfinite(k_p)) and np.all(np.isfinite(v_p)))
            loss, grad_k, grad_v = self._blocks(k_p, v_p) if finite else (np.inf, k_p, v_p)
            g = grad_k @ model.attn.w_k.T + grad_v @ model.attn.w_v.T  # (Lp, D)
            grad = stack_backward(model.ffn_in, pre_in, g)  # (Lp, D)
        check_finite_result(grad, "the loss gradient", prompt=p)
        check_finite_result(loss, "the loss", prompt=p)
        return loss, grad

    def _blocks(self, k_p: np.ndarray, v_p: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Loss and the gradients w.r.t. the prompt keys ``(Lp, dk)`` and values ``(Lp, dv)``,
        in blocks of query rows (the ``(b, c, Lp)`` prompt weights of one block at a time)."""
        model, scale = self.model, self.model.attn.scale
        batch, length = self.q.shape[:2]
        loss, grad_k, grad_v = 0.0, np.zeros_like(k_p), np.zeros_like(v_p)
        for bs, rs in query_blocks(batch, length, k_p.shape[0], self.chunk_elements):
            q = self.q[bs, rs]  # (b, c, dk)
            logits_p = (q @ k_p.T) * scale  # (b, c, Lp)
            top = np.maximum(self.rowmax_xx[bs, rs], logits_p.max(axis=-1, initial=-np.inf))
            e_p = np.exp(logits_p - top[..., None])  # (b, c, Lp)
            shift = np.exp(self.rowmax_xx[bs, rs] - top)  # (b, c) rescales the input block
            total = e_p.sum(axis=-1) + self.sum_xx[bs, rs] * shift  # (b, c)
            o = (e_p @ v_p + self.values_xx[bs, rs] * shift[..., None]) / total[..., None]
            part, _, grad_o = head_loss_and_grad(
                model, self.h_x[bs, rs], o, self.ys[bs, rs], self.ys.size
            )  # grad_o (b, c, dv)
            loss += part
            s_p = e_p / total[..., None]  # (b, c, Lp)
            delta = (grad_o * o).sum(axis=-1, keepdims=True)  # (b, c, 1)
            grad_logits = s_p * (grad_o @ v_p.T - delta)  # (b, c, Lp)
            grad_k += np.einsum("blp,blk->pk", grad_logits, q) * scale  # (Lp, dk)
            grad_v += np.einsum("blp,blv->pv", s_p, grad_o)  # (Lp, dv)
        return loss, grad_k, grad_v
