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

from reference._validation import as_array, open_unit_interval, positive_float
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
from reference.model.attention import attention
from reference.model.prompt_tuning import (
    _check_inputs,
    _check_prompt,
    check_model,
    head_loss_and_grad,
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
    h_p = _ffn_in(model, prompt.astype(np.float64))  # (Lp, D)
    return h_p @ model.attn.w_k, h_p @ model.attn.w_v  # (Lp, dk), (Lp, dv)


def input_projections(
    model: Transformer, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``FFN_in`` of the embedded inputs ``(B, L, D)`` and their queries, keys and values."""
    h_x = _ffn_in(model, model.embed_inputs(x.astype(np.float64)))  # (B, L, D)
    attn = model.attn
    return h_x, h_x @ attn.w_q, h_x @ attn.w_k, h_x @ attn.w_v


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
        out = after_attention(self.model, h_x, self._attend(q, k_x, v_x))  # (B, L, d)
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
        scale = self.model.attn.scale
        c = self.value_center  # (dv,)
        half_p = np.abs(np.stack([self.value_low - c, self.value_high - c])).max(axis=0)
        outs, total, rounding = [], 0.0, 0.0
        for b in range(xb.shape[0]):
            kn = max(self.key_norm, max_row_norm(k_x[b]))
            qn = max_row_norm(q[b])
            if scale * qn * kn > self.fit.radius:
                raise FastAttentionRefused(
                    f"x: input {b} needs a logit radius {scale * qn * kn:.6g}, above the cache's "
                    f"declared radius {self.fit.radius:.6g}; refusing to extrapolate"
                )
            relative = rounding_relative(self.fit, self.prompt_length + k_x[b].shape[0], self.rank)
            if relative > self.fit.eps:
                raise FastAttentionRefused(
                    f"x: input {b}: rounding of the computed path (relative {relative:.3g}) "
                    f"exceeds eps = {self.fit.eps:.3g}"
                )
            shifted = v_x[b] - c  # (L, dv)
            try:
                summary = self.summary + key_summary(self.features, k_x[b], shifted)
            except FastAttentionRefused as exc:
                raise FastAttentionRefused(f"x: input {b}: {exc}") from None
            outs.append(apply_summary(self.features, q[b], summary) + c)  # (L, dv)
            spread = np.maximum(self.value_high, v_x[b].max(axis=0)) - np.minimum(
                self.value_low, v_x[b].min(axis=0)
            )  # (dv,)
            half = np.maximum(half_p, np.abs(shifted).max(axis=0)) * (1 + 2 * UNIT_ROUNDOFF)
            spread = spread * (1 + 2 * UNIT_ROUNDOFF)
            approx_b = _certified_output_bound(self.fit.certified_error, spread)  # (dv,)
            round_b = rounding_bound(relative, half, c)  # (dv,)
            total = max(total, float((approx_b + round_b).max()))
            rounding = max(rounding, float(round_b.max()))
        o = np.stack(outs)  # (B, L, dv)
        out = after_attention(self.model, h_x, o)  # (B, L, d)
        return CachedForward(
            out[0] if single else out,
            o[0] if single else o,
            total,
            total * self.gain,
            rounding,
        )


@dataclass(frozen=True)
class InputBlockCache:
    """Exact prompt loss and gradient with the prompt-independent work cached per example.

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
    v_x: np.ndarray  # (B, L, dv)
    weights_xx: np.ndarray  # (B, L, L) exp(l_XX − rowmax)
    rowmax_xx: np.ndarray  # (B, L)
    ys: np.ndarray  # (B, L, d)

    @classmethod
    def build(cls, model: Transformer, xs: np.ndarray, ys: np.ndarray) -> InputBlockCache:
        model = check_model(model)
        xb, _ = _as_batch(model, xs)
        y = as_array("ys", ys, ndim=(2, 3))
        y = y[None] if y.ndim == 2 else y
        if y.shape != xb.shape:
            raise ValueError(f"ys: expected the shape of xs {xb.shape}, got {y.shape}")
        h_x, q, k_x, v_x = input_projections(model, xb)
        logits = (q @ np.swapaxes(k_x, 1, 2)) * model.attn.scale  # (B, L, L)
        rowmax = logits.max(axis=-1)  # (B, L)
        return cls(model, h_x, q, v_x, np.exp(logits - rowmax[..., None]), rowmax, y)

    def loss_and_grad(self, prompt: np.ndarray) -> tuple[float, np.ndarray]:
        """Same as ``prompt_loss_and_grad(model, prompt, xs, ys)`` in ``O(B·L·Lp·d)``."""
        model, attn = self.model, self.model.attn
        p = _check_prompt(model, prompt).astype(np.float64)
        h, pre_in = stack_forward(model.ffn_in, p)  # (Lp, D)
        k_p, v_p = h @ attn.w_k, h @ attn.w_v  # (Lp, dk), (Lp, dv)
        logits_p = (self.q @ k_p.T) * attn.scale  # (B, L, Lp)
        top = np.maximum(self.rowmax_xx, logits_p.max(axis=-1, initial=-np.inf))  # (B, L)
        e_p = np.exp(logits_p - top[..., None])  # (B, L, Lp)
        e_x = self.weights_xx * np.exp(self.rowmax_xx - top)[..., None]  # (B, L, L)
        total = e_p.sum(axis=-1) + e_x.sum(axis=-1)  # (B, L)
        s_p, s_x = e_p / total[..., None], e_x / total[..., None]
        o = s_p @ v_p + s_x @ self.v_x  # (B, L, dv)
        loss, _, grad_o = head_loss_and_grad(model, self.h_x, o, self.ys)  # grad_o (B, L, dv)
        delta = (grad_o * o).sum(axis=-1, keepdims=True)  # (B, L, 1)
        grad_logits = s_p * (grad_o @ v_p.T - delta)  # (B, L, Lp)
        grad_k = np.einsum("blp,blk->pk", grad_logits, self.q) * attn.scale  # (Lp, dk)
        grad_v = np.einsum("blp,blv->pv", s_p, grad_o)  # (Lp, dv)
        g = grad_k @ attn.w_k.T + grad_v @ attn.w_v.T  # (Lp, D)
        return loss, stack_backward(model.ffn_in, pre_in, g)
