"""The stopping rule of :func:`reference.model.capacity.gradient_capacity` against its documented
target: a restart stops "on target" when the MSE is ``<= tolerance² / (N L d)``, and then its
max-norm error is ``<= tolerance`` (a sum of ``N L d`` squares below ``tolerance²`` has every
term below it).

With the target not divided by ``N L d`` restarts stop early, off target, and a problem of
capacity 4 is reported as having none (issue 16); the planted test shows the check catches it.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

import reference.model.capacity as capacity
from reference import Transformer
from tests.strength.planting import mutant

TOLERANCE = 0.1
UNDIVIDED_TARGET = ("ratio = tolerance / math.sqrt(ys.size)", "ratio = tolerance")


def capacity_four_problem() -> tuple[Transformer, np.ndarray, np.ndarray]:
    """Two pairs of length 2 (``N L d = 4``) a width-4 model memorizes first at prompt length 4."""
    rng = np.random.default_rng(0)
    model = Transformer.random(1, rng=rng, width=4)
    xs, ys = capacity.random_pairs(2, d=1, length=2, rng=rng)
    return model, xs, ys


def run(module: types.ModuleType = capacity) -> capacity.CapacityResult:
    model, xs, ys = capacity_four_problem()
    return module.gradient_capacity(
        model, xs, ys, tolerance=TOLERANCE, prompt_lengths=[1, 2, 4, 8],
        rng=np.random.default_rng(0), max_steps=1500, patience=300, lr=0.1,
    )  # fmt: skip


def stopped_on_target_off_tolerance(result: capacity.CapacityResult) -> list[tuple[int, float]]:
    """Restarts that stopped on the target with a max-norm error above the tolerance."""
    return [
        (trial.prompt_length, error)
        for trial in result.trials
        for reason, error in zip(trial.reasons, trial.max_errors, strict=True)
        if reason == "target_loss" and error > result.tolerance
    ]


def test_the_target_given_to_training_is_the_documented_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    targets: list[float] = []
    real = capacity.train_prompt

    def spy(*args: object, **kwargs: object) -> object:
        targets.append(kwargs["target_loss"])
        return real(*args, **kwargs)

    monkeypatch.setattr(capacity, "train_prompt", spy)
    model, xs, ys = capacity_four_problem()
    capacity.gradient_capacity(
        model, xs, ys, tolerance=TOLERANCE, prompt_lengths=[1], rng=np.random.default_rng(0),
        max_steps=5,
    )  # fmt: skip
    n, length, d = ys.shape
    assert targets and all(
        t == pytest.approx(TOLERANCE**2 / (n * length * d), rel=1e-12) for t in targets
    )


def test_stopping_on_target_means_within_tolerance_and_capacity_is_found() -> None:
    result = run()
    assert stopped_on_target_off_tolerance(result) == []
    assert result.smallest_length == 4


def test_planted_undivided_target_is_caught() -> None:
    result = run(mutant(capacity, *UNDIVIDED_TARGET))
    assert stopped_on_target_off_tolerance(result) != []
    assert result.smallest_length is None  # the symptom: capacity 4 reported as none
