"""A fast exact softmax attention in numpy: the honest baseline for the polynomial method.

Same result as :func:`reference.attention` (float32/float64 only, no mpmath) with fewer passes
over memory: the scale is applied to the ``(n, d)`` queries instead of the ``(c, m)`` logits, the
logits of a chunk are written into one reused buffer, shifted and exponentiated in place, and the
normalization divides the ``(c, d_v)`` product instead of the ``(c, m)`` weights. Chunks hold
``chunk_elements`` logits (default 2^20 = 8 MB: at least 16 rows for m <= 2^16, so the
per-chunk Python overhead stays small).
"""

from __future__ import annotations

import numpy as np

from reference._validation import as_array, check_dim, positive_float, positive_int

DEFAULT_CHUNK_ELEMENTS = 1 << 20


def exact_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    *,
    scale: float,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> np.ndarray:
    """Exact ``softmax(scale · q kᵀ) v`` ``(n, d_v)`` in float64 (or float32 for float32 inputs).

    >>> q = np.zeros((2, 3)); k = np.ones((4, 3)); v = np.arange(8.0).reshape(4, 2)
    >>> exact_attention(q, k, v, scale=1.0).tolist()
    [[3.0, 4.0], [3.0, 4.0]]
    """
    q = as_array("q", q, ndim=2)
    k = as_array("k", k, ndim=2)
    v = as_array("v", v, ndim=2)
    check_dim("k", k, 1, q.shape[1], "key width (must equal q.shape[1])")
    check_dim("v", v, 0, k.shape[0], "number of value rows (must equal k.shape[0])")
    if k.shape[0] == 0:
        raise ValueError("k: expected at least one key row, got 0")
    scale = positive_float("scale", scale)
    chunk_elements = positive_int("chunk_elements", chunk_elements)
    dtype = np.result_type(q, k, v)
    n, m = q.shape[0], k.shape[0]
    rows = max(1, min(n, chunk_elements // m))
    qs = (q * scale).astype(dtype, copy=False)  # (n, d)
    kt = np.ascontiguousarray(k.T, dtype=dtype)  # (d, m)
    vv = v.astype(dtype, copy=False)  # (m, dv)
    buf = np.empty((rows, m), dtype=dtype)  # (c, m) reused logits / weights
    out = np.empty((n, v.shape[1]), dtype=dtype)  # (n, dv)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        w = np.matmul(qs[start:stop], kt, out=buf[: stop - start])  # (c, m) logits
        w -= w.max(axis=1, keepdims=True)
        np.exp(w, out=w)  # (c, m) weights, row max exactly 1
        out[start:stop] = (w @ vv) / w.sum(axis=1)[:, None]
    return out
