"""Exact attention against a 50-digit mpmath reference, on adversarial logits."""

from __future__ import annotations

import tracemalloc

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference import Transformer, attention, prompt_forward, softmax_rows
from verify.claims.strategies import seeds


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


@pytest.mark.parametrize(
    ("q_mag", "k_mag", "v_mag", "scale"),
    [(1e160, 1e160, 1.0, 1.0), (1.0, 1.0, 1.0, 1.7e308), (1.0, 1.0, 1e308, 1.0),
     (1e154, 1e154, 1e307, 1e10)],
)  # fmt: skip
def test_finite_inputs_of_any_magnitude_match_the_oracle(q_mag, k_mag, v_mag, scale) -> None:
    """Logits beyond the float range and values near it: finite, and equal to 50-digit math."""
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((3, 2)), rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    q, k, v = q * q_mag, k * k_mag, v * (v_mag / np.abs(v).max())
    got = attention(q, k, v, scale=scale)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, mp_attention(q, k, v, scale), rtol=1e-12, atol=0)


def test_planted_unscaled_attention_overflows_where_the_scaled_one_does_not() -> None:
    """The oracle comparison above catches the plain formula (its logits overflow to nan)."""
    q, k, v = np.full((2, 2), 1e160), np.full((3, 2), 1e160), np.ones((3, 1))
    with np.errstate(over="ignore", invalid="ignore"):
        logits = (q @ k.T) * 1.0
        w = np.exp(logits - logits.max(axis=1, keepdims=True))
        plain = (w @ v) / w.sum(axis=1, keepdims=True)
    assert np.isnan(plain).all() and np.array_equal(attention(q, k, v, scale=1.0), np.ones((2, 1)))


def test_leading_batch_and_head_axes_are_independent_attentions() -> None:
    rng = np.random.default_rng(6)
    q = rng.standard_normal((2, 3, 5, 4))  # (batch, heads, n, d)
    k = rng.standard_normal((2, 1, 7, 4))  # keys shared by the heads (broadcast)
    v = rng.standard_normal((7, 2))  # values shared by everything
    out = attention(q, k, v, scale="practice")
    assert out.shape == (2, 3, 5, 2)
    for b in range(2):
        for h in range(3):
            np.testing.assert_array_equal(out[b, h], attention(q[b, h], k[b, 0], v, scale=0.5))
    with pytest.raises(ValueError, match=r"q, k, v: expected leading .* broadcast"):
        attention(q, rng.standard_normal((4, 1, 7, 4)), v, scale=1.0)


@pytest.mark.parametrize(
    ("name", "value"), [("paper", 1.0), ("alman-song", 1 / 4), ("practice", 0.5)]
)
def test_named_scale_conventions_are_those_of_fast_attention(name: str, value: float) -> None:
    rng = np.random.default_rng(7)
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 1))
    np.testing.assert_array_equal(attention(q, k, v, scale=name), attention(q, k, v, scale=value))


def test_the_model_forward_never_holds_the_full_weight_matrix() -> None:
    """prompt_forward at L = 4096 peaks far below the L × (Lp + L) float64 weights (134 MB)."""
    model = Transformer.random(2, rng=0, width=4, ffn_in_layers=0, ffn_out_layers=0)
    x = np.random.default_rng(8).random((4096, 2))
    prompt = np.zeros((1, 4))
    full = 4096 * 4097 * 8
    tracemalloc.start()
    try:
        out = prompt_forward(model, prompt, x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < full / 4, f"peak {peak / 2**20:.1f} MiB"
    z = np.concatenate([prompt, x @ model.embed])  # the unchunked formula, on a slice
    s = softmax_rows((z[-5:] @ model.attn.w_q) @ (z @ model.attn.w_k).T * model.attn.scale)
    want = (z[-5:] + (s @ (z @ model.attn.w_v)) @ model.attn.w_o) @ model.readout
    np.testing.assert_allclose(out[-5:], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("offset", [0.0, 800.0, -800.0, 1e6])
def test_softmax_rows_is_shift_invariant_at_any_magnitude(offset: float) -> None:
    """``softmax(x + c) = softmax(x)``: the max shift keeps ``exp`` finite (without it,
    ``exp(800)`` overflows to inf, ``exp(-800)`` underflows to 0, and the weights become NaN: a
    mutant the suite missed)."""
    logits = np.array([[0.0, -1.0, -2.0]])  # (1, 3)
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(softmax_rows(logits + offset), expected, rtol=1e-9)
