"""Report claim "capacity" (theory.md §4): lower bounds, constructions against them, and the
gradient-based capacity of random frozen models with a Wang-style loss floor.

Checks: the packing family behind ``M(eps)``; the prompt-Lipschitz bound ``Λ``; permutation
equivariance (why the Wang-style dataset has a floor); constructions meet the memorization count
(rows = formula, never below the token and precision lower bounds); trained losses on the
Wang-style dataset never beat the floor at any prompt length. Measured (not bounded): the
smallest memorizing prompt length of gradient prompt tuning over a grid of ``N``, ``d``, ``L``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reference import Transformer
from reference.capacity import (
    CapacitySpec,
    build_capacity_problem,
    run_capacity_spec,
    trained_losses,
    wang_dataset,
)
from reference.lipschitz import prompt_lipschitz_bound
from verify.bounds import capacity as cap
from verify.capacity_checks import (
    WANG_FLOOR_SLACK,
    construction_worker,
    lipschitz_pair_check,
    memorizer_worker,
    packing_check,
    permutation_check,
    wang_observations,
)
from verify.claims._figures import pyplot, save_figure
from verify.claims.base import CheckResult, ClaimContext, ClaimResult, FigureResult, register
from verify.properties import run_property
from verify.strategies.capacity import (
    ConstructionCase,
    MemorizerCase,
    packing_cases,
    permutation_cases,
    prompt_pair_cases,
)

STATEMENT = (
    "Prompt tuning a one-layer single-head transformer needs (precision) "
    "b (d_v+1) >= d K^{d(L-1)} log2 Q bits per number and (tokens) "
    "Lp >= M(eps) / (D log2(4 Λ R_P / eps)) prompt rows, M(eps) = d L floor(C/(4 eps))^{dL}; "
    "the construction's L K^d rows never fall below either bound. Gradient prompt tuning of a "
    "random frozen layer memorizes only a few random pairs, and a permuted pair with "
    "conflicting targets has a loss floor at every prompt length."
)


# --------------------------------------------------------------------------- sweep workers
def capacity_worker(spec: CapacitySpec) -> dict[str, Any]:
    """One grid point of the capacity curve, as a JSON-ready row (top-level: picklable).

    >>> from reference.capacity import CapacitySpec
    >>> from verify.claims.capacity import capacity_worker
    >>> row = capacity_worker(
    ...     CapacitySpec(n_pairs=1, d=1, input_length=1, width=2, prompt_lengths=(1, 2))
    ... )
    >>> row["smallest_Lp"], row["dataset_token_lower_bound"] < 1
    (1, True)
    """
    result = run_capacity_spec(spec)
    model = build_capacity_problem(spec)[0]  # the same seeded model the run trained against
    row: dict[str, Any] = {
        "N": spec.n_pairs,
        "d": spec.d,
        "L": spec.input_length,
        "D": spec.width,
        "tolerance": spec.tolerance,
        "smallest_Lp": result.smallest_length,
        "trials": [
            {
                "Lp": t.prompt_length,
                "losses": list(t.losses),
                "max_errors": list(t.max_errors),
                "steps": list(t.steps),
                "memorized": t.memorized,
            }
            for t in result.trials
        ],
    }
    last = result.trials[-1]
    radius = max(last.radii)
    lam = prompt_lipschitz_bound(model, prompt_radius=radius, input_length=spec.input_length)
    row["R_P"] = radius
    row["log2_Lambda_bound"] = lam.log2
    row["dataset_token_lower_bound"] = float(
        cap.dataset_token_lower_bound_log2_lambda_fn(
            spec.n_pairs, spec.tolerance, spec.d, spec.input_length, spec.width, lam.log2, radius
        )
    )
    return row


def wang_worker(args: tuple[int, int, int, tuple[int, ...], int, int]) -> dict[str, Any]:
    """Trained loss versus prompt length on a Wang-style dataset (top-level: picklable).

    ``args = (d, L, D, prompt_lengths, max_steps, seed)``.

    >>> from verify.claims.capacity import wang_worker
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
        "floor": data.loss_floor,
        "Lp": list(lengths),
        "losses": losses,
    }


