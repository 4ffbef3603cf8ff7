"""The Wang-style loss floor of theory.md §4: without positions, a permuted pair with
conflicting targets has a loss floor at every prompt length.

* :func:`wang_floor`: the floor from the sympy pair floor; :func:`wang_observations`: trained
  losses never below it (up to :data:`WANG_FLOOR_SLACK`).
* :func:`wang_worker`, :func:`planted_wang_worker`: trained losses versus prompt length on the
  dataset (the planted one with a positional model), top-level for ``ctx.map``.
* :func:`wang_checks`: the report's counted check and its planted violation.

>>> from verify.claims.capacity.wang import wang_observations
>>> [o.holds for o in wang_observations(0.25, [0.3])]
[True]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference import Transformer
from reference.model.capacity import trained_losses, wang_dataset
from verify.claims.base import CheckResult
from verify.claims.capacity import bounds as cap
from verify.claims.capacity.report_checks import planted_check
from verify.claims.properties import Observation

#: The Wang-style dataset of the report: ``d, L, D``.
WANG_SHAPE = (2, 3, 6)

#: Relative slack of the Wang floor check: trained losses must stay ``>= floor (1 - slack)``;
#: the floor and the loss are both float64 means of squares, equal up to rounding at the optimum.
WANG_FLOOR_SLACK = 1e-9


def wang_floor(ys: np.ndarray, permutation: np.ndarray) -> float:
    """The Wang-style floor from the sympy pair floor ``(a - b)^2 / 2``
    (:data:`verify.claims.capacity.bounds.wang_pair_floor`) over the ``2 L d`` squared errors; must
    equal :func:`reference.model.capacity.wang_loss_floor` (tied in
    ``tests/capacity/test_capacity.py``).

    >>> import numpy as np
    >>> from verify.claims.capacity.wang import wang_floor
    >>> wang_floor(np.array([[[0.0]], [[1.0]]]), np.array([0]))
    0.25
    """
    ys = np.asarray(ys, dtype=np.float64)  # (2, L, d)
    perm = np.asarray(permutation)  # (L,)
    pairs = cap.wang_pair_floor_fn(ys[0][perm], ys[1])  # (L, d)
    return float(np.sum(pairs) / cap.wang_mse_denominator_fn(ys.shape[2], ys.shape[1]))


def wang_observations(floor: float, losses: list[float]) -> list[Observation]:
    """Each trained loss against the exact floor: ``floor (1 - slack) <= loss``.

    >>> from verify.claims.capacity.wang import wang_observations
    >>> [o.holds for o in wang_observations(0.5, [0.6, 0.5, 0.4])]
    [True, True, False]
    """
    return [
        Observation(floor * (1 - WANG_FLOOR_SLACK), float(loss), "floor / trained loss")
        for loss in losses
    ]


def wang_worker(args: tuple[int, int, int, tuple[int, ...], int, int]) -> dict[str, Any]:
    """Trained loss versus prompt length on a Wang-style dataset (top-level: picklable).

    ``args = (d, L, D, prompt_lengths, max_steps, seed)``; the floor is the sympy one
    (:func:`wang_floor`).

    >>> from verify.claims.capacity.wang import wang_worker
    >>> row = wang_worker((1, 2, 2, (1, 2), 50, 0))
    >>> all(loss >= row["floor"] for loss in row["losses"])
    True
    """
    d, length, width, lengths, max_steps, seed = args
    rng = np.random.default_rng(seed)
    model = Transformer.random(d, rng=rng, width=width)
    data = wang_dataset(model, length=length, rng=rng)
    losses = trained_losses(
        model, data.xs, data.ys, prompt_lengths=lengths, rng=rng, restarts=1, max_steps=max_steps
    )
    return {
        "d": d,
        "L": length,
        "D": width,
        "seed": seed,
        "floor": wang_floor(data.ys, data.permutation),
        "Lp": list(lengths),
        "losses": losses,
    }


def planted_wang_worker(args: tuple[int, int]) -> dict[str, Any]:
    """The planted Wang violation: a model WITH positions trained on the Wang-style dataset of
    a position-free model (``args = (max_steps, seed)``); its loss goes below the floor.

    >>> from verify.claims.capacity.wang import planted_wang_worker
    >>> planted_wang_worker((20, 1))["floor"] > 0
    True
    """
    max_steps, seed = args
    d, length, width = WANG_SHAPE
    rng = np.random.default_rng(seed)
    data = wang_dataset(Transformer.random(d, rng=rng, width=width), length=length, rng=rng)
    positional = Transformer.random(d, rng=rng, width=width, max_length=length)
    losses = trained_losses(
        positional, data.xs, data.ys, prompt_lengths=[8], rng=rng, restarts=1, max_steps=max_steps
    )
    return {"seed": seed, "floor": wang_floor(data.ys, data.permutation), "losses": losses}


def wang_checks(rows: list[dict[str, Any]], planted: dict[str, Any]) -> list[CheckResult]:
    """The counted check over the rows of :func:`wang_worker` (every trained loss at or above
    its floor) and its planted violation, caught when the row of :func:`planted_wang_worker`
    beats its floor.

    >>> from verify.claims.capacity.wang import wang_checks
    >>> rows = [{"floor": 0.5, "losses": [0.6, 0.5]}]
    >>> [c.passed for c in wang_checks(rows, {"floor": 0.5, "losses": [0.1]})]
    [True, True]
    """
    observations = [wang_observations(row["floor"], row["losses"]) for row in rows]
    ratios = [o.ratio for obs in observations for o in obs]
    failing = [
        row for row, obs in zip(rows, observations, strict=True) if not all(o.holds for o in obs)
    ]
    caught = not all(o.holds for o in wang_observations(planted["floor"], planted["losses"]))
    return [
        CheckResult(
            name="Wang-style loss floor",
            statement="trained loss on a permuted pair with conflicting targets never goes below "
            "the exact floor (sympy pair floor (a-b)^2/2), at every prompt length",
            bound_latex=r"\mathrm{MSE}(P) \ge \frac{1}{2Ld}\sum (y_{0,\pi(j)} - y_{1,j})^2/2",
            cases=len(ratios),
            passed=not failing,
            worst_ratio=max(ratios),
            counterexample=str(failing[0]) if failing else None,
            details={
                "worst_floor_over_loss": max(
                    row["floor"] / loss for row in rows for loss in row["losses"]
                ),
                "relative_slack": WANG_FLOOR_SLACK,
            },
            kind="bound",
        ),
        planted_check(
            "positional model on the Wang dataset",
            "the floor check catches a model with positions, which beats the floor",
            caught,
            1,
            loss_over_floor=min(planted["losses"]) / planted["floor"],
        ),
    ]
