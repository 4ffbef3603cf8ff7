"""Exact attention against a 50-digit mpmath reference, on adversarial logits."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference import attention
from verify.strategies import seeds


def mp_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float) -> np.ndarray:
    """softmax(scale q kᵀ) v at 50 significant digits (the oracle of theory.md §6)."""
    with mpmath.workdps(50):
        out = np.empty((q.shape[0], v.shape[1]))
        for i in range(q.shape[0]):
            logits = [
                mpmath.mpf(scale)
                * mpmath.fsum(mpmath.mpf(a) * mpmath.mpf(b) for a, b in zip(q[i], kj, strict=True))
                for kj in k
            ]
            top = max(logits)
            w = [mpmath.exp(t - top) for t in logits]
            z = mpmath.fsum(w)
            for c in range(v.shape[1]):
                out[i, c] = float(
                    mpmath.fsum(wj * mpmath.mpf(vj) for wj, vj in zip(w, v[:, c], strict=True)) / z
                )
    return out


@st.composite
def adversarial_qkv(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Queries/keys whose logits spread up to ~1e4 and come in near-ties (gaps down to 1e-9)."""
    rng = np.random.default_rng(draw(seeds))
    n, m, d, dv = draw(st.integers(1, 4)), draw(st.integers(1, 12)), draw(st.integers(1, 4)), 2
    spread = draw(st.sampled_from([1e-3, 1.0, 30.0, 1e3, 1e4]))
    q = rng.standard_normal((n, d))  # (n, d)
    k = rng.standard_normal((m, d))  # (m, d)
    q *= np.sqrt(spread) / np.linalg.norm(q, axis=1, keepdims=True)
    k *= np.sqrt(spread) / np.linalg.norm(k, axis=1, keepdims=True)
    if m > 1 and draw(st.booleans()):  # near tie: duplicate a key up to a tiny perturbation
        k[1] = k[0] + draw(st.sampled_from([0.0, 1e-12, 1e-9])) * rng.standard_normal(d)
    v = rng.standard_normal((m, dv))  # (m, dv)
    return q, k, v, 1.0


@given(adversarial_qkv())
def test_attention_matches_50_digit_reference(case: tuple) -> None:
    q, k, v, scale = case
    got = attention(q, k, v, scale=scale)
    want = mp_attention(q, k, v, scale)
    assert np.all(np.isfinite(got))
    # The result is a convex combination of v's rows: absolute error relative to max|v|.
    # Logits of magnitude T carry a rounding error ~T·2^-53 into exp, hence the T-dependent term.
    logit_max = float(np.abs(q @ k.T).max()) * scale
    tol = (1e-14 + 4 * logit_max * np.finfo(np.float64).eps) * np.abs(v).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


def test_attention_oracle_catches_a_planted_bug() -> None:
    """The comparison above fails for attention without the max-shift (overflow -> nan)."""
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3)) * 60, rng.standard_normal((5, 3)) * 60, np.ones((5, 1))

    def naive(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            w = np.exp(q @ k.T)
            return (w / w.sum(axis=1, keepdims=True)) @ v

    assert not np.allclose(naive(q, k, v), mp_attention(q, k, v, 1.0), atol=1e-6)


@pytest.mark.parametrize("magnitude", [1e4, 1e6, 1e12])
def test_attention_no_overflow_at_large_logits(magnitude: float) -> None:
    rng = np.random.default_rng(1)
    q = rng.standard_normal((8, 4))
    k = rng.standard_normal((16, 4))
    scale = magnitude / np.abs(q @ k.T).max()  # largest |logit| == magnitude
    v = rng.standard_normal((16, 3))
    for dtype in (np.float32, np.float64):
        out = attention(q.astype(dtype), k.astype(dtype), v.astype(dtype), scale=scale)
        assert out.dtype == dtype and np.all(np.isfinite(out))
        # at such magnitudes softmax is (numerically) argmax: each row equals one row of v
        best = np.argmax(q @ k.T, axis=1)
        np.testing.assert_allclose(out, v[best].astype(dtype), rtol=1e-5, atol=1e-5)


def test_chunking_does_not_change_the_result() -> None:
    rng = np.random.default_rng(2)
    q, k, v = (
        rng.standard_normal((37, 5)),
        rng.standard_normal((23, 5)),
        rng.standard_normal((23, 4)),
    )
    whole = attention(q, k, v, scale=0.5)
    for chunk in (1, 23, 24, 100):
        chunked = attention(q, k, v, scale=0.5, chunk_elements=chunk)
        np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-14)  # BLAS blocking may differ


def test_float32_close_to_float64() -> None:
    rng = np.random.default_rng(3)
    q, k, v = (
        rng.standard_normal((10, 8)),
        rng.standard_normal((30, 8)),
        rng.standard_normal((30, 2)),
    )
    f64 = attention(q, k, v, scale=1 / 8)
    f32 = attention(*(a.astype(np.float32) for a in (q, k, v)), scale=1 / 8)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, f64, atol=1e-5)


def test_mpmath_backend_agrees_with_oracle() -> None:
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((2, 3)), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    with mpmath.workdps(40):
        obj = [np.vectorize(mpmath.mpf, otypes=[object])(a) for a in (q, k, v)]
        out = attention(*obj, scale=1.0)
    assert out.dtype == object
    np.testing.assert_allclose(out.astype(float), mp_attention(q, k, v, 1.0), rtol=1e-15)
