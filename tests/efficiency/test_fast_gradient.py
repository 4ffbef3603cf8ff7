"""Unit tests of reference.efficiency.fast_gradient: exact chunked gradient against finite
differences and the reference model gradient; low-rank gradients within certified bounds; bad
input."""

from __future__ import annotations

import numpy as np
import pytest

from reference import Transformer, attention, prompt_loss_and_grad
from reference.efficiency.fast_gradient import (
    exact_key_value_grad,
    fast_prompt_loss_and_grad,
    low_rank_key_value_grad,
)


def _qkvg(seed: int = 0):
    rng = np.random.default_rng(seed)
    return (
        rng.random((9, 3)),
        rng.random((7, 3)),
        rng.standard_normal((7, 2)),
        rng.standard_normal((9, 2)),
    )


def test_exact_key_value_grad_matches_finite_differences() -> None:
    q, k, v, g = _qkvg()
    grad = exact_key_value_grad(q, k, v, g, scale=0.7)

    def loss(kk: np.ndarray, vv: np.ndarray) -> float:
        return float((attention(q, kk, vv, scale=0.7) * g).sum())

    h = 1e-6
    for j, a in [(0, 0), (3, 2), (6, 1)]:
        kp, km = k.copy(), k.copy()
        kp[j, a] += h
        km[j, a] -= h
        assert np.isclose((loss(kp, v) - loss(km, v)) / (2 * h), grad.grad_k[j, a], atol=1e-8)
    for j, a in [(0, 0), (5, 1)]:
        vp, vm = v.copy(), v.copy()
        vp[j, a] += h
        vm[j, a] -= h
        assert np.isclose((loss(k, vp) - loss(k, vm)) / (2 * h), grad.grad_v[j, a], atol=1e-8)


def test_low_rank_grad_within_certified_bounds() -> None:
    q, k, v, g = _qkvg()
    fast = low_rank_key_value_grad(q, k, v, g, scale=1.0, eps=1e-3)
    exact = exact_key_value_grad(q, k, v, g, scale=1.0)
    assert 0 < np.abs(fast.grad_k - exact.grad_k).max() <= fast.bound_k
    assert 0 < np.abs(fast.grad_v - exact.grad_v).max() <= fast.bound_v
    np.testing.assert_allclose(fast.output, exact.output, atol=1e-2)


def test_fast_prompt_gradient_converges_to_exact_as_eps_shrinks() -> None:
    rng = np.random.default_rng(1)
    model = Transformer.random(2, rng=rng, width=4)
    prompt = 0.5 * rng.standard_normal((6, 4))
    xs, ys = rng.random((3, 4, 2)), rng.random((3, 4, 2))
    ref_loss, ref = prompt_loss_and_grad(model, prompt, xs, ys)
    errors = []
    for eps in (1e-2, 1e-4, 1e-6):
        loss, grad = fast_prompt_loss_and_grad(model, prompt, xs, ys, eps=eps, radius=2.0)
        errors.append(np.abs(grad - ref).max())
        assert abs(loss - ref_loss) <= 10 * eps * abs(ref_loss) + 1e-12
    assert errors[0] > errors[1] > errors[2]


def test_refusals_and_bad_input() -> None:
    q, k, v, g = _qkvg()
    with pytest.raises(ValueError, match="refusing to extrapolate"):
        low_rank_key_value_grad(q, k, v, g, scale=1.0, eps=1e-3, R=0.01)
    with pytest.raises(ValueError, match="query rows"):
        low_rank_key_value_grad(q, k, v, g[:-1], scale=1.0, eps=1e-3)
    with pytest.raises(ValueError, match="eps"):
        low_rank_key_value_grad(q, k, v, g, scale=1.0, eps=0.0)
    with pytest.raises(ValueError, match="scale"):
        exact_key_value_grad(q, k, v, g, scale="unknown")
    rng = np.random.default_rng(0)
    model = Transformer.random(2, rng=rng, width=4)
    with pytest.raises(ValueError, match="refusing to extrapolate"):
        fast_prompt_loss_and_grad(
            model,
            10 * rng.standard_normal((3, 4)),
            rng.random((2, 2)),
            rng.random((2, 2)),
            eps=1e-3,
            radius=0.01,
        )


def test_overflow_is_refused_by_name_without_warnings() -> None:
    """Finite inputs near the float limit: a named NumericalOverflow / FastAttentionRefused, never
    NaN or a numpy warning (issue 17)."""
    import warnings

    rng = np.random.default_rng(3)
    q, k, g = 0.5 * rng.standard_normal((4, 2)), 0.5 * rng.standard_normal((5, 2)), np.ones((4, 3))
    v = rng.standard_normal((5, 3))
    huge = v / np.abs(v).max() * 1.7e308
    model = Transformer.random(2, rng=1, width=3)
    p, xs, ys = 0.3 * rng.standard_normal((2, 3)), rng.random((2, 4, 2)), rng.random((2, 4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"^k, v: |^q, k, v, grad_out"):
            low_rank_key_value_grad(q, k, huge, g, scale=1.0, eps=1e-4)
        with pytest.raises(ValueError, match=r"^q, k, v, grad_out, scale: "):
            exact_key_value_grad(q, k, huge, g, scale=1.0)
        with pytest.raises(ValueError, match=r"^xs, ys, prompt: the loss"):
            fast_prompt_loss_and_grad(model, p, xs, ys / ys.max() * 1.7e308, eps=1e-4, radius=8.0)
        with pytest.raises(ValueError, match=r"^xs"):
            fast_prompt_loss_and_grad(model, p, xs / xs.max() * 1.7e308, ys, eps=1e-4, radius=8.0)
