"""The exact identities of theory.md §2 and the prompt gradient, as reusable checks.

Each check takes a :class:`verify.claims.strategies.PromptCase` and returns an
:class:`verify.claims.properties.Observation` (a relative error and its tolerance), so the same
function serves a pytest property, the report's ``foundation`` claim and a sweep:

* :func:`check_relative_pattern` — row ``i``'s weights over the input rows *with* the prompt equal
  its weights *without* the prompt times ``1 − a_i`` (``a_i``: its total weight on the prompt);
* :func:`check_bias_only` — its attention output with the prompt equals
  ``(1 − a_i)·(output without) + a_i·(prompt-weighted average of the prompt values)``;
* :func:`check_gradient` — :func:`reference.prompt_loss_and_grad` against central finite
  differences of :func:`reference.prompt_forward`.

Every check accepts the piece under test as an argument (``weights_fn`` / ``loss_and_grad``), so a
deliberately broken implementation can be fed in to show the check fails (planted violations,
defined at the end of this module: :func:`sharpened_first_key_weights`,
:func:`softplus_kernel_weights`, :func:`scaled_gradient`).

**Which check pins softmax.** :func:`check_relative_pattern` holds for *every* attention of the
form ``k(q_i, k_j) / Σ_j k(q_i, k_j)`` with a positive kernel ``k`` of the query and the key alone
(the denominator splits into a prompt part and an input part whatever ``k`` is), so a non-softmax
kernel passes it. :func:`check_bias_only` computes the prompt average with ``softmax`` over the
prompt keys at the model's scale, independently of ``weights_fn``: it is the check that pins the
kernel to ``exp(scale·q·k)``, and it catches :func:`softplus_kernel_weights`.

>>> from verify.claims.foundation.identities import check_bias_only, check_gradient
>>> from verify.claims.foundation.identities import check_relative_pattern
>>> import numpy as np
>>> from reference import Transformer
>>> from verify.claims.strategies import PromptCase
>>> rng = np.random.default_rng(0)
>>> model = Transformer.random(2, rng=rng, width=3)
>>> case = PromptCase(model, rng.standard_normal((2, 3)), rng.random((1, 4, 2)),
...                   rng.random((1, 4, 2)), 0)
>>> check_relative_pattern(case).holds, check_bias_only(case).holds, check_gradient(case).holds
(True, True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import mpmath
import numpy as np

from reference import Transformer, prompt_forward, prompt_loss_and_grad
from reference.model.attention import softmax_rows
from reference.model.prompt_tuning import attended_sequence
from reference.model.transformer import Attention, FFNLayer
from verify.claims.foundation.bounds import (
    GRADIENT_TOLERANCE,
    IDENTITY_TOLERANCE,
    bias_only_rhs,
    relative_pattern_rhs,
)
from verify.claims.properties import Observation
from verify.claims.strategies import PromptCase

WeightsFn = Callable[[Transformer, np.ndarray, slice], np.ndarray]
LossAndGrad = Callable[[Transformer, np.ndarray, np.ndarray, np.ndarray], tuple[float, np.ndarray]]

FD_STEP = 1e-5  # float64 central-difference step; shrunk per entry when a ReLU kink is within it
FD_MIN_STEP = 1e-8
FD_DIGITS = 30  # the high-precision oracle for entries where float64 differences are too noisy
FD_HIGH_PRECISION_STEP = 1e-12
RECHECK_FRACTION = 0.01  # float64 differences further than this fraction of the tolerance: recheck


def model_weights(model: Transformer, h: np.ndarray, rows: slice) -> np.ndarray:
    """The model's own softmax weights of ``rows`` over all rows of ``h``: ``(..., q, n)``."""
    return model.attn.weights(h, rows)