# --------------------------------------------------------------------------- checks
def _property_checks(ctx: ClaimContext) -> list[CheckResult]:
    # the properties of verify/test_capacity_properties.py, at the report's sizes
    n = ctx.pick(15, 60, 1000)
    ctx.progress("capacity: properties")
    return [
        CheckResult.from_outcome(
            "packing family",
            "the 2^{M(eps)} bump functions are C-Lipschitz, [0,1]-valued, 4 eps apart",
            r"|f_\sigma(x)-f_\sigma(y)| \le C\|x-y\|_{\max}",
            run_property(
                "packing", packing_cases(), packing_check(1.0), max_examples=n, rng_seed=ctx.seed
            ),
        ),
        CheckResult.from_outcome(
            "prompt-Lipschitz bound",
            "||τ(P) - τ(P')||_max <= Λ ||P - P'||_max on the prompt box",
            r"\|\tau_P - \tau_{P'}\|_{\max} \le \Lambda \|P-P'\|_{\max}",
            run_property(
                "prompt Lipschitz",
                prompt_pair_cases(),
                lipschitz_pair_check(1.0),
                max_examples=n,
                rng_seed=ctx.seed,
            ),
        ),
        CheckResult.from_outcome(
            "permutation equivariance",
            "without positions, τ([P; Xπ]) = τ([P; X])π for every prompt P",
            r"\tau([P; X\pi]) = \tau([P; X])\pi",
            run_property(
                "permutation",
                permutation_cases(),
                permutation_check,
                max_examples=n,
                rng_seed=ctx.seed,
            ),
        ),
    ]


