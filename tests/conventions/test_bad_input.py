"""Every kind of bad input raises ValueError/TypeError naming the argument and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from reference import (
    Attention,
    FFNLayer,
    Transformer,
    attention,
    init_prompt_normal,
    prompt_forward,
    prompt_loss_and_grad,
    softmax_rows,
    train_prompt,
)

RNG = np.random.default_rng(0)
MODEL = Transformer.random(2, rng=np.random.default_rng(1), width=3, max_length=4)
P = RNG.standard_normal((2, 3))
X = RNG.random((4, 2))
Q, K, V = RNG.standard_normal((3, 2)), RNG.standard_normal((5, 2)), RNG.standard_normal((5, 1))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: attention(Q, K, V, scale=0.0), ValueError, r"scale: expected a finite number > 0"),
        (lambda: attention(Q, K, V, scale=np.inf), ValueError, r"scale"),
        (lambda: attention(Q, K, V, scale="1/d"), ValueError, r"scale: expected a positive number"),
        (lambda: attention(Q, K, V, scale=1j), TypeError, r"scale: expected a real number"),
        (lambda: attention(Q[0], K, V, scale=1.0), ValueError, r"q: expected an array of rank >="),
        (lambda: attention(Q, K[:, :1], V, scale=1.0), ValueError, r"k: expected key width"),
        (
            lambda: attention(Q, K, V[:4], scale=1.0),
            ValueError,
            r"v: expected number of value rows",
        ),
        (lambda: attention(Q, K[:0], V[:0], scale=1.0), ValueError, r"k: expected at least one"),
        (lambda: attention(Q.astype(int), K, V, scale=1.0), TypeError, r"q: expected dtype float"),
        (lambda: attention(Q * np.nan, K, V, scale=1.0), ValueError, r"q: expected finite values"),
        (lambda: attention(Q, K * np.inf, V, scale=1.0), ValueError, r"k: expected finite values"),
        (lambda: attention("q", K, V, scale=1.0), TypeError, r"q: expected a numpy array, got str"),
        (lambda: attention(Q, K, V, scale=1.0, chunk_elements=0), ValueError, r"chunk_elements"),
        (
            lambda: prompt_forward("model", P, X),
            TypeError,
            r"model: expected a reference.Transformer",
        ),
        (lambda: prompt_forward(MODEL, P[:, :2], X), ValueError, r"prompt: expected model width D"),
        (
            lambda: prompt_forward(MODEL, P[0], X),
            ValueError,
            r"prompt: expected an array of rank 2",
        ),
        (lambda: prompt_forward(MODEL, P, X[:, :1]), ValueError, r"x: expected token width d"),
        (
            lambda: prompt_forward(MODEL, P, X[None, None]),
            ValueError,
            r"x: expected an array of rank",
        ),
        (
            lambda: prompt_forward(MODEL, P, RNG.random((5, 2))),
            ValueError,
            r"x: sequence length L = 5",
        ),
        (lambda: prompt_forward(MODEL, P, X[:0]), ValueError, r"x: expected at least one token"),
        (lambda: prompt_forward(MODEL, P * np.nan, X), ValueError, r"prompt: expected finite"),
        (
            lambda: prompt_forward(MODEL, P, X.astype(np.complex128)),
            TypeError,
            r"x: expected dtype",
        ),
        (
            lambda: prompt_loss_and_grad(MODEL, P, X, X[:3]),
            ValueError,
            r"ys: expected the shape of xs",
        ),
        (lambda: prompt_loss_and_grad(MODEL, P, X, X * np.inf), ValueError, r"ys: expected finite"),
        (
            lambda: train_prompt(MODEL, P, X, X, lr=-1.0),
            ValueError,
            r"lr: expected a finite number > 0",
        ),
        (lambda: train_prompt(MODEL, P, X, X, max_steps=0), ValueError, r"max_steps: expected an"),
        (lambda: train_prompt(MODEL, P, X, X, betas=(1.0, 0.9)), ValueError, r"betas"),
        (
            lambda: init_prompt_normal(MODEL, -1, rng=RNG),
            ValueError,
            r"length: expected an integer",
        ),
        (lambda: init_prompt_normal(MODEL, 2, rng="0"), TypeError, r"rng: expected numpy.random"),
        (lambda: Transformer.random(0, rng=RNG), ValueError, r"d: expected an integer >= 1"),
        (
            lambda: Transformer.random(3, rng=RNG, width=2),
            ValueError,
            r"width: expected an integer >= d",
        ),
        (lambda: Transformer.random(2, rng=RNG, scale=-1.0), ValueError, r"scale: expected"),
        (lambda: Transformer.random(2.5, rng=RNG), TypeError, r"d: expected an integer"),
        (
            lambda: FFNLayer(np.zeros((3, 2)), np.zeros(3), np.zeros((2, 3)), np.zeros(3)),
            ValueError,
            r"b1: expected hidden width",
        ),
        (
            lambda: Attention(np.eye(3), np.eye(3)[:2], np.eye(3), np.eye(3)),
            ValueError,
            r"w_k: expected model width",
        ),
        (
            lambda: Attention(np.eye(3), np.eye(3), np.eye(3), np.eye(3), scale=0),
            ValueError,
            r"scale: expected a finite number > 0",
        ),
        (
            lambda: Transformer(np.eye(2, 3), np.eye(3, 2), Attention(*[np.eye(4)] * 4)),
            ValueError,
            r"attn: expected model width 3",
        ),
        (
            lambda: Transformer(np.eye(2, 3), np.eye(2, 2), MODEL.attn),
            ValueError,
            r"readout: expected model width",
        ),
        (
            lambda: Transformer(
                np.eye(2, 3), np.eye(3, 2), MODEL.attn, ffn_in=(FFNLayer.zeros(4, 2),)
            ),
            ValueError,
            r"ffn_in\[0\]: expected model width 3",
        ),
        (
            lambda: Transformer(
                np.eye(2, 3), np.eye(3, 2), MODEL.attn, positional=np.zeros((4, 2))
            ),
            ValueError,
            r"positional: expected model width",
        ),
    ],
)
def test_bad_input_raises_a_clear_error(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_error_messages_name_the_received_value() -> None:
    with pytest.raises(ValueError, match=r"got shape \(4, 1\)"):
        prompt_forward(MODEL, P, X[:, :1])
    with pytest.raises(ValueError, match=r"got 0"):
        attention(Q, K, V, scale=0)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: attention(np.ma.masked_invalid([[np.nan]]), K[:, :1], V, scale=1.0), TypeError,
         r"q: expected a plain numpy array, got a masked array"),
        (lambda: prompt_forward(MODEL, P, np.ma.masked_array(X)), TypeError, r"x: .*masked"),
        (lambda: attention([[1.0], [1.0, 2.0]], K, V, scale=1.0), ValueError,
         r"q: expected a rectangular nested list"),
        (lambda: attention(Q, K, V.astype(complex), scale=1.0), TypeError, r"v: expected dtype"),
        (lambda: prompt_loss_and_grad(MODEL, P, X, [[1 + 1j, 0.0]] * 4), TypeError,
         r"ys: expected dtype float32 or float64.*complex"),
        (lambda: attention(Q, K, V, scale=10**400), ValueError, r"scale: .*too large for a float"),
        (lambda: Transformer.random(2, rng=RNG, weight_scale=-(10**400)), ValueError,
         r"weight_scale: .*too large"),
        (lambda: prompt_loss_and_grad(MODEL, P, np.zeros((0, 4, 2)), np.zeros((0, 4, 2))),
         ValueError, r"xs: expected at least one sequence \(batch >= 1\)"),
        (lambda: train_prompt(MODEL, P, np.zeros((0, 4, 2)), np.zeros((0, 4, 2))), ValueError,
         r"xs: expected at least one sequence"),
        (lambda: init_prompt_normal("model", 2, rng=RNG), TypeError,
         r"model: expected a reference.Transformer"),
        (lambda: train_prompt(MODEL, P, X, X, adam_eps=0.0), ValueError, r"adam_eps: expected"),
        (lambda: train_prompt(MODEL, P, X, X, betas=0.9), TypeError, r"betas: expected a pair"),
        (lambda: train_prompt(MODEL, P, X, X, betas=(0.9,)), ValueError, r"betas: expected a pair"),
        (lambda: train_prompt(MODEL, P, X, X, betas=(0.9, "a")), TypeError, r"betas\[1\]"),
        (lambda: train_prompt(MODEL, P, X, X, lr=1e300, max_steps=5), ValueError, r"^lr: "),
        (lambda: softmax_rows([[0.0, np.inf]]), ValueError, r"logits: expected finite values"),
        (lambda: softmax_rows(np.zeros((2, 0))), ValueError, r"logits: expected at least one"),
        (lambda: softmax_rows("x"), TypeError, r"logits: expected a numpy array"),
        (lambda: prompt_loss_and_grad(MODEL, P, np.full((4, 2), 1e300), X), ValueError,
         r"^xs, ys, prompt: the loss gradient overflows float64"),
        (lambda: Transformer.random(2, rng=-1), ValueError, r"rng: expected .* seed >= 0"),
    ],
)  # fmt: skip
def test_robustness_bad_input_raises_a_named_error(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_numpy_scalars_are_accepted_where_floats_are() -> None:
    out = attention(Q, K, V, scale=np.float32(0.25))
    assert np.array_equal(out, attention(Q, K, V, scale=0.25))
    assert train_prompt(MODEL, P, X, X, lr=np.float64(0.01), max_steps=2).steps == 2


def test_an_int_seed_is_a_generator_and_the_model_repr_is_short() -> None:
    a = Transformer.random(3, rng=7, width=5)
    b = Transformer.random(3, rng=np.random.default_rng(7), width=5)
    assert np.array_equal(a.attn.w_q, b.attn.w_q)
    big = Transformer.random(64, rng=0, max_length=512)
    assert len(repr(big)) < 400 and len(repr(big).splitlines()) <= 6
    assert "width=64" in repr(big)


def test_an_empty_batch_is_refused_by_name_everywhere_it_can_reach() -> None:
    """One shared check (``check_inputs``) guards every mean over the batch: no
    ZeroDivisionError from the exact, cached or low-rank gradients or the capacity functions."""
    from reference.efficiency.fast_gradient import fast_prompt_loss_and_grad
    from reference.efficiency.prompt_cache import InputBlockCache
    from reference.model.capacity import gradient_capacity, trained_losses

    empty = np.zeros((0, 4, 2))
    calls = [
        lambda: fast_prompt_loss_and_grad(MODEL, P, empty, empty, eps=1e-3, radius=1.0),
        lambda: gradient_capacity(
            MODEL, empty, empty, tolerance=0.1, prompt_lengths=[1], rng=np.random.default_rng(0)
        ),
        lambda: trained_losses(MODEL, empty, empty, prompt_lengths=[1], rng=RNG),
        lambda: InputBlockCache.build(MODEL, empty, empty),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"xs?: expected at least one sequence"):
            call()
