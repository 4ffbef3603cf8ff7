"""Report claim "capacity" (theory.md §4): lower bounds, constructions against them, and the
gradient-based capacity of random frozen models with a Wang-style loss floor.

Checks (kind): the packing family behind ``M(eps)`` (attainment: tight by construction); the
prompt-Lipschitz bound ``Λ`` (bound); permutation equivariance (exact: why the Wang-style dataset
has a floor); construction rows ``= L K^d`` (exact); constructions memorize the packing family
at packing centres off their boundary band, memorizers their two-level datasets (bound); trained
losses on the Wang-style dataset never beat the floor (bound). Each has a planted violation in the
report (kind planted). Remarks (tables, not counted): the capacity and bits ratios of the
constructions, ``>= 1`` by a structural margin (docs/capacity.md §5), with two planted
constructions that undercut them and are flagged. Exploratory, no verdict: the smallest
memorizing prompt length of gradient prompt tuning, over seeds and step budgets.

Here: the property checks at the report's sizes, the construction sweep's cases and the claim's
:func:`run`; the measurements live in :mod:`~verify.claims.capacity.checks`,
:mod:`~verify.claims.capacity.constructions`, :mod:`~verify.claims.capacity.wang` and
:mod:`~verify.claims.capacity.gradient_capacity`, their results and figures in
:mod:`~verify.claims.capacity.report_checks` and :mod:`~verify.claims.capacity.plots`.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from hypothesis import strategies as st

from verify.claims.base import CheckResult, ClaimContext, ClaimResult, FigureResult, register
from verify.claims.capacity import bounds
from verify.claims.capacity.checks import lipschitz_pair_check, packing_check, permutation_check
from verify.claims.capacity.constructions import (
    construction_worker,
    memorizer_worker,
    planted_insensitive_count,
    planted_low_precision_count,
)
from verify.claims.capacity.gradient_capacity import (
    capacity_specs,
    capacity_worker,
    summarize_capacity,
)
from verify.claims.capacity.plots import plot_capacity, plot_counts
from verify.claims.capacity.report_checks import (
    construction_checks,
    planted_outcome,
    remark_planted_checks,
)
from verify.claims.capacity.strategies import (
    ConstructionCase,
    MemorizerCase,
    packing_cases,
    permutation_case,
    permutation_cases,
    prompt_pair_cases,
    seeded_prompt_pair,
)
from verify.claims.capacity.wang import WANG_SHAPE, planted_wang_worker, wang_checks, wang_worker
from verify.claims.derivations import (
    derivation_checks,
    planted_wrong_step,
    planted_wrong_steps,
)
from verify.claims.properties import PropertyOutcome, run_property

STATEMENT = (
    "Prompt tuning a one-layer single-head transformer needs (precision) "
    "b (d_v+1) >= d K^{d(L-1)} log2 Q bits per number and (tokens) "
    "D Lp log2(4 Λ R_P / eps) >= M(eps) = d L floor(C/(4 eps))^{dL} prompt bits, where the "
    "construction meets its guarantee at the packing centres (off its boundary band). The "
    "constructions' capacity and bits ratios are >= 1 by a structural margin (remarks). Without "
    "positions, a permuted pair with conflicting targets has a loss floor at every prompt length. "
    "The gradient-capacity curve is exploratory (no verdict)."
)


def _property_checks(ctx: ClaimContext) -> list[CheckResult]:
    # the properties of verify/claims/capacity/test_properties.py, at the report's sizes
    n = ctx.pick(15, 60, 1000)
    planted_n = ctx.pick(5, 20, 100)
    ctx.progress("capacity: properties")

    def run(name: str, strategy: Any, check: Any, count: int = n) -> PropertyOutcome:
        return run_property(name, strategy, check, max_examples=count, rng_seed=ctx.seed)

    return [
        CheckResult.from_outcome(
            "packing family",
            "the 2^{M(eps)} bump functions are C-Lipschitz, [0,1]-valued, 4 eps apart; built to "
            "reach slope C and separation 4 eps (tightness of Lemma 2, not evidence)",
            r"|f_\sigma(x)-f_\sigma(y)| \le C\|x-y\|_{\max}",
            run("packing", packing_cases(), packing_check(1.0)),
            kind="attainment",
        ),
        planted_outcome(
            "packing constant C/2",
            "the packing check, told the members are C/2-Lipschitz, catches the slope C",
            run("planted packing", packing_cases(), packing_check(0.5), planted_n),
        ),
        CheckResult.from_outcome(
            "prompt-Lipschitz bound",
            "||τ(P) - τ(P')||_max <= Λ ||P - P'||_max on the prompt box",
            r"\|\tau_P - \tau_{P'}\|_{\max} \le \Lambda \|P-P'\|_{\max}",
            run("prompt Lipschitz", prompt_pair_cases(), lipschitz_pair_check(1.0)),
            kind="bound",
        ),
        planted_outcome(
            "Λ · 1e-6",
            "the prompt-Lipschitz check catches a bound 10^6 too small",
            run(
                "planted prompt Lipschitz",
                st.sampled_from([seeded_prompt_pair(ctx.seed + s) for s in range(planted_n)]),
                lipschitz_pair_check(1e-6),
                planted_n,
            ),
        ),
        CheckResult.from_outcome(
            "permutation equivariance",
            "without positions, τ([P; Xπ]) = τ([P; X])π for every prompt P (to rounding)",
            r"\tau([P; X\pi]) = \tau([P; X])\pi",
            run("permutation", permutation_cases(), permutation_check),
            kind="exact",
        ),
        planted_outcome(
            "positional encoding",
            "the permutation check catches a model with a positional encoding",
            run(
                "planted permutation",
                st.sampled_from(
                    [
                        permutation_case(1 + s % 3, 3, 2 + s % 4, (s % 3, 1), s % 5, s, True)
                        for s in range(ctx.seed, ctx.seed + planted_n)
                    ]
                ),
                permutation_check,
                planted_n,
            ),
        ),
    ]


def _construction_cases(ctx: ClaimContext) -> list[ConstructionCase]:
    small = [
        ConstructionCase(1, 1, 0.125, 1.0),
        ConstructionCase(1, 2, 0.25, 1.0),
        ConstructionCase(1, 1, 0.125, 1.0, centres="unit"),  # the reproducer
    ]
    default = [
        *small,
        ConstructionCase(1, 1, 0.25, 1.0),
        ConstructionCase(1, 2, 0.125, 1.0),
        ConstructionCase(2, 1, 0.125, 1.0),
        ConstructionCase(1, 2, 0.25, 2.0),
        ConstructionCase(2, 2, 0.25, 1.0),
        ConstructionCase(1, 3, 0.25, 1.0),
        ConstructionCase(1, 1, 1 / 12, 1.0),
        ConstructionCase(1, 4, 0.25, 1.0, backend="mpmath", probe=False),
    ]
    thorough = [
        *default,
        ConstructionCase(2, 1, 0.0625, 1.0),
        ConstructionCase(1, 2, 0.0625, 1.0, backend="mpmath", probe=False),
        ConstructionCase(2, 2, 0.125, 1.0, backend="mpmath", probe=False),
    ]
    cases = ctx.pick(small, default, thorough)
    return [ConstructionCase(**{**c.__dict__, "seed": ctx.seed + i}) for i, c in enumerate(cases)]


def _memorizer_cases(ctx: ClaimContext) -> list[MemorizerCase]:
    cases = ctx.pick(
        [MemorizerCase(4, 1, 2, 0.25, 0.25)],
        [
            MemorizerCase(4, 1, 2, 0.25, 0.25),
            MemorizerCase(16, 1, 2, 0.125, 0.25),
            MemorizerCase(8, 2, 1, 0.125, 0.25),
            MemorizerCase(16, 2, 2, 0.25, 0.5),
        ],
        [
            MemorizerCase(4, 1, 2, 0.25, 0.25),
            MemorizerCase(16, 1, 2, 0.125, 0.25),
            MemorizerCase(8, 2, 1, 0.125, 0.25),
            MemorizerCase(16, 2, 2, 0.25, 0.5),
            MemorizerCase(64, 2, 1, 0.0625, 0.125),
            MemorizerCase(64, 1, 3, 0.25, 0.25),
        ],
    )
    return [MemorizerCase(**{**c.__dict__, "seed": ctx.seed + i}) for i, c in enumerate(cases)]


@register("capacity", "Capacity: lower bounds, constructions and gradient-based capacity", order=40)
def run(ctx: ClaimContext) -> ClaimResult:
    """Run the capacity checks and sweeps at the sizes of ``ctx.mode``."""
    result = ClaimResult(
        "capacity", "Capacity: lower bounds, constructions, gradient capacity", STATEMENT
    )
    result.checks.extend(_property_checks(ctx))
    ctx.progress("capacity: derivations (sympy)")
    result.checks.extend(derivation_checks("capacity"))
    result.checks.extend(planted_wrong_steps("capacity"))
    result.checks.append(
        planted_wrong_step(
            "capacity.packing_centres_per_axis",
            1,
            sp.floor(bounds.C / (2 * bounds.eps)),
            "floor(C/(2ε)) for floor(C/(4ε)): bumps one radius apart instead of two",
        )
    )

    ctx.progress("capacity: constructions vs lower bounds")
    counts = ctx.map(construction_worker, _construction_cases(ctx))
    counts += ctx.map(memorizer_worker, _memorizer_cases(ctx))
    result.checks.extend(construction_checks(counts, ctx))
    low, insensitive = planted_low_precision_count(), planted_insensitive_count()
    result.checks.extend(remark_planted_checks(low, insensitive))
    result.tables["construction_vs_bounds"] = [
        {k: v for k, v in row.items() if k not in ("checks", "ratios")} for row in counts
    ]

    ctx.progress("capacity: Wang-style loss floor")
    d, length, width = WANG_SHAPE
    wang_lengths = ctx.pick((1, 4), (1, 2, 4, 8, 16, 32), (1, 2, 4, 8, 16, 32, 64, 128))
    wang_steps = ctx.pick(300, 1500, 4000)
    wang_jobs = [
        (d, length, width, wang_lengths, wang_steps, ctx.seed + s) for s in range(ctx.pick(1, 2, 4))
    ]
    wang = ctx.map(wang_worker, wang_jobs)
    planted_wang = planted_wang_worker((ctx.pick(300, 600, 600), ctx.seed + 1))
    result.checks.extend(wang_checks(wang, planted_wang))
    result.tables["wang_floor"] = [
        {
            "seed": row["seed"],
            "Lp": lp,
            "loss": loss,
            "floor": row["floor"],
            "loss_over_floor": loss / row["floor"],
        }
        for row in wang
        for lp, loss in zip(row["Lp"], row["losses"], strict=True)
    ]

    ctx.progress("capacity: gradient-based capacity (exploratory)")
    specs, top = capacity_specs(ctx)
    curve = ctx.map(capacity_worker, specs)
    summary = summarize_capacity(curve, top)
    result.tables["capacity_curve"] = summary
    every = [r["every_labeling_rows_at_trained_R_P"] for r in curve]
    result.tables["capacity_trials"] = [
        {
            **{k: row[k] for k in ("N", "d", "L", "budget", "seed")},
            "Lp": trial["Lp"],
            "best_max_error": min(trial["max_errors"]),
            "steps": sum(trial["steps"]),
            "stopped_by": "/".join(trial["reasons"]),
            "memorized": trial["memorized"],
        }
        for row in curve
        for trial in row["trials"]
    ]

    ctx.figure_dir.mkdir(parents=True, exist_ok=True)
    planted_rows = [
        {**low.to_row(), "planted": "bits_ratio"},
        {**insensitive.to_row(), "planted": "capacity_ratio"},
    ]
    plot_counts(counts, planted_rows, ctx.figure_dir / "capacity_counts_vs_bounds.png")
    result.figures.append(
        FigureResult(
            "capacity_counts_vs_bounds.png",
            "Remarks, not checks: each construction's covering bits over the packing bits it "
            "must separate (left) and its significand bits over the precision lower bound "
            "(right); the theorems say >= 1 and every buildable construction exceeds it by a "
            "structural margin. Red: planted constructions that undercut a bound, flagged.",
        )
    )
    plot_capacity(summary, wang, top, ctx.figure_dir / "capacity_gradient_curve.png")
    result.figures.append(
        FigureResult(
            "capacity_gradient_curve.png",
            "Left, exploratory (no verdict): smallest prompt length at which Adam memorizes N "
            "random pairs (median and min–max over seeds, two step budgets; plateau stopping "
            "rule). Right: trained loss over the exact Wang floor (the bound: ratio >= 1).",
        )
    )
    converged = sum(bool(r["converged"]) for r in curve)
    memorized = sum(r["smallest_Lp"] is not None for r in curve)
    result.notes.append(
        f"Gradient-based capacity is exploratory, no verdict: {memorized} of {len(curve)} "
        f"trials (seeds × step budgets × grid points) memorized within Lp <= {top}; {converged} "
        "stopped on the target or a plateau (relative improvement < 1e-3 over 300 steps) "
        "rather than the step cap. No lower bound constrains this curve: the covering bound "
        "applies to memorizing every labeling of N points, and even that, in the box of the "
        f"trained prompts' radius (R_P read off the trained prompts), asks for {min(every):.2g}–"
        f"{max(every):.2g} rows, below one (docs/capacity.md §6)."
    )
    result.notes.append(
        "Capacity ratio D·Lp·log2(4ΛR_P/ε)/M and bits ratio b/b_min of the constructions are "
        "remarks (table construction_vs_bounds), not checks: D·Lp >= 2 L K^{dL} > M and "
        "b >= T log2 Q + 6 > b_min for every construction that can be built (docs/capacity.md §5)."
    )
    return result