def attention_input(model: Transformer, prompt: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """``FFN_in([P; X embed + positional])``: the rows attention sees, ``(..., Lp + L, D)``.

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from verify.claims.foundation.identities import attention_input
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(2, rng=rng, width=3)
    >>> attention_input(m, np.zeros((1, 3)), np.zeros((4, 2))).shape
    (5, 3)
    """
    h = attended_sequence(model, prompt, xs)  # (..., n, D)
    for layer in model.ffn_in:
        h = layer(h)  # (..., n, D)
    return h


def _with_and_without(
    case: PromptCase, weights_fn: WeightsFn
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weights with the prompt, weights without it, prompt mass ``a``, FFN_in rows with and
    without the prompt (the latter computed separately, from an empty prompt)."""
    model, lp = case.model, case.prompt.shape[0]
    h = attention_input(model, case.prompt, case.xs)  # (B, n, D)
    h0 = attention_input(model, case.prompt[:0], case.xs)  # (B, L, D)
    s = weights_fn(model, h, slice(lp, None))  # (B, L, n)
    s0 = weights_fn(model, h0, slice(None))  # (B, L, L)
    a = s[..., :lp].sum(axis=-1, keepdims=True)  # (B, L, 1)
    return s, s0, a, h, h0


def check_relative_pattern(case: PromptCase, weights_fn: WeightsFn = model_weights) -> Observation:
    """Relative error of ``s_with[i, input j] = (1 − a_i)·s_without[i, j]``, max over all rows.

    The error is ``max|lhs − rhs| / max|s_without|`` (weights are at most 1; the denominator is at
    least ``1/L``); it must stay below :data:`verify.claims.foundation.bounds.IDENTITY_TOLERANCE`.
    It holds for any positive row-normalised kernel of ``(q, k)``: it does not pin softmax
    (:func:`check_bias_only` does). With an empty prompt both sides are the same computation
    (``a = 0``): such a case is not evidence.
    """
    lp = case.prompt.shape[0]
    s, s0, a, _, _ = _with_and_without(case, weights_fn)
    predicted = relative_pattern_rhs(a, s0)  # (B, L, L)
    error = np.abs(s[..., lp:] - predicted).max() / np.abs(s0).max()
    return Observation(float(error), float(IDENTITY_TOLERANCE), "relative pattern invariance")


def check_bias_only(case: PromptCase, weights_fn: WeightsFn = model_weights) -> Observation:
    """Relative error of ``out_with_i = (1 − a_i)·out_without_i + a_i·avg_prompt(q_i)``.

    ``avg_prompt(q_i)`` is the softmax over the *prompt keys alone* applied to the prompt values
    (computed independently of the full softmax). Outputs are in value space (before ``w_o``,
    which is linear); the error is ``max|lhs − rhs| / max|values|``.
    """
    model, lp = case.model, case.prompt.shape[0]
    attn = model.attn
    s, s0, a, h, h0 = _with_and_without(case, weights_fn)
    v = h @ attn.w_v  # (B, n, dv)
    out = s @ v  # (B, L, dv)
    out0 = s0 @ (h0 @ attn.w_v)  # (B, L, dv)
    if lp == 0:
        predicted = out0  # no prompt: a_i = 0
    else:
        q = h[:, lp:] @ attn.w_q  # (B, L, dk)
        k_prompt = h[:, :lp] @ attn.w_k  # (B, Lp, dk)
        s_prompt = softmax_rows((q @ np.swapaxes(k_prompt, 1, 2)) * attn.scale)  # (B, L, Lp)
        prompt_avg = s_prompt @ v[:, :lp]  # (B, L, dv)
        predicted = bias_only_rhs(a, out0, prompt_avg)  # (B, L, dv)
    scale = max(float(np.abs(v).max()), np.finfo(float).tiny)
    error = np.abs(out - predicted).max() / scale
    return Observation(float(error), float(IDENTITY_TOLERANCE), "bias-only effect")


def relu_pattern(model: Transformer, prompt: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Signs of every FFN pre-activation on the way to the outputs (flattened booleans).

    Central differences are only valid when ``P ± h`` keeps this pattern (no ReLU kink crossed).
    """
    lp = prompt.shape[0]
    h = attended_sequence(model, prompt, xs)  # (..., n, D)
    signs = []
    for layer in model.ffn_in:
        h, pre = layer.forward_with_cache(h)
        signs.append((pre > 0).ravel())
    h = model.attn(h, slice(lp, None))  # (..., L, D)
    for layer in model.ffn_out:
        h, pre = layer.forward_with_cache(h)
        signs.append((pre > 0).ravel())
    return np.concatenate(signs) if signs else np.zeros(0, dtype=bool)


def _as_mpf(a: np.ndarray) -> np.ndarray:
    return np.vectorize(mpmath.mpf, otypes=[object])(a)


def mpmath_model(model: Transformer) -> Transformer:
    """A copy of ``model`` with every weight an ``mpmath.mpf`` (the high-precision backend)."""

    def layer(lay: FFNLayer) -> FFNLayer:
        return FFNLayer(_as_mpf(lay.w1), _as_mpf(lay.b1), _as_mpf(lay.w2), _as_mpf(lay.b2))

    attn = model.attn
    return replace(
        model,
        embed=_as_mpf(model.embed),
        readout=_as_mpf(model.readout),
        attn=Attention(
            _as_mpf(attn.w_q), _as_mpf(attn.w_k), _as_mpf(attn.w_v), _as_mpf(attn.w_o), attn.scale
        ),
        ffn_in=tuple(layer(lay) for lay in model.ffn_in),
        ffn_out=tuple(layer(lay) for lay in model.ffn_out),
        positional=None if model.positional is None else _as_mpf(model.positional),
    )


def finite_difference_gradient(
    case: PromptCase,
    *,
    step: float = FD_STEP,
    min_step: float = FD_MIN_STEP,
    entries: np.ndarray | None = None,
    digits: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of the MSE of :func:`reference.prompt_forward` in prompt entries.

    Returns ``(gradient (Lp, D), valid (Lp, D))`` for the entries selected by the boolean mask
    ``entries`` (default: all). Per entry the step starts at ``step`` and is divided by 10 while
    ``P ± step`` changes the ReLU pattern (checked in float64); an entry still straddling a kink
    at ``min_step`` is left invalid (not differentiable in practice). With ``digits`` the loss
    is evaluated on an ``mpmath.mpf`` copy of the model, prompt and data at that many digits.
    """
    prompt = case.prompt
    if entries is None:
        entries = np.ones(prompt.shape, dtype=bool)
    grad = np.zeros(prompt.shape)  # (Lp, D)
    valid = np.zeros(prompt.shape, dtype=bool)  # (Lp, D)
    base = relu_pattern(case.model, prompt, case.xs)

    def kink_free(idx: tuple[int, ...], h: float) -> bool:
        for sign in (1.0, -1.0):
            moved = prompt.copy()
            moved[idx] += sign * h
            if not np.array_equal(relu_pattern(case.model, moved, case.xs), base):
                return False
        return True

    with mpmath.workdps(digits or 15):
        model, p0, xs, ys = case.model, prompt, case.xs, case.ys
        if digits is not None:
            model, p0, xs, ys = mpmath_model(model), _as_mpf(p0), _as_mpf(xs), _as_mpf(ys)

        def loss(p: np.ndarray) -> Any:  # a numpy float64, or an mpmath.mpf with ``digits``
            r = prompt_forward(model, p, xs) - ys  # (B, L, d)
            return (r * r).sum() / r.size

        for idx in zip(*np.nonzero(entries), strict=True):
            h = step
            while h >= min_step and not kink_free(idx, h):
                h /= 10
            if h < min_step:
                continue
            dh = mpmath.mpf(h) if digits is not None else h
            plus, minus = p0.copy(), p0.copy()
            plus[idx] += dh
            minus[idx] -= dh
            grad[idx] = float((loss(plus) - loss(minus)) / (2 * dh))
            valid[idx] = True
    return grad, valid


def check_gradient(
    case: PromptCase, loss_and_grad: LossAndGrad = prompt_loss_and_grad
) -> Observation:
    """Relative error ``max|analytic − FD| / max(max|FD|, 1e-8)`` over the valid prompt entries.

    The float64 differences (step :data:`FD_STEP`) lose digits when the loss barely depends on an
    entry (error ``≈ ε·|loss| / step``), so entries where they differ from the analytic gradient
    by more than :data:`RECHECK_FRACTION` of the tolerance are recomputed, worst first, by an
    oracle at :data:`FD_DIGITS` digits with mpmath (step :data:`FD_HIGH_PRECISION_STEP`). The
    first entry the oracle confirms above the tolerance settles the verdict; entries not yet
    rechecked at that point are left out of the error. An empty prompt has no entries (error 0).
    """
    label = "gradient vs finite differences"
    tolerance = float(GRADIENT_TOLERANCE)
    if case.prompt.shape[0] == 0:
        return Observation(0.0, tolerance, label)
    _, grad = loss_and_grad(case.model, case.prompt, case.xs, case.ys)  # (Lp, D)
    fd, valid = finite_difference_gradient(case)  # (Lp, D)
    denominator = max(float(np.abs(fd)[valid].max(initial=0.0)), 1e-8)
    rel = np.where(valid, np.abs(grad - fd), 0.0) / denominator  # (Lp, D)
    unresolved = rel > RECHECK_FRACTION * tolerance  # (Lp, D)
    for flat in np.argsort(-rel, axis=None)[: int(unresolved.sum())]:
        idx = np.unravel_index(flat, rel.shape)
        only = np.zeros(rel.shape, dtype=bool)
        only[idx] = True
        fd_hp, valid_hp = finite_difference_gradient(
            case,
            step=FD_HIGH_PRECISION_STEP,
            min_step=FD_HIGH_PRECISION_STEP * 1e-3,
            entries=only,
            digits=FD_DIGITS,
        )
        fd[idx], valid[idx], unresolved[idx] = fd_hp[idx], valid_hp[idx], False
        if valid[idx] and abs(grad[idx] - fd[idx]) > tolerance * denominator:
            break  # confirmed by the oracle: the check fails
    denominator = max(float(np.abs(fd)[valid].max(initial=0.0)), 1e-8)
    rel = np.where(valid & ~unresolved, np.abs(grad - fd), 0.0) / denominator  # (Lp, D)
    return Observation(float(rel.max()), tolerance, label)


# ----------------------------------------------------------------------------- planted violations
def sharpened_first_key_weights(model: Transformer, h: np.ndarray, rows: slice) -> np.ndarray:
    """Broken attention: the logit of the first key (a prompt row, when there is one) is scaled
    by 1.5, so the weights depend on a key's position. Caught by both identity checks.

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from verify.claims.foundation.identities import sharpened_first_key_weights
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(2, rng=rng, width=3)
    >>> sharpened_first_key_weights(m, rng.random((4, 3)), slice(1, None)).sum(axis=-1).round(12)
    array([1., 1., 1.])
    """
    q = h[..., rows, :] @ model.attn.w_q  # (..., q, dk)
    k = h @ model.attn.w_k  # (..., n, dk)
    logits = (q @ np.swapaxes(k, -1, -2)) * model.attn.scale  # (..., q, n)
    logits[..., 0] *= 1.5
    return softmax_rows(logits)


def softplus_kernel_weights(model: Transformer, h: np.ndarray, rows: slice) -> np.ndarray:
    """Non-softmax attention: the positive kernel ``log(1 + exp(scale·q·k))``, row-normalised.
    It passes :func:`check_relative_pattern` (any such kernel does) and is caught by
    :func:`check_bias_only`.

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from verify.claims.foundation.identities import softplus_kernel_weights
    >>> rng = np.random.default_rng(0)
    >>> m = Transformer.random(2, rng=rng, width=3)
    >>> w = softplus_kernel_weights(m, rng.random((4, 3)), slice(1, None))  # (3, 4)
    >>> bool((w > 0).all()), w.sum(axis=-1).round(12).tolist()
    (True, [1.0, 1.0, 1.0])
    """
    q = h[..., rows, :] @ model.attn.w_q  # (..., q, dk)
    k = h @ model.attn.w_k  # (..., n, dk)
    kernel = np.logaddexp(0.0, (q @ np.swapaxes(k, -1, -2)) * model.attn.scale)  # (..., q, n)
    return kernel / kernel.sum(axis=-1, keepdims=True)


def scaled_gradient(
    model: Transformer, prompt: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> tuple[float, np.ndarray]:
    """Broken gradient: :func:`reference.prompt_loss_and_grad` times ``1 + 1e-4`` (100 times
    the gradient tolerance). Caught by :func:`check_gradient`."""
    loss, grad = prompt_loss_and_grad(model, prompt, xs, ys)
    return loss, grad * (1 + 1e-4)
