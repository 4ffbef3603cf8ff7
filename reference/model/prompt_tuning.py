"""Prompt tuning: forward pass on ``[P; X]`` and the exact, hand-written gradient w.r.t. ``P``.

The attended sequence is ``Z = [P; X embed + positional]`` with ``n = Lp + L`` rows; the output
is the last ``L`` rows of ``τ(Z)`` read back to ``d`` coordinates. Only those rows are computed:
the prompt rows act as keys and values, never as queries that reach the output.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from reference._validation import NumericalOverflow, as_array, check_dim, positive_int
from reference.model.attention import DEFAULT_CHUNK_ELEMENTS, _softmax
from reference.model.transformer import Transformer, stack_backward, stack_forward

__all__ = ["check_inputs", "check_model", "check_prompt", "prompt_forward", "prompt_loss_and_grad"]


def check_model(model: object) -> Transformer:
    """Require a :class:`reference.Transformer` (``TypeError`` naming ``model`` otherwise)."""
    if not isinstance(model, Transformer):
        raise TypeError(f"model: expected a reference.Transformer, got {type(model).__name__}")
    return model


def check_prompt(model: Transformer, prompt: object) -> np.ndarray:
    """Validate a prompt ``(Lp, D)`` against ``model`` and return it as an array.

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.model.prompt_tuning import check_prompt
    >>> model = Transformer.random(2, rng=np.random.default_rng(0), width=4)
    >>> check_prompt(model, [[0.0] * 4]).shape
    (1, 4)
    """
    return _check_prompt(check_model(model), prompt)


def _check_prompt(model: Transformer, prompt: object) -> np.ndarray:
    """:func:`check_prompt`, called with a checked ``model``."""
    p = as_array("prompt", prompt, ndim=2, allow_object=True)
    check_dim("prompt", p, 1, model.width, "model width D (model.width)")
    return p


def check_inputs(model: Transformer, name: str, x: object) -> np.ndarray:
    """Validate input sequences ``(L, d)`` or ``(batch, L, d)`` against ``model``: the one check
    of inputs shared by the exact, cached and low-rank gradients and the capacity functions
    (an empty batch is refused here, before any mean over it divides by zero).

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.model.prompt_tuning import check_inputs
    >>> model = Transformer.random(2, rng=np.random.default_rng(0), width=4)
    >>> check_inputs(model, "xs", np.zeros((3, 5, 2))).shape
    (3, 5, 2)
    """
    model = check_model(model)
    if not isinstance(name, str):
        raise TypeError(f"name: expected the argument's name (a str), got {type(name).__name__}")
    return _check_inputs(model, name, x)


def _check_inputs(model: Transformer, name: str, x: object) -> np.ndarray:
    """:func:`check_inputs`, called with a checked ``model`` and ``name`` (a str)."""
    arr = as_array(name, x, ndim=(2, 3), allow_object=True)
    if arr.ndim == 3 and arr.shape[0] == 0:
        raise ValueError(
            f"{name}: expected at least one sequence (batch >= 1), got shape {arr.shape}"
        )
    check_dim(name, arr, -1, model.d, "token width d (model.d)")
    length = arr.shape[-2]
    if length == 0:
        raise ValueError(f"{name}: expected at least one token (L >= 1), got shape {arr.shape}")
    if model.max_length is not None and length > model.max_length:
        raise ValueError(
            f"{name}: sequence length L = {length} exceeds the positional encoding's "
            f"{model.max_length} rows"
        )
    return arr


def _largest(a: np.ndarray) -> str:
    return f"{float(np.max(np.abs(a))):.3g}" if a.size and a.dtype != object else "n/a"


def check_finite_result(value: np.ndarray | float, what: str, **arguments: np.ndarray) -> None:
    """Raise :class:`NumericalOverflow` naming ``arguments`` (and their largest entries) when a
    result computed from finite inputs is not finite (it overflowed the float format)."""
    arr = np.asarray(value)
    if arr.dtype == object or np.all(np.isfinite(arr)):
        return
    names = ", ".join(f"{name} (largest |entry| {_largest(a)})" for name, a in arguments.items())
    raise NumericalOverflow(
        f"{', '.join(arguments)}: {what} overflows {arr.dtype} for these finite inputs: {names}; "
        "rescale them"
    )


def attended_sequence(model: Transformer, prompt: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``Z = [P; X embed + positional]`` of shape ``(..., Lp + L, D)`` (batch axes broadcast)."""
    h_x = model.embed_unchecked(x)  # (..., L, D)
    p = np.broadcast_to(prompt, (*h_x.shape[:-2], *prompt.shape))  # (..., Lp, D)
    return np.concatenate([p, h_x], axis=-2)  # (..., n, D)