def _construction_cases(ctx: ClaimContext) -> list[ConstructionCase]:
    small = [ConstructionCase(1, 1, 0.25, 1.0), ConstructionCase(1, 2, 0.25, 1.0)]
    default = [
        *small,
        ConstructionCase(1, 2, 0.125, 1.0),
        ConstructionCase(2, 1, 0.125, 1.0),
        ConstructionCase(1, 2, 0.25, 2.0),
        ConstructionCase(2, 2, 0.25, 1.0),
        ConstructionCase(1, 3, 0.25, 1.0),
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


def _construction_check(rows: list[dict[str, Any]]) -> CheckResult:
    failing = [row for row in rows if not row["passed"]]
    return CheckResult(
        name="memorization count meets the bounds",
        statement="the constructions' prompt rows (universal, and memorizers of N sequences) "
        "equal L K^d, are never below the token lower bound (packing bound, or the N-sequence "
        "dataset bound; their own D, R_P, Λ), their significand bits never below the precision "
        "lower bound, their empirical Λ never above the computed Λ, and they memorize their "
        "datasets to eps",
        bound_latex=r"\frac{M(\varepsilon)}{D\log_2(4\Lambda R_P/\varepsilon)} \le L_p = L K^d,"
        r"\quad \frac{d K^{d(L-1)}\log_2 Q}{d_v+1} \le b",
        cases=len(rows),
        passed=not failing,
        worst_ratio=max(row["worst_ratio"] for row in rows),
        counterexample=str(failing[0]) if failing else None,
        details={
            "log2_gap_tokens": [row["log2_gap_tokens"] for row in rows],
            "log2_gap_precision": [row["log2_gap_precision"] for row in rows],
        },
    )


def _wang_check(rows: list[dict[str, Any]]) -> CheckResult:
    observations = [wang_observations(row["floor"], row["losses"]) for row in rows]
    ratios = [o.ratio for obs in observations for o in obs]
    failing = [
        row for row, obs in zip(rows, observations, strict=True) if not all(o.holds for o in obs)
    ]
    return CheckResult(
        name="Wang-style loss floor",
        statement="trained loss on a permuted pair with conflicting targets never goes below "
        "the exact floor, at every prompt length",
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
    )


# --------------------------------------------------------------------------- figures
def _plot_capacity(rows: list[dict[str, Any]], wang: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    groups = sorted({(r["d"], r["L"]) for r in rows})
    top = max(t["Lp"] for r in rows for t in r["trials"])
    for index, (d, length) in enumerate(groups):
        mine = sorted((r for r in rows if (r["d"], r["L"]) == (d, length)), key=lambda r: r["N"])
        shift = 1.0 + 0.06 * (index - (len(groups) - 1) / 2)  # keep markers apart
        ok = [(r["N"] * shift, r["smallest_Lp"]) for r in mine if r["smallest_Lp"] is not None]
        miss = [r["N"] * shift for r in mine if r["smallest_Lp"] is None]
        color = f"C{index}"
        if ok:
            ns, lps = zip(*ok, strict=True)
            left.plot(ns, lps, "o-", color=color, label=f"d={d}, L={length}")
        if miss:
            left.plot(miss, [2 * top] * len(miss), "x", color=color, ms=9, mew=2)
        left.plot(
            [r["N"] * shift for r in mine],
            [r["dataset_token_lower_bound"] for r in mine],
            "v:",
            color=color,
            ms=4,
        )
    left.axhline(2 * top, color="grey", lw=0.5, ls=":")
    left.text(1, 2 * top * 1.15, f"× = not memorized up to Lp={top}", fontsize=8)
    left.text(
        1,
        1.5 * min(r["dataset_token_lower_bound"] for r in rows),
        "▽ covering bound for all labelings of N points (computed Λ)",
        fontsize=7,
    )
    left.set(
        xscale="log",
        yscale="log",
        xlabel="N random pairs",
        ylabel="smallest memorizing Lp",
        title=f"gradient-based capacity (tolerance {rows[0]['tolerance']:.2g})",
    )
    counts = sorted({r["N"] for r in rows})
    left.set_xticks(counts, [str(n) for n in counts])
    left.minorticks_off()
    left.legend(fontsize=8, loc="center right")
    for row in wang:
        line = right.plot(row["Lp"], row["losses"], "o-", label=f"seed {row['seed']}")[0]
        right.axhline(row["floor"], color=line.get_color(), ls="--", lw=1)
    right.set(
        xscale="log",
        yscale="log",
        xlabel="prompt length Lp",
        ylabel="best training MSE",
        title="Wang-style dataset: loss vs exact floor (dashed)",
    )
    right.legend(fontsize=8)
    save_figure(fig, path)


def _plot_counts(rows: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.5))
    labels = [
        (f"mem N={r['n_sequences']}, " if r["n_sequences"] else f"C={r['lipschitz']:g}, ")
        + f"d={r['d']} L={r['L']} ε={r['eps']:.3g}"
        for r in rows
    ]
    x = np.arange(len(rows))

    def log2(key: str) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log2(np.array([r[key] for r in rows], dtype=np.float64))

    left.plot(x, log2("prompt_rows"), "o-", label="construction L K^d")
    left.plot(
        x,
        log2("token_lower_bound"),
        "s-",
        label="token lower bound (construction's Λ; packing M(ε), or N L d for memorizers)",
    )
    left.plot(
        x,
        log2("token_lower_bound_lambda_empirical"),
        "^:",
        label="same with the empirical Λ (not a valid bound: Λ_emp <= Λ)",
    )
    left.set(xticks=x, ylabel="log2 prompt rows", title="memorization counts vs lower bounds")
    left.set_xticklabels(labels, fontsize=7, rotation=60, ha="right")
    left.legend(fontsize=7)
    right.plot(x, [r["bits_per_row"] for r in rows], "o-", label="bits per row d T log2 Q")
    right.plot(x, [r["precision_bits"] for r in rows], "d-", label="significand bits used")
    right.plot(
        x, [r["precision_bits_lower"] for r in rows], "s-", label="precision lower bound per number"
    )
    right.plot(x, [r["log2_lipschitz_bound"] for r in rows], "v:", label="log2 Λ (bound)")
    right.plot(x, [r["log2_lipschitz_empirical"] for r in rows], "^:", label="log2 Λ (empirical)")
    right.set(xticks=x, ylabel="bits", title="precision: construction vs bound", yscale="log")
    right.set_xticklabels(labels, fontsize=7, rotation=60, ha="right")
    right.legend(fontsize=7)
    save_figure(fig, path)


# --------------------------------------------------------------------------- the claim
def _capacity_specs(ctx: ClaimContext) -> list[CapacitySpec]:
    grid = ctx.pick([(1, 1)], [(1, 1), (2, 1), (1, 2)], [(1, 1), (2, 1), (1, 2), (2, 2), (1, 3)])
    counts = ctx.pick([1, 2], [1, 2, 4, 8], [1, 2, 4, 8, 16])
    lengths = ctx.pick((1, 2, 4), (1, 2, 4, 8, 16, 32), (1, 2, 4, 8, 16, 32, 64))
    steps = ctx.pick(400, 2000, 5000)
    return [
        CapacitySpec(
            n_pairs=n,
            d=d,
            input_length=length,
            width=8,
            prompt_lengths=lengths,
            max_steps=steps,
            seed=ctx.seed + 100 * n + 10 * d + length,
        )
        for d, length in grid
        for n in counts
    ]


@register("capacity", "Capacity: lower bounds, constructions and gradient-based capacity", order=40)
def run(ctx: ClaimContext) -> ClaimResult:
    """Run the capacity checks and sweeps at the sizes of ``ctx.mode``."""
    result = ClaimResult(
        "capacity", "Capacity: lower bounds, constructions, gradient capacity", STATEMENT
    )
    result.checks.extend(_property_checks(ctx))

    ctx.progress("capacity: constructions vs lower bounds")
    counts = ctx.map(construction_worker, _construction_cases(ctx))
    counts += ctx.map(memorizer_worker, _memorizer_cases(ctx))
    result.checks.append(_construction_check(counts))
    result.tables["construction_vs_bounds"] = counts

    ctx.progress("capacity: gradient-based capacity sweep")
    curve = ctx.map(capacity_worker, _capacity_specs(ctx))
    result.tables["capacity_curve"] = [
        {k: v for k, v in row.items() if k != "trials"} for row in curve
    ]
    result.tables["capacity_trials"] = [
        {"N": row["N"], "d": row["d"], "L": row["L"], **trial}
        for row in curve
        for trial in row["trials"]
    ]

    ctx.progress("capacity: Wang-style loss floor")
    wang_lengths = ctx.pick((1, 4), (1, 2, 4, 8, 16, 32), (1, 2, 4, 8, 16, 32, 64, 128))
    wang_steps = ctx.pick(300, 1500, 4000)
    wang = ctx.map(
        wang_worker,
        [(2, 3, 6, wang_lengths, wang_steps, ctx.seed + s) for s in range(ctx.pick(1, 2, 4))],
    )
    result.checks.append(_wang_check(wang))
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

    ctx.figure_dir.mkdir(parents=True, exist_ok=True)
    _plot_counts(counts, ctx.figure_dir / "capacity_counts_vs_bounds.png")
    result.figures.append(
        FigureResult(
            "capacity_counts_vs_bounds.png",
            "Memorization counts vs lower bounds: the construction's prompt rows L K^d against "
            "the token lower bound (with its computed and its empirical prompt-Lipschitz "
            "constant), and its bits against the precision lower bound.",
        )
    )
    _plot_capacity(curve, wang, ctx.figure_dir / "capacity_gradient_curve.png")
    result.figures.append(
        FigureResult(
            "capacity_gradient_curve.png",
            "Gradient-based capacity curve: smallest prompt length at which Adam memorizes N "
            "random pairs (× = not within the scanned lengths), and the Wang-style loss floor "
            "vs Lp.",
        )
    )
    memorized = [r for r in curve if r["smallest_Lp"] is not None]
    result.notes.append(
        f"Gradient prompt tuning memorized {len(memorized)} of {len(curve)} (N, d, L) grid points "
        "within the scanned prompt lengths; the covering bound for memorizing every labeling of "
        "N points is far below 1 row for these models (their Λ is modest), so the observed "
        "limit is optimization, not the covering count."
    )
    return result
