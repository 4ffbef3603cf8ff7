"""Exact single-head softmax attention, numerically stable and memory-bounded.

Tokens are rows: ``q (..., n, d)``, ``k (..., m, d)``, ``v (..., m, d_v)`` (leading batch/head
axes broadcast); the result is ``softmax(scale * q @ k.T) @ v`` with the softmax over keys.
Finite inputs give finite outputs at any magnitude: logits that could overflow are computed
from unit-scaled queries and keys, and values near the float limit are averaged after an exact
power-of-two rescaling.
"""

from __future__ import annotations

import math

import numpy as np

from reference._threads import one_blas_thread_below
from reference._validation import as_array, check_qkv, positive_float, positive_int

__all__ = ["DEFAULT_CHUNK_ELEMENTS", "attention", "resolve_scale", "softmax_rows"]

DEFAULT_CHUNK_ELEMENTS = 1 << 20  # logits held at once: 1M entries = 8 MB in float64


SCALE_CONVENTIONS = {
    "paper": lambda d: 1.0,  # the paper's block: no scaling
    "alman-song": lambda d: 1.0 / d,  # Alman–Song: 1/d
    "practice": lambda d: 1.0 / math.sqrt(d),  # common practice: 1/sqrt(d)
}


def resolve_scale(scale: object, d: int) -> float:
    """A positive number, or a named convention: ``"paper"`` (1), ``"alman-song"`` (1/d),
    ``"practice"`` (1/√d).

    >>> from reference.model.attention import resolve_scale
    >>> resolve_scale("alman-song", 8)
    0.125
    """
    return _resolve_scale(scale, positive_int("d", d, minimum=0))


def _resolve_scale(scale: object, d: int) -> float:
    """:func:`resolve_scale` for a checked key width ``d >= 0`` (e.g. a shape); checks
    ``scale``, the caller's argument."""
    if isinstance(scale, str):
        if scale not in SCALE_CONVENTIONS:
            raise ValueError(
                f"scale: expected a positive number or one of {tuple(SCALE_CONVENTIONS)}, "
                f"got {scale!r}"
            )
        if d < 1 and scale != "paper":
            raise ValueError(f"scale: the convention {scale!r} needs a key width d >= 1, got {d}")
        return SCALE_CONVENTIONS[scale](d)
    return positive_float("scale", scale)


