"""The gradient-capacity experiment of the capacity claim (exploratory, no verdict): the
smallest prompt length at which gradient prompt tuning memorizes ``N`` random pairs, over seeds
and step budgets.

* :func:`capacity_specs`: the sweep at the sizes of the run's mode;
* :func:`capacity_worker`: one trial as a JSON-ready row (top-level, for ``ctx.map``);
* :func:`summarize_capacity`: median and range over seeds per grid point and budget.

>>> from verify.claims.capacity.gradient_capacity import summarize_capacity
>>> summarize_capacity([{"N": 1, "d": 1, "L": 1, "budget": 9, "smallest_Lp": 1,
...                      "converged": True}], 4)[0]["median_Lp"]
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference.model.capacity import CapacitySpec, build_capacity_problem, run_capacity_spec
from reference.model.lipschitz import prompt_lipschitz_bound
from verify.claims.base import ClaimContext
from verify.claims.capacity import bounds as cap


# --------------------------------------------------------------------------- the sweep
def capacity_worker(spec: CapacitySpec) -> dict[str, Any]:
    """One trial (seed, step budget) of the capacity curve as a JSON-ready row (picklable).

    >>> from reference.model.capacity import CapacitySpec
    >>> from verify.claims.capacity.gradient_capacity import capacity_worker
    >>> row = capacity_worker(
    ...     CapacitySpec(n_pairs=1, d=1, input_length=1, width=2, prompt_lengths=(1, 2))
    ... )
    >>> row["smallest_Lp"], row["converged"]
    (1, True)
    """
    result = run_capacity_spec(spec)
    model = build_capacity_problem(spec)[0]  # the same seeded model the run trained against
    radius = max(r for t in result.trials for r in t.radii)  # read off the trained prompts
    lam = prompt_lipschitz_bound(model, prompt_radius=radius, input_length=spec.input_length)
    return {
        "N": spec.n_pairs,
        "d": spec.d,
        "L": spec.input_length,
        "D": spec.width,
        "tolerance": spec.tolerance,
        "budget": spec.max_steps,
        "seed": spec.seed,
        "smallest_Lp": result.smallest_length,
        "converged": all(t.converged for t in result.trials),
        "trained_R_P": radius,
        "log2_Lambda_at_trained_R_P": lam.log2,
        # what the covering bound would ask of a family memorizing EVERY labeling of the N
        # points inside the box of the trained prompts' radius: not a bound on this experiment
        "every_labeling_rows_at_trained_R_P": float(
            cap.dataset_token_lower_bound_log2_lambda_fn(
                spec.n_pairs,
                spec.tolerance,
                spec.d,
                spec.input_length,
                spec.width,
                lam.log2,
                radius,
            )
        ),
        "trials": [
            {
                "Lp": t.prompt_length,
                "losses": list(t.losses),
                "max_errors": list(t.max_errors),
                "steps": list(t.steps),
                "reasons": list(t.reasons),
                "memorized": t.memorized,
            }
            for t in result.trials
        ],
    }


def summarize_capacity(rows: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """Median and range of the smallest memorizing ``Lp`` over seeds, per ``(N, d, L, budget)``
    (a seed that did not memorize within the scanned lengths counts as ``2 top``, above all).

    >>> from verify.claims.capacity.gradient_capacity import summarize_capacity
    >>> rows = [{"N": 1, "d": 1, "L": 1, "budget": 9, "smallest_Lp": s, "converged": True}
    ...         for s in (1, 2, None)]
    >>> summarize_capacity(rows, 4)[0]["median_Lp"], summarize_capacity(rows, 4)[0]["max_Lp"]
    (2.0, None)
    """
    groups: dict[tuple[int, int, int, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["N"], row["d"], row["L"], row["budget"]), []).append(row)
    out = []
    for (n, d, length, budget), mine in sorted(groups.items()):
        values = np.array([r["smallest_Lp"] or 2 * top for r in mine], dtype=np.float64)
        median = float(np.median(values))

        def shown(v: float) -> float | None:
            return None if v > top else v

        out.append(
            {
                "N": n,
                "d": d,
                "L": length,
                "budget": budget,
                "seeds": len(mine),
                "median_Lp": shown(median),
                "min_Lp": shown(float(values.min())),
                "max_Lp": shown(float(values.max())),
                "memorized": sum(r["smallest_Lp"] is not None for r in mine),
                "converged": sum(bool(r["converged"]) for r in mine),
            }
        )
    return out


def capacity_specs(ctx: ClaimContext) -> tuple[list[CapacitySpec], int]:
    """The trials of the capacity curve at the sizes of ``ctx.mode`` (grid points × pair counts
    × step budgets × seeds) and the longest prompt length they scan.

    >>> from pathlib import Path
    >>> from verify.claims.base import ClaimContext
    >>> from verify.claims.capacity.gradient_capacity import capacity_specs
    >>> specs, top = capacity_specs(ClaimContext(Path("."), mode="smoke"))
    >>> len(specs), top
    (8, 4)
    """
    grid = ctx.pick([(1, 1)], [(1, 1), (1, 2)], [(1, 1), (2, 1), (1, 2), (2, 2)])
    counts = ctx.pick([1, 2], [1, 2, 4], [1, 2, 4, 8])
    lengths = ctx.pick((1, 2, 4), (1, 2, 4, 8, 16), (1, 2, 4, 8, 16, 32, 64))
    budgets = ctx.pick((200, 1000), (1000, 4000), (2000, 10000))
    seeds = ctx.pick(2, 3, 5)
    specs = [
        CapacitySpec(
            n_pairs=n,
            d=d,
            input_length=length,
            width=8,
            prompt_lengths=lengths,
            max_steps=budget,
            patience=300,
            min_improvement=1e-3,
            problem_seed=ctx.seed + 100 * n + 10 * d + length,
            seed=seed,
        )
        for d, length in grid
        for n in counts
        for budget in budgets
        for seed in range(seeds)
    ]
    return specs, lengths[-1]
