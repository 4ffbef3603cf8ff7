"""Every kind of bad input raises ValueError/TypeError naming the argument and what was expected."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from reference import (
    Attention,
    FFNLayer,
    Transformer,
    attention,
    construct_universal,
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


def _construction():
    return construct_universal(lambda x: x, d=1, L=1, lipschitz=1.0, eps=0.25)


def _raises(x):
    raise RuntimeError("boom")


with warnings.catch_warnings():  # making a matrix warns; calling with one must not
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    MATRIX = np.asmatrix(Q)


# issue 17: the second fuzz's findings, one case per fault
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: MODEL.with_dtype(None), TypeError, r"^dtype: expected float32 or float64"),
        (lambda: attention(MATRIX, K, V, scale=1.0), TypeError, r"^q: .*numpy.matrix"),
        (lambda: prompt_forward(MODEL, P, np.broadcast_to(0.5, (2**31, 2))), ValueError,
         r"^x: expected at most 268435456 entries"),
        (lambda: softmax_rows([[True, False]]), TypeError, r"^logits: expected dtype"),
        (lambda: attention(np.zeros((2**15, 1, 2, 2)), np.zeros((1, 2**15, 3, 2)), V[:3],
                           scale=1.0), ValueError, r"^q, k, v: the broadcast batch axes"),
        (lambda: Transformer.random(2, rng=0, ffn_in_layers=10**6), ValueError,
         r"^ffn_in_layers: expected an integer <= 1024"),
        (lambda: Transformer.random(2, rng=0, width=4096, ffn_out_layers=1000), ValueError,
         r"^width: .* weights in the whole model"),
        (lambda: Transformer.random(2, rng=0, weight_scale=1.7e308), ValueError,
         r"^weight_scale: .*overflow"),
        (lambda: _construction().off_band(np.array([[np.nan]])), ValueError, r"^x: expected fin"),
        (lambda: _construction().off_band(np.array([[0.5 + 1j]])), TypeError, r"^x: expected dty"),
        (lambda: _construction().cells(np.array([["0.5"]])), TypeError, r"^x: expected dtype"),
        (lambda: _construction().cells(np.zeros((1, 1), "datetime64[s]")), TypeError, r"^x: "),
        (lambda: construct_universal(_raises, d=1, L=1, lipschitz=1.0,
         eps=0.25), ValueError, r"^f: the target raised RuntimeError"),
        (lambda: construct_universal(lambda x: x + 1j, d=1, L=1,
         lipschitz=1.0, eps=0.25), TypeError, r"^f: expected f\(X\) to return real numbers"),
    ],
)  # fmt: skip
def test_hostile_input_is_refused_by_name(call, error: type, match: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing on stderr on the way
        with pytest.raises(error, match=match):
            call()


@pytest.mark.parametrize("value", [5e-324, 1e-310])
def test_denormal_memorizer_accuracy_and_separation_are_refused_by_name(value: float) -> None:
    from reference import construct_memorizer

    xs = np.array([[[0.1], [0.6]], [[0.6], [0.1]]])
    ys = np.array([[[0.9], [0.2]], [[0.3], [0.4]]])
    with pytest.raises(ValueError, match=r"^eps: "):
        construct_memorizer(xs, ys, eps=value)
    with pytest.raises(ValueError, match=r"^separation: "):
        construct_memorizer(xs, ys, eps=0.1, separation=value)
    with pytest.raises(ValueError, match=r"band|backend"):  # a ValueError, not OverflowError
        construct_memorizer(xs, ys, eps=0.1, separation=0.5, band=value)


def test_to_fraction_is_exact_for_numpy_floats_and_refuses_by_name() -> None:
    import mpmath

    from reference.constructions.exact.rationals import to_fraction

    assert to_fraction(np.float32(0.1)) == to_fraction(float(np.float32(0.1)))
    for bad, error in ((np.nan, ValueError), (np.inf, ValueError), (True, TypeError),
                       (mpmath.mpf("inf"), ValueError)):  # fmt: skip
        with pytest.raises(error, match=r"^value: "):
            to_fraction(bad)


def test_layers_keep_arrays_promoted_to_one_dtype() -> None:
    layer = FFNLayer([[1.0, 2.0]], [0.5, 0.5], np.ones((2, 1), np.float32), [0.0])
    assert all(isinstance(w, np.ndarray) and w.dtype == np.float64
               for w in (layer.w1, layer.b1, layer.w2, layer.b2))  # fmt: skip
    attn = Attention(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), np.eye(2), np.eye(2))
    assert {attn.w_q.dtype, attn.w_o.dtype} == {np.dtype(np.float64)}
    single = Attention(*[np.eye(2, dtype=np.float32)] * 4)
    assert single.w_q.dtype == np.float32  # float32 stays float32 when nothing is float64


def test_mpmath_targets_with_float_inputs_are_accepted() -> None:
    import mpmath

    ys = np.vectorize(mpmath.mpf, otypes=[object])(X)
    loss, grad = prompt_loss_and_grad(MODEL, P, X, ys)
    ref_loss, ref_grad = prompt_loss_and_grad(MODEL, P, X, X)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(np.asarray(grad, dtype=np.float64), ref_grad, rtol=1e-10)
    result = train_prompt(MODEL, P, X, ys, max_steps=3)
    assert result.prompt.dtype == np.float64 and result.steps == 3


def test_softmax_of_logits_near_the_float_limit_is_silent_and_exact() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = softmax_rows(np.array([[1.7e308, -1.7e308, 0.0]]))
    assert out.tolist() == [[1.0, 0.0, 0.0]]


def test_capacity_takes_int_seeds_and_bounds_restarts() -> None:
    from reference.model.capacity import random_pairs, trained_losses

    a, _ = random_pairs(2, d=2, length=3, rng=5)
    b, _ = random_pairs(2, d=2, length=3, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"^n_pairs: "):
        random_pairs(10**12, d=2, length=4, rng=0)
    with pytest.raises(ValueError, match=r"^restarts: expected an integer <= 1000"):
        trained_losses(MODEL, X, X, prompt_lengths=[1], rng=0, restarts=10**6)


def test_mixed_float32_float64_attention_is_computed_in_float64() -> None:
    """float32 queries next to float64 keys: promoted before the scale (``q * 0.7`` in float32
    had a float32 error, ~4e-9, in a float64 result)."""
    q32 = Q.astype(np.float32)
    mixed = attention(q32, K, V, scale=0.7)
    assert mixed.dtype == np.float64
    np.testing.assert_allclose(mixed, attention(q32.astype(np.float64), K, V, scale=0.7),
                               rtol=0, atol=1e-15)  # fmt: skip
    assert attention(q32, K.astype(np.float32), V.astype(np.float32), scale=0.7).dtype == np.float32