def exp_elementwise(x: np.ndarray) -> np.ndarray:
    """``exp`` for float arrays and for object arrays of ``mpmath.mpf``.

    >>> import numpy as np
    >>> from reference.model.attention import exp_elementwise
    >>> float(exp_elementwise(np.array([0.0]))[0])
    1.0
    """
    if x.dtype == object:
        import mpmath

        return np.vectorize(mpmath.exp, otypes=[object])(x)
    return np.exp(x)


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis, with the max subtracted first (no overflow for any
    finite logits). ``logits`` must be a finite float (or mpmath object) array of rank >= 1.

    >>> import numpy as np
    >>> from reference.model.attention import softmax_rows
    >>> softmax_rows(np.array([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """
    logits = as_array("logits", logits, ndim=range(1, 33), allow_object=True)
    if logits.shape[-1] == 0:
        raise ValueError(f"logits: expected at least one entry per row, got shape {logits.shape}")
    return _softmax(logits)


def _softmax(logits: np.ndarray) -> np.ndarray:
    """:func:`softmax_rows` without the input check (logits built by the caller)."""
    with np.errstate(over="ignore"):  # a gap beyond the float range is -inf: weight exactly 0
        shifted = logits - logits.max(axis=-1, keepdims=True)  # (..., m), entries <= 0
    weights = exp_elementwise(shifted)  # (..., m), max entry exactly 1
    return weights / weights.sum(axis=-1, keepdims=True)


def attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    *,
    scale: float | str,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> np.ndarray:
    """Exact softmax attention ``softmax(scale * q kᵀ) v``, processed in query-row chunks.

    ``q (..., n, d)``, ``k (..., m, d)``, ``v (..., m, d_v)`` with broadcastable leading axes
    (batch, heads) give ``(..., n, d_v)``. ``scale`` is a positive number or a named convention
    as in :func:`reference.fast_attention`: ``"paper"`` (1), ``"alman-song"`` (1/d),
    ``"practice"`` (1/√d). At most ``chunk_elements`` logits are held at once, so memory is
    ``O(chunk_elements + n d_v)`` whatever ``n`` and ``m`` are. Finite inputs of any magnitude
    give a finite result (see the module docstring). float32 inputs give a float32 result,
    float64 a float64 one, and object arrays of ``mpmath.mpf`` are computed at the current
    ``mpmath.mp`` precision.

    >>> import numpy as np
    >>> from reference.model.attention import attention
    >>> q = np.zeros((2, 3)); k = np.ones((4, 3)); v = np.arange(8.0).reshape(4, 2)
    >>> attention(q, k, v, scale=1.0).tolist()
    [[3.0, 4.0], [3.0, 4.0]]
    >>> attention(np.zeros((5, 2, 3)), k, v, scale="practice").shape  # 5 heads, shared k, v
    (5, 2, 2)
    """

    q, k, v = check_qkv(q, k, v, allow_object=True, batched=True)
    scale = _resolve_scale(scale, q.shape[-1])
    chunk_elements = positive_int("chunk_elements", chunk_elements)
    return _attention_unchecked(q, k, v, scale, chunk_elements)


def _attention_unchecked(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    scale: float,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> np.ndarray:
    """:func:`attention` without input checks (for callers that built ``q, k, v`` themselves,
    e.g. the model's attention layer): shapes ``(..., n, d)``, ``(..., m, d)``, ``(..., m, d_v)``.
    """
    dtype = np.result_type(q, k, v)
    # the largest product of one chunk, (c, d) @ (d, m) or (c, m) @ (m, d_v): one BLAS thread
    # below reference._threads.SMALL_PRODUCT_FLOPS (a second one costs more than it saves)
    m = k.shape[-2]
    rows = max(1, min(q.shape[-2], chunk_elements // max(m, 1)))
    with one_blas_thread_below(2 * rows * m * max(q.shape[-1], v.shape[-1])):
        return _attention_batched(q, k, v, scale, chunk_elements, dtype)


def _attention_batched(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, chunk_elements: int, dtype: np.dtype
) -> np.ndarray:
    """:func:`_attention_unchecked` over the broadcast leading axes."""
    lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    if not lead:
        return _attention_2d(q, k, v, scale, chunk_elements, dtype)
    qb = np.broadcast_to(q, (*lead, *q.shape[-2:]))
    kb = np.broadcast_to(k, (*lead, *k.shape[-2:]))
    vb = np.broadcast_to(v, (*lead, *v.shape[-2:]))
    out = np.empty((*lead, q.shape[-2], v.shape[-1]), dtype=dtype)  # (..., n, d_v)
    for idx in np.ndindex(*lead):
        out[idx] = _attention_2d(qb[idx], kb[idx], vb[idx], scale, chunk_elements, dtype)
    return out


def _attention_2d(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, chunk_elements: int, dtype: np.dtype
) -> np.ndarray:
    if dtype.kind == "O":
        return _attention_generic(q, k, v, scale, chunk_elements)
    return _attention_inplace(q, k, v, scale, chunk_elements, dtype)


def _log2_abs_max(a: np.ndarray) -> float:
    top = float(np.max(np.abs(a))) if a.size else 0.0
    return math.log2(top) if top > 0 else -math.inf


def _split_scale(
    q: np.ndarray, k: np.ndarray, scale: float, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(q', k', c)`` with ``scale · q kᵀ = c · q' k'ᵀ``: ``q' = scale·q, k' = k, c = 1`` when
    the logits cannot overflow ``dtype``, else ``q'``, ``k'`` of max entry 1 and ``c`` (possibly
    ``inf``) carrying the magnitude."""
    # promote first: float32 queries next to float64 keys are scaled in float64, not rounded
    # to float32 by ``q * scale`` (a Python float keeps an array's dtype)
    q, k = q.astype(dtype, copy=False), k.astype(dtype, copy=False)
    d = q.shape[1]
    log_bound = math.log2(scale) + _log2_abs_max(q) + _log2_abs_max(k) + math.log2(max(d, 1))
    log_limit = math.log2(float(np.finfo(dtype).max)) - 4  # margin for rounding
    if log_bound < log_limit and math.log2(scale) + _log2_abs_max(q) < log_limit:
        return (q * scale).astype(dtype, copy=False), k, 1.0
    eq, ek = np.frexp(np.max(np.abs(q)))[1], np.frexp(np.max(np.abs(k)))[1]
    qs = np.ldexp(q, -int(eq)).astype(dtype, copy=False)  # entries < 1, exact power-of-2 scaling
    ks = np.ldexp(k, -int(ek)).astype(dtype, copy=False)
    try:
        c = math.ldexp(scale, int(eq) + int(ek))
    except OverflowError:
        c = math.inf
    return qs, ks, c


def _attention_inplace(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, chunk_elements: int, dtype: np.dtype
) -> np.ndarray:
    """float32/float64 path with few passes over memory: the scale goes on the ``(n, d)`` queries,
    each chunk's logits live in one reused buffer (shifted and exponentiated in place), and the
    normalization divides the ``(c, d_v)`` product, not the ``(c, m)`` weights. Logits that
    could overflow are formed as ``c · (q' k'ᵀ)`` after the row max of ``q' k'ᵀ`` is subtracted
    (a weight is exactly 1 at the max, ``exp(-inf) = 0`` below it when ``c`` is huge); values
    whose sum could overflow are divided by a power of two first and multiplied back after."""
    n, m = q.shape[0], k.shape[0]
    rows = max(1, min(n, chunk_elements // m))
    qs, ks, c = _split_scale(q, k, scale, dtype)
    kt = np.ascontiguousarray(ks.T, dtype=dtype)  # (d, m)
    vv = v.astype(dtype, copy=False)  # (m, d_v)
    v_exp = np.frexp(np.max(np.abs(vv)))[1] if vv.size else 0
    v_shift = max(0, int(v_exp) + math.ceil(math.log2(m)) + 4 - np.finfo(dtype).maxexp)
    if v_shift:
        vv = np.ldexp(vv, -v_shift).astype(dtype, copy=False)  # exact: entries stay normal
    buf = np.empty((rows, m), dtype=dtype)  # (c, m) reused logits / weights
    out = np.empty((n, v.shape[1]), dtype=dtype)  # (n, d_v)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        w = np.matmul(qs[start:stop], kt, out=buf[: stop - start])  # (c, m) logits / c
        w -= w.max(axis=1, keepdims=True)
        if c != 1.0:
            with np.errstate(over="ignore", invalid="ignore"):
                np.multiply(w, c, out=w, where=w != 0)  # 0 stays 0 even when c is inf
        np.exp(w, out=w)  # (c, m) weights, row max exactly 1
        out[start:stop] = (w @ vv) / w.sum(axis=1)[:, None]  # (c, d_v)
    return np.ldexp(out, v_shift).astype(dtype, copy=False) if v_shift else out


def _attention_generic(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, chunk_elements: int
) -> np.ndarray:
    """Object-array (mpmath) path: plain chunked softmax at the current mpmath precision."""
    n, m = q.shape[0], k.shape[0]
    out = np.empty((n, v.shape[1]), dtype=object)  # (n, d_v)
    rows = max(1, chunk_elements // m)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        logits = (q[start:stop] @ k.T) * scale  # (c, m)
        out[start:stop] = _softmax(logits) @ v  # (c, d_v)
    return out