def prompt_forward(model: Transformer, prompt: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The last ``L`` rows of ``τ([P; X])``, read out to ``d``: shape of ``x``.

    ``x`` is one sequence ``(L, d)`` or a batch ``(batch, L, d)``; an empty prompt ``(0, D)``
    gives the model without prompt.

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.model.prompt_tuning import prompt_forward
    >>> rng = np.random.default_rng(0)
    >>> model = Transformer.random(2, rng=rng, width=4)
    >>> prompt_forward(model, rng.standard_normal((3, 4)), rng.random((5, 2))).shape
    (5, 2)
    """
    model = check_model(model)
    p = _check_prompt(model, prompt)
    x = _check_inputs(model, "x", x)
    with np.errstate(over="ignore", invalid="ignore"):
        z = attended_sequence(model, p, x)  # (..., n, D)
        out = model.forward_unchecked(z, slice(p.shape[0], None)) @ model.readout  # (..., L, d)
    check_finite_result(out, "the forward pass", x=x, prompt=p)
    return out


def head_loss_and_grad(
    model: Transformer, h_q: np.ndarray, o: np.ndarray, ys: np.ndarray, count: int | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """The layers after the attention weights: ``y = FFN_out(h_q + o w_o) readout``, its mean
    squared error against ``ys`` and the gradients w.r.t. ``h_q (B, L, D)`` (the residual path)
    and ``o (B, L, d_v)`` (the attention value average). ``count``: the number of target entries
    the mean is over (default ``ys.size``; a block of query rows passes the whole batch's), so
    the blocks' losses and gradients add up to the whole one."""
    h, pre_out = stack_forward(model.ffn_out, h_q + o @ model.attn.w_o)  # (B, L, D)
    resid = h @ model.readout - ys  # (B, L, d)
    count = resid.size if count is None else count
    loss = float((resid * resid).sum() / count)
    g = (resid * (2.0 / count)) @ model.readout.T  # (B, L, D)
    grad_h_q = stack_backward(model.ffn_out, pre_out, g)  # (B, L, D)
    return loss, grad_h_q, grad_h_q @ model.attn.w_o.T


def prompt_loss_and_grad(
    model: Transformer,
    prompt: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> tuple[float, np.ndarray]:
    """Mean squared error of :func:`prompt_forward` against ``ys`` and its exact gradient in ``P``.

    The loss is the mean over batch, positions and coordinates. The gradient ``(Lp, D)`` comes
    from a hand-written backward pass through read-out, ``FFN_out``, attention (queries of the
    input rows; keys and values of all rows) and ``FFN_in`` (applied to prompt rows too). The
    attention weights are formed in blocks of query rows of at most ``chunk_elements`` entries
    (as :func:`reference.attention`), so memory is linear in ``Lp + L``: ``O(chunk_elements +
    B·(Lp + L)·D)``, never ``B·L·(Lp + L)``.

    >>> import numpy as np
    >>> from reference.model.transformer import Transformer
    >>> from reference.model.prompt_tuning import prompt_loss_and_grad
    >>> rng = np.random.default_rng(0)
    >>> model = Transformer.random(2, rng=rng, width=3)
    >>> xs, ys = np.ones((4, 2)), np.zeros((4, 2))
    >>> loss, grad = prompt_loss_and_grad(model, np.zeros((2, 3)), xs, ys)
    >>> grad.shape
    (2, 3)
    """
    model = check_model(model)
    p = _check_prompt(model, prompt)
    xs, ys = _check_examples(model, xs, ys)
    chunk_elements = positive_int("chunk_elements", chunk_elements)
    return _prompt_loss_and_grad(model, p, xs, ys, chunk_elements)


def _check_examples(model: Transformer, xs: object, ys: object) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``xs`` and targets ``ys`` of the same shape, checked against a checked ``model``,
    as batches ``(B, L, d)``."""
    xs = _check_inputs(model, "xs", xs)
    ys = as_array("ys", ys, ndim=(2, 3), allow_object=True)
    if ys.shape != xs.shape:
        raise ValueError(f"ys: expected the shape of xs {xs.shape}, got {ys.shape}")
    if xs.ndim == 2:
        xs, ys = xs[None], ys[None]  # (B, L, d)
    return xs, ys


def _prompt_loss_and_grad(
    model: Transformer,
    p: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> tuple[float, np.ndarray]:
    """:func:`prompt_loss_and_grad`, called with checked arguments (batches ``(B, L, d)``);
    refuses a loss or gradient that overflowed (:class:`NumericalOverflow`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        loss, grad = _loss_and_grad(model, p, xs, ys, chunk_elements)
    check_finite_result(grad, "the loss gradient", xs=xs, ys=ys, prompt=p)
    check_finite_result(loss, "the loss", xs=xs, ys=ys, prompt=p)
    return loss, grad


def query_blocks(
    batch: int, length: int, keys: int, chunk_elements: int
) -> Iterator[tuple[slice, slice]]:
    """``(sequences, query rows)`` blocks of a ``(batch, length, keys)`` weight tensor holding at
    most ``chunk_elements`` entries each (at least one row): rows of one sequence, or whole
    sequences when a sequence fits.

    >>> from reference.model.prompt_tuning import query_blocks
    >>> [(b.start, r.start, r.stop) for b, r in query_blocks(2, 3, 4, 8)]
    [(0, 0, 2), (0, 2, 3), (1, 0, 2), (1, 2, 3)]
    """
    rows = max(1, min(length, chunk_elements // max(keys, 1)))
    seqs = max(1, chunk_elements // max(rows * keys, 1)) if rows == length else 1
    for b0 in range(0, batch, seqs):
        for r0 in range(0, length, rows):
            yield slice(b0, min(batch, b0 + seqs)), slice(r0, min(length, r0 + rows))


def _loss_and_grad(
    model: Transformer, p: np.ndarray, xs: np.ndarray, ys: np.ndarray, chunk_elements: int
) -> tuple[float, np.ndarray]:
    """The forward with caches and the hand-written backward of :func:`prompt_loss_and_grad`,
    in blocks of query rows: the weights ``s (b, c, n)`` of a block live only while its
    contributions to the key, value and query-row gradients are added."""
    lp = p.shape[0]
    attn = model.attn

    # ---- forward of the whole sequence up to the keys and values (linear in n)
    h1, pre_in = stack_forward(model.ffn_in, attended_sequence(model, p, xs))  # (B, n, D)
    k = h1 @ attn.w_k  # (B, n, dk)
    v = h1 @ attn.w_v  # (B, n, dv)
    kt, vt = np.swapaxes(k, 1, 2), np.swapaxes(v, 1, 2)  # (B, dk, n), (B, dv, n)
    dtype = np.result_type(h1, ys)  # object when the targets are mpmath and the inputs float
    grad_h1 = np.zeros(h1.shape, dtype=dtype)  # (B, n, D)
    grad_k = np.zeros(k.shape, dtype=dtype)  # (B, n, dk)
    grad_v = np.zeros(v.shape, dtype=dtype)  # (B, n, dv)
    loss = 0.0
    for bs, rs in query_blocks(xs.shape[0], xs.shape[1], h1.shape[1], chunk_elements):
        qrows = slice(lp + rs.start, lp + rs.stop)  # the block's query rows in Z
        h_q = h1[bs, qrows]  # (b, c, D)
        q = h_q @ attn.w_q  # (b, c, dk)
        s = _softmax((q @ kt[bs]) * attn.scale)  # (b, c, n)
        o = s @ v[bs]  # (b, c, dv)
        part, grad_hq, grad_o = head_loss_and_grad(model, h_q, o, ys[bs, rs], ys.size)
        loss += part
        # ---- backward through this block's attention weights
        grad_s = grad_o @ vt[bs]  # (b, c, n)
        grad_v[bs] += np.swapaxes(s, 1, 2) @ grad_o  # (b, n, dv)
        grad_logits = s * (grad_s - (grad_s * s).sum(axis=-1, keepdims=True))  # (b, c, n)
        grad_q = (grad_logits @ k[bs]) * attn.scale  # (b, c, dk)
        grad_k[bs] += (np.swapaxes(grad_logits, 1, 2) @ q) * attn.scale  # (b, n, dk)
        grad_h1[bs, qrows] += grad_hq + grad_q @ attn.w_q.T  # residual and query paths

    # ---- keys, values and FFN_in
    grad_h1 += grad_k @ attn.w_k.T + grad_v @ attn.w_v.T
    g = stack_backward(model.ffn_in, pre_in, grad_h1)  # (B, n, D)
    return loss, g[:, :lp].sum(axis=0)  # (Lp, D)
