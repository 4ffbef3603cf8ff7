"""Gradient capacity of random models (scan, stopping rule, summaries) and the Wang-style loss
floor it can never beat."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from reference import Transformer, prompt_forward
from reference.model.capacity import (
    CapacitySpec,
    build_capacity_problem,
    gradient_capacity,
    permutation_defect,
    random_pairs,
    run_capacity_spec,
    trained_losses,
    wang_dataset,
    wang_loss_floor,
)
from verify.claims.capacity import bounds as cap
from verify.claims.capacity.wang import WANG_FLOOR_SLACK, wang_floor, wang_observations


# --------------------------------------------------------------------------- gradient capacity
def test_one_pair_is_memorized_with_one_prompt_row() -> None:
    rng = np.random.default_rng(0)
    model = Transformer.random(1, rng=rng, width=2)
    xs, ys = random_pairs(1, d=1, length=1, rng=rng)
    result = gradient_capacity(model, xs, ys, tolerance=0.1, prompt_lengths=[1, 2], rng=rng)
    assert result.smallest_length == 1
    trial = result.trials[0]
    assert trial.memorized and min(trial.max_errors) <= 0.1
    assert len(result.trials) == 1  # stopped at the first success


def test_scan_keeps_raw_losses_and_reports_failure() -> None:
    spec = CapacitySpec(
        n_pairs=6,
        d=1,
        input_length=2,
        width=2,
        prompt_lengths=(1, 2),
        tolerance=1e-3,
        restarts=2,
        max_steps=40,
        seed=3,
    )
    result = run_capacity_spec(spec)
    assert result.smallest_length is None
    assert [t.prompt_length for t in result.trials] == [1, 2]
    for trial in result.trials:
        assert len(trial.losses) == len(trial.max_errors) == 2
        assert all(e > 1e-3 for e in trial.max_errors)
        assert all(loss > 0 for loss in trial.losses)


def test_memorized_means_max_error_within_tolerance() -> None:
    spec = CapacitySpec(n_pairs=2, d=1, input_length=1, width=4, prompt_lengths=(1, 2, 4))
    result = run_capacity_spec(spec)
    model, xs, _ys, _ = build_capacity_problem(spec)
    assert (model.d, model.width, xs.shape) == (1, 4, (2, 1, 1))
    for trial in result.trials:
        assert trial.memorized == (min(trial.max_errors) <= spec.tolerance)
        assert all(r > 0 for r in trial.radii)


def test_stopping_rule_records_why_each_run_stopped() -> None:
    spec = CapacitySpec(
        n_pairs=4,
        d=1,
        input_length=1,
        width=4,
        prompt_lengths=(1, 2),
        max_steps=60,
        patience=20,
        min_improvement=0.5,  # a coarse plateau rule: it must fire before the cap
        problem_seed=7,
    )
    result = run_capacity_spec(spec)
    reasons = [r for t in result.trials for r in t.reasons]
    assert reasons and set(reasons) <= {"target_loss", "plateau", "max_steps"}
    assert "plateau" in reasons
    assert all(t.converged == all(r != "max_steps" for r in t.reasons) for t in result.trials)
    capped = run_capacity_spec(replace(spec, max_steps=5, min_improvement=0.0, patience=10))
    assert not any(t.converged for t in capped.trials)  # the cap is not convergence
    # several trial seeds share one problem (model and pairs) through problem_seed
    a, b = build_capacity_problem(spec), build_capacity_problem(replace(spec, seed=1))
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[0].attn.w_q, b[0].attn.w_q)


def test_summary_gives_median_and_range_over_seeds() -> None:
    from verify.claims.capacity.gradient_capacity import summarize_capacity

    rows = [
        {"N": 2, "d": 1, "L": 1, "budget": 10, "smallest_Lp": s, "converged": c}
        for s, c in ((1, True), (4, True), (None, False))
    ]
    (summary,) = summarize_capacity(rows, top=8)
    assert (summary["median_Lp"], summary["min_Lp"], summary["max_Lp"]) == (4.0, 1.0, None)
    assert (summary["memorized"], summary["converged"], summary["seeds"]) == (2, 2, 3)


def test_capacity_rejects_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    model = Transformer.random(1, rng=rng, width=2)
    xs, ys = random_pairs(2, d=1, length=1, rng=rng)
    ok = {"tolerance": 0.1, "prompt_lengths": [1], "rng": rng}
    with pytest.raises(ValueError, match="prompt_lengths"):
        gradient_capacity(model, xs, ys, **{**ok, "prompt_lengths": [2, 1]})
    with pytest.raises(ValueError, match="prompt_lengths"):
        gradient_capacity(model, xs, ys, **{**ok, "prompt_lengths": []})
    with pytest.raises(ValueError, match="tolerance"):
        gradient_capacity(model, xs, ys, **{**ok, "tolerance": 0.0})
    with pytest.raises(TypeError, match="rng"):
        gradient_capacity(model, xs, ys, **{**ok, "rng": "0"})  # an int is a seed, as everywhere
    with pytest.raises(ValueError, match="xs"):
        gradient_capacity(model, xs[0], ys[0], **ok)
    with pytest.raises(ValueError, match="ys"):
        gradient_capacity(model, xs, ys[:1], **ok)
    with pytest.raises(ValueError, match="xs"):
        gradient_capacity(model, np.full_like(xs, np.nan), ys, **ok)
    with pytest.raises(TypeError, match="model"):
        gradient_capacity("model", xs, ys, **ok)
    with pytest.raises(ValueError, match="n_pairs"):
        random_pairs(0, d=1, length=1, rng=rng)
    with pytest.raises(TypeError, match="spec"):
        run_capacity_spec({"n_pairs": 1})


# --------------------------------------------------------------------------- Wang-style floor
def test_wang_loss_floor_value() -> None:
    ys = np.array([[[0.0], [1.0]], [[1.0], [1.0]]])  # row j of seq 1 pairs row perm[j] of seq 0
    assert wang_loss_floor(ys, np.array([1, 0])) == pytest.approx((0.0 + 1.0) / 2 / 4)
    with pytest.raises(ValueError, match="permutation"):
        wang_loss_floor(ys, np.array([0, 0]))
    with pytest.raises(ValueError, match="ys"):
        wang_loss_floor(ys[:1], np.array([0, 1]))


def test_wang_loss_floor_is_the_sympy_pair_floor() -> None:
    # the pair floor (a - b)^2 / 2 is derived in sympy; reference computes it in numpy
    a, b = cap.y_a, cap.y_b
    assert sp.simplify(cap.wang_pair_floor - (a - b) ** 2 / 2) == 0
    assert sp.simplify(cap.wang_shared_output - (a + b) / 2) == 0
    rng = np.random.default_rng(3)
    for length, d in ((2, 1), (3, 2), (5, 3)):
        ys = rng.random((2, length, d))
        perm = rng.permutation(length)
        assert wang_loss_floor(ys, perm) == pytest.approx(wang_floor(ys, perm), rel=1e-14)
        shared = (ys[0][perm] + ys[1]) / 2  # the optimum: each pair at its mean
        outputs = np.stack([np.empty_like(shared), shared])  # (2, L, d)
        outputs[0][perm] = shared
        assert float(((outputs - ys) ** 2).mean()) == pytest.approx(wang_floor(ys, perm))


def test_wang_loss_floor_rejects_non_integer_permutations() -> None:
    ys = np.random.default_rng(0).random((2, 2, 1))
    with pytest.raises(TypeError, match="permutation"):
        wang_loss_floor(ys, np.array([True, False]))  # was silently 0.0925
    with pytest.raises(TypeError, match="permutation"):
        wang_loss_floor(ys, np.array([1.0, 0.0]))  # was an IndexError
    assert wang_loss_floor(ys, [1, 0]) == pytest.approx(wang_floor(ys, np.array([1, 0])))


def test_any_prompt_gives_identical_outputs_on_matched_rows() -> None:
    rng = np.random.default_rng(1)
    model = Transformer.random(2, rng=rng, width=3)
    data = wang_dataset(model, length=3, rng=rng)
    for lp in (0, 1, 7):
        out = prompt_forward(model, rng.standard_normal((lp, 3)) * 3, data.xs)  # (2, L, d)
        assert np.allclose(out[1], out[0][data.permutation], atol=1e-12)
        loss = float(((out - data.ys) ** 2).mean())
        assert loss >= data.loss_floor


def test_trained_loss_reaches_but_never_beats_the_floor() -> None:
    rng = np.random.default_rng(1)
    model = Transformer.random(2, rng=rng, width=6)
    data = wang_dataset(model, length=3, rng=rng)
    losses = trained_losses(
        model, data.xs, data.ys, prompt_lengths=[2, 8], rng=rng, restarts=1, max_steps=600
    )
    assert all(loss >= data.loss_floor * (1 - WANG_FLOOR_SLACK) for loss in losses)
    assert all(o.holds for o in wang_observations(data.loss_floor, losses))
    assert losses[-1] <= 1.05 * data.loss_floor  # gradient descent does get to the floor


def test_planted_positional_model_beats_the_floor() -> None:
    # positions break the permutation symmetry, so the floor is no longer a floor
    rng = np.random.default_rng(1)
    model = Transformer.random(2, rng=rng, width=6)
    data = wang_dataset(model, length=3, rng=rng)
    positional = Transformer.random(2, rng=rng, width=6, max_length=3)
    losses = trained_losses(
        positional, data.xs, data.ys, prompt_lengths=[8], rng=rng, restarts=1, max_steps=600
    )
    assert losses[0] < 0.5 * data.loss_floor
    assert permutation_defect(positional, np.zeros((1, 6)), data.xs[0], data.permutation) > 1e-3


def test_wang_rejects_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="positional"):
        wang_dataset(Transformer.random(1, rng=rng, width=2, max_length=3), length=3, rng=rng)
    model = Transformer.random(1, rng=rng, width=2)
    with pytest.raises(ValueError, match="length"):
        wang_dataset(model, length=1, rng=rng)
    with pytest.raises(ValueError, match="permutation"):
        permutation_defect(model, np.zeros((1, 2)), np.zeros((3, 1)), np.array([0, 1]))
    with pytest.raises(ValueError, match="x"):
        permutation_defect(model, np.zeros((1, 2)), np.zeros((2, 3, 1)), np.array([0, 1, 2]))
