"""Exact single-head softmax attention, numerically stable and memory-bounded.

Tokens are rows: ``q (n, d)``, ``k (m, d)``, ``v (m, d_v)``; the result is
``softmax(scale * q @ k.T) @ v`` with the softmax taken over keys (axis 1).
"""

from __future__ import annotations

import numpy as np

from reference._validation import check_qkv, positive_float, positive_int

DEFAULT_CHUNK_ELEMENTS = 1 << 20  # logits held at once: 1M entries = 8 MB in float64


def exp_elementwise(x: np.ndarray) -> np.ndarray:
    """``exp`` for float arrays and for object arrays of ``mpmath.mpf``.

    >>> import numpy as np
    >>> from reference.attention import exp_elementwise
    >>> float(exp_elementwise(np.array([0.0]))[0])
    1.0
    """
    if x.dtype == object:
        import mpmath

        return np.vectorize(mpmath.exp, otypes=[object])(x)
    return np.exp(x)


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax with the max subtracted first (no overflow for any finite logits).

    >>> import numpy as np
    >>> from reference.attention import softmax_rows
    >>> softmax_rows(np.array([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (..., m), entries <= 0
    weights = exp_elementwise(shifted)  # (..., m), max entry exactly 1
    return weights / weights.sum(axis=-1, keepdims=True)


def attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    *,
    scale: float,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> np.ndarray:
    """Exact softmax attention ``softmax(scale * q kᵀ) v``, processed in query-row chunks.

    At most ``chunk_elements`` logits are held at once, so memory is ``O(chunk_elements + n d_v)``
    whatever ``n`` and ``m`` are. Logits of any finite magnitude are safe: the row maximum is
    subtracted before ``exp``. float32 inputs give a float32 result, float64 a float64 one, and
    object arrays of ``mpmath.mpf`` are computed at the current ``mpmath.mp`` precision.

    >>> import numpy as np
    >>> from reference.attention import attention
    >>> q = np.zeros((2, 3)); k = np.ones((4, 3)); v = np.arange(8.0).reshape(4, 2)
    >>> attention(q, k, v, scale=1.0).tolist()
    [[3.0, 4.0], [3.0, 4.0]]
    """
    q, k, v = check_qkv(q, k, v, allow_object=True)
    scale = positive_float("scale", scale)
    chunk_elements = positive_int("chunk_elements", chunk_elements)
    dtype = np.result_type(q, k, v)
    if dtype.kind == "O":
        return _attention_generic(q, k, v, scale, chunk_elements)
    return _attention_inplace(q, k, v, scale, chunk_elements, dtype)


def _attention_inplace(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float, chunk_elements: int, dtype: np.dtype
) -> np.ndarray:
    """float32/float64 path with few passes over memory: the scale goes on the ``(n, d)`` queries,
    each chunk's logits live in one reused buffer (shifted and exponentiated in place), and the
    normalization divides the ``(c, d_v)`` product, not the ``(c, m)`` weights."""
    n, m = q.shape[0], k.shape[0]
    rows = max(1, min(n, chunk_elements // m))
    qs = (q * scale).astype(dtype, copy=False)  # (n, d)
    kt = np.ascontiguousarray(k.T, dtype=dtype)  # (d, m)
    vv = v.astype(dtype, copy=False)  # (m, d_v)
    buf = np.empty((rows, m), dtype=dtype)  # (c, m) reused logits / weights
    out = np.empty((n, v.shape[1]), dtype=dtype)  # (n, d_v)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        w = np.matmul(qs[start:stop], kt, out=buf[: stop - start])  # (c, m) logits
        w -= w.max(axis=1, keepdims=True)
        np.exp(w, out=w)  # (c, m) weights, row max exactly 1
        out[start:stop] = (w @ vv) / w.sum(axis=1)[:, None]  # (c, d_v)
    return out


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
        out[start:stop] = softmax_rows(logits) @ v  # (c, d_v)
    return out
