"""The Adam training loop: deterministic, monotone best loss, stopping rules, initialisations."""

from __future__ import annotations

import numpy as np

from reference import Transformer, init_prompt_from_inputs, init_prompt_normal, train_prompt


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    model = Transformer.random(2, rng=rng, width=4, ffn_in_layers=1, ffn_out_layers=1)
    xs, ys = rng.random((3, 3, 2)), rng.random((3, 3, 2))
    return model, xs, ys, rng


def test_training_reduces_the_loss_and_is_deterministic() -> None:
    model, xs, ys, rng = _problem()
    p0 = init_prompt_normal(model, 4, rng=rng)
    a = train_prompt(model, p0, xs, ys, max_steps=300, patience=1000)
    b = train_prompt(model, p0, xs, ys, max_steps=300, patience=1000)
    assert a.loss < 0.5 * a.history[0]
    assert a.history == b.history
    np.testing.assert_array_equal(a.prompt, b.prompt)
    assert a.loss == min(a.history)


def test_target_loss_stops_early_and_reports_convergence() -> None:
    model, xs, ys, rng = _problem(1)
    p0 = init_prompt_normal(model, 4, rng=rng)
    first = train_prompt(model, p0, xs, ys, max_steps=1).loss
    r = train_prompt(model, p0, xs, ys, max_steps=500, target_loss=first * 0.8)
    assert r.converged and r.reason == "target_loss" and r.steps < 500


def test_plateau_stops_training() -> None:
    model, xs, ys, rng = _problem(2)
    # lr tiny: no relative improvement of 1e-2 within 5 steps -> plateau
    r = train_prompt(
        model,
        init_prompt_normal(model, 2, rng=rng),
        xs,
        ys,
        lr=1e-9,
        patience=5,
        min_improvement=1e-2,
    )
    assert r.reason == "plateau" and r.steps == 6 and not r.converged


def test_init_from_inputs_uses_input_tokens() -> None:
    model, xs, _, rng = _problem(3)
    p = init_prompt_from_inputs(model, 5, xs, rng=rng)
    tokens = xs.reshape(-1, 2) @ model.embed
    assert all(any(np.array_equal(row, t) for t in tokens) for row in p)
