"""The prompt-Lipschitz bound of reference.model.lipschitz against finite differences and exact
cases."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from reference import Attention, FFNLayer, Transformer, prompt_forward
from reference.model.lipschitz import operator_norm_max, prompt_lipschitz_bound


def _worst_ratio(model: Transformer, radius: float, rng: np.random.Generator) -> float:
    worst = 0.0
    for _ in range(60):
        lp = int(rng.integers(1, 6))
        p = rng.uniform(-radius, radius, (lp, model.width))  # (Lp, D)
        step = radius * float(rng.choice([1e-6, 1e-2, 1.0]))
        q = np.clip(p + step * rng.choice([-1.0, 1.0], p.shape), -radius, radius)  # (Lp, D)
        xs = rng.random((2, 3, model.d))  # (B, L, d)
        change = np.abs(prompt_forward(model, p, xs) - prompt_forward(model, q, xs)).max()
        worst = max(worst, change / np.abs(p - q).max())
    return worst


@pytest.mark.parametrize("seed", range(4))
def test_bound_holds_against_random_pairs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = Transformer.random(
        2, rng=rng, width=4, max_length=3 if seed % 2 else None, ffn_in_layers=seed % 3
    )
    for radius in (0.3, 2.0):
        bound = prompt_lipschitz_bound(model, prompt_radius=radius, input_length=3)
        measured = _worst_ratio(model, radius, rng)
        assert 0 < measured <= bound.total


def test_bound_is_the_product_of_its_factors() -> None:
    model = Transformer.random(3, rng=np.random.default_rng(5), width=4)
    b = prompt_lipschitz_bound(model, prompt_radius=1.0, input_length=2)
    assert b.log2 == pytest.approx(np.log2(b.total))
    assert b.total == pytest.approx(
        b.readout * b.ffn_out * b.w_o * b.attention * b.ffn_in * (1 + 1e-9)
    )


def _scalar_model(w_q: float, w_v: float, w_o: float) -> Transformer:
    one = np.ones((1, 1))
    return Transformer(
        embed=one, readout=one, attn=Attention(w_q * one, one, w_v * one, w_o * one, 1.0)
    )


def test_bound_is_tight_for_uniform_attention() -> None:
    # w_q = 0: uniform attention, output x + w_o w_v · mean(rows); moving all Lp prompt rows by
    # δ moves the output by w_o w_v δ Lp / (Lp + L) -> w_o w_v = the bound as Lp grows.
    model = _scalar_model(0.0, 0.5, 3.0)
    bound = prompt_lipschitz_bound(model, prompt_radius=1.0, input_length=1).total
    assert bound == pytest.approx(1.5, rel=1e-8)
    lp, x = 999, np.array([[0.3]])
    p = np.zeros((lp, 1))
    change = (prompt_forward(model, p + 1e-3, x) - prompt_forward(model, p, x)).item() / 1e-3
    assert change == pytest.approx(1.5 * lp / (lp + 1))
    assert change <= bound


def test_softmax_term_counts_keys() -> None:
    # with w_q != 0 the logit term scale · |x w_q w_k| · (value range) is added to |w_v|
    model = _scalar_model(2.0, 1.0, 1.0)
    bound = prompt_lipschitz_bound(model, prompt_radius=1.0, input_length=1)
    # queries in [0, 2], values of all rows in [-1, 1]: 1 + 1 · 2 · 2 = 5
    assert bound.attention == pytest.approx(5.0)


def test_dead_units_do_not_count() -> None:
    # an FFN_in layer whose units are dead on the whole box contributes the factor 1
    dead = FFNLayer(np.ones((1, 2)), -10.0 * np.ones(2), 7.0 * np.ones((2, 1)), np.zeros(1))
    one = np.ones((1, 1))
    model = Transformer(one, one, Attention(one, one, one, one, 1.0), ffn_in=(dead,))
    assert prompt_lipschitz_bound(model, prompt_radius=1.0, input_length=2).ffn_in == 1.0
    live = FFNLayer(np.ones((1, 2)), 10.0 * np.ones(2), 7.0 * np.ones((2, 1)), np.zeros(1))
    model = Transformer(one, one, Attention(one, one, one, one, 1.0), ffn_in=(live,))
    assert prompt_lipschitz_bound(model, prompt_radius=1.0, input_length=2).ffn_in == 15.0


def test_operator_norm_is_the_max_column_sum() -> None:
    a = np.array([[1.0, -2.0], [3.0, 0.5]])
    assert operator_norm_max(a) == 4.0
    x = np.array([[1.0, -1.0]])
    assert np.abs(x @ a).max() <= operator_norm_max(a) * np.abs(x).max()
    assert operator_norm_max(np.zeros((0, 3))) == 0.0


def test_mpmath_weights_are_accepted() -> None:
    model = _scalar_model(1.0, 1.0, 1.0)
    mp_model = Transformer(
        embed=np.array([[mpmath.mpf(1)]], dtype=object),
        readout=np.array([[mpmath.mpf(1)]], dtype=object),
        attn=Attention(*(np.array([[mpmath.mpf(1)]], dtype=object) for _ in range(4)), 1.0),
    )
    a = prompt_lipschitz_bound(model, prompt_radius=1.0, input_length=2).total
    b = prompt_lipschitz_bound(mp_model, prompt_radius=1.0, input_length=2).total
    assert a == b


def test_bad_inputs_are_rejected() -> None:
    model = Transformer.random(2, rng=np.random.default_rng(0), width=3, max_length=2)
    with pytest.raises(TypeError, match="model"):
        prompt_lipschitz_bound("model", prompt_radius=1.0, input_length=2)
    with pytest.raises(ValueError, match="prompt_radius"):
        prompt_lipschitz_bound(model, prompt_radius=0.0, input_length=2)
    with pytest.raises(ValueError, match="input_length"):
        prompt_lipschitz_bound(model, prompt_radius=1.0, input_length=3)
    with pytest.raises(TypeError, match="input_length"):
        prompt_lipschitz_bound(model, prompt_radius=1.0, input_length=2.0)


def test_overflow_moves_to_a_wider_type() -> None:
    # w_v = w_o = 1e200: attention factor 1e200 + 1 · 1 · 2e200, times w_o: 3e400 > float64
    huge = _scalar_model(1.0, 1e200, 1e200)
    bound = prompt_lipschitz_bound(huge, prompt_radius=1.0, input_length=1)
    assert bound.total == np.inf
    assert bound.log2 == pytest.approx(np.log2(3.0) + 400 * np.log2(10.0), rel=1e-11)
    assert bound.attention == pytest.approx(3e200)


def test_beyond_longdouble_the_bound_is_computed_with_mpmath() -> None:
    # ten FFN_out layers with weights 1e300 (always-on unit): factor 1 + 1e600 each -> 1e6000
    big = FFNLayer(np.full((1, 1), 1e300), np.ones(1), np.full((1, 1), 1e300), np.zeros(1))
    one = np.ones((1, 1))
    model = Transformer(one, one, Attention(0 * one, one, one, one, 1.0), ffn_out=(big,) * 10)
    bound = prompt_lipschitz_bound(model, prompt_radius=1.0, input_length=1)
    assert bound.total == np.inf and bound.ffn_out == np.inf
    assert bound.log2 == pytest.approx(6000 * np.log2(10.0), rel=1e-9)
