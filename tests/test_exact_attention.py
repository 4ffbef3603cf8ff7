"""Unit tests of reference.exact_attention: equal to reference.attention, dtypes, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from reference import attention
from reference.exact_attention import exact_attention


@pytest.mark.parametrize("chunk", [1, 7, 1 << 16])
def test_equals_reference_attention(chunk: int) -> None:
    rng = np.random.default_rng(0)
    q, k, v = 3 * rng.standard_normal((33, 4)), rng.standard_normal((20, 4)), rng.random((20, 3))
    np.testing.assert_allclose(
        exact_attention(q, k, v, scale=0.7, chunk_elements=chunk),
        attention(q, k, v, scale=0.7),
        rtol=1e-13,
        atol=1e-15,
    )


def test_large_logits_do_not_overflow_and_float32_stays_float32() -> None:
    q, k, v = np.full((2, 1), 1e3), np.array([[1e3], [-1e3]]), np.array([[1.0], [2.0]])
    assert exact_attention(q, k, v, scale=1.0).tolist() == [[1.0], [1.0]]
    out = exact_attention(
        q.astype(np.float32), k.astype(np.float32), v.astype(np.float32), scale=1.0
    )
    assert out.dtype == np.float32


def test_bad_input() -> None:
    q, k, v = np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 2))
    with pytest.raises(ValueError, match="key width"):
        exact_attention(q, k[:, :2], v, scale=1.0)
    with pytest.raises(ValueError, match="value rows"):
        exact_attention(q, k, v[:3], scale=1.0)
    with pytest.raises(ValueError, match="finite"):
        exact_attention(q * np.nan, k, v, scale=1.0)
    with pytest.raises(ValueError, match="scale"):
        exact_attention(q, k, v, scale=0.0)
    with pytest.raises(ValueError, match="at least one key"):
        exact_attention(q, k[:0], v[:0], scale=1.0)
    with pytest.raises(TypeError, match="dtype"):
        exact_attention(q.astype(object), k, v, scale=1.0)
