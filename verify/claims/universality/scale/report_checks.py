"""The universality claim's part at scale: the work per run mode, then the checks, tables,
figure and notes of the full-grid proofs and the precision law (:func:`add_scale_checks`).
"""

from __future__ import annotations

from verify.claims.base import CheckResult, ClaimContext, ClaimResult, FigureResult
from verify.claims.universality.scale.grids import (
    check_grid_rows,
    dense_job,
    merge_scale_rows,
    scale_items,
    scale_job,
    table_bits,
)
from verify.claims.universality.scale.precision_law import (
    MODELS,
    bits_needed_job,
    check_precision_law,
    precision_fits,
    precision_law_figure,
)

#: Column order of the ``largest_cases`` table.
ROW_KEYS = (
    "backend",
    "decoder",
    "d",
    "L",
    "dL",
    "K",
    "Q",
    "table_bits",
    "precision_bits",
    "grid_sequences",
    "sequences",
    "verified",
    "wrong",
    "undecided",
    "max_radius",
    "eval_s",
    "s_per_sequence",
)


# --------------------------------------------------------------------------- the claim's part
def scale_configs(ctx: ClaimContext) -> tuple[list, list, list]:
    """``(exact configs, dense items, precision-law configs)`` for the run's mode."""
    exact = ctx.pick(
        [(2, 2, 2, 4)],
        [(2, 2, 2, 4), (1, 4, 2, 16), (5, 2, 2, 4), (2, 5, 2, 2)],
        [(2, 2, 2, 4), (1, 4, 2, 16), (5, 2, 2, 16), (2, 5, 2, 2), (6, 2, 2, 4), (4, 3, 2, 2)],
    )
    dense = ctx.pick(
        [(2, 2, 2, 4, "float64", None, "deep", ctx.seed)],
        [
            (2, 2, 4, 4, "float64", None, "deep", ctx.seed),
            (1, 4, 2, 8, "float64", None, "deep", ctx.seed),
            (1, 2, 4, 4, "float64", None, "wide", ctx.seed),
            (1, 4, 2, 16, "mpmath", 4, "deep", ctx.seed),
        ],
        [
            (2, 2, 4, 4, "float64", None, "deep", ctx.seed),
            (1, 4, 2, 8, "float64", None, "deep", ctx.seed),
            (1, 2, 4, 4, "float64", None, "wide", ctx.seed),
            (1, 4, 2, 16, "mpmath", None, "deep", ctx.seed),
            (2, 3, 2, 16, "mpmath", 8, "deep", ctx.seed),
        ],
    )
    top = ctx.pick(3, 8, 9)  # longest L: T log2 Q = 2^(L+1) bits (512 by default, 1024 thorough)
    law = [(1, 2, 2, 4, model) for model in MODELS]
    law += [(1, L, 2, 16, model) for L in range(2, top + 1) for model in MODELS]
    if ctx.mode != "smoke":  # the rounded-prompt model stops one size earlier (time: its
        law.remove((1, top, 2, 16, "prompt"))  # 1024-bit point ran > 40 min, never finished)
    return exact, dense, law


def add_scale_checks(ctx: ClaimContext, result: ClaimResult) -> None:
    """Full-grid proofs (exact backend), dense observations, the planted corrupted digit and
    the precision law, appended to ``result`` (distributed over ``ctx.map``)."""
    exact_configs, dense_items, law_configs = scale_configs(ctx)
    ctx.progress("universality: full-grid proofs with the exact backend")
    law_items = [(d, L, K, Q, ctx.seed, model) for d, L, K, Q, model in law_configs]
    # the slowest items first, so two workers stay busy
    law_items.sort(key=lambda it: -table_bits(*it[:4]))
    law = ctx.map(bits_needed_job, law_items)
    exact_rows = merge_scale_rows(ctx.map(scale_job, scale_items(exact_configs, ctx.seed, 256)))
    dense_rows = ctx.map(dense_job, dense_items)
    rows = [{k: r.get(k) for k in ROW_KEYS} for r in exact_rows + dense_rows]
    result.tables["largest_cases"] = rows
    result.checks.append(
        check_grid_rows(
            rows,
            "largest cases: every grid digit of a random table",
            "random full-entropy digit tables (every digit uniform): on every grid sequence "
            "(cell centres) the decoded digits equal the table; backend exact = a proof per "
            "sequence (exact arithmetic, certified softmax enclosure), dense = float observation",
        )
    )
    d, L, K, Q = exact_configs[0]
    planted = scale_job((d, L, K, Q, ctx.seed, 0, K ** (d * L), (1, 0, 0)))
    caught = planted["wrong"] > 0
    result.checks.append(
        CheckResult(
            "corrupted packed digit caught (exact backend)",
            "one packed digit changed by +1: the full-grid proof reports the sequence reading it",
            "",
            planted["sequences"],
            caught,
            None,
            None if caught else "planted violation went undetected",
            {
                "caught_by": "largest cases: every grid digit of a random table",
                "wrong": planted["wrong"],
                "undecided": planted["undecided"],
            },
            kind="planted",
        )
    )
    fits = precision_fits(law)
    result.tables["precision_law"] = law
    check = check_precision_law(law)
    check.details["fits"] = {k: {q: round(v, 4) for q, v in f.items()} for k, f in fits.items()}
    result.checks.append(check)
    understated = [{**r, "understated": r["table_bits"] - 2} for r in law]
    caught = not check_precision_law(understated, "understated").passed
    result.checks.append(
        CheckResult(
            "understated precision caught",
            "a prediction of T log2 Q - 2 bits is exceeded by the measured bits needed",
            "",
            len(law),
            caught,
            None,
            None if caught else "planted violation went undetected",
            {"caught_by": check.name},
            kind="planted",
        )
    )
    fig = "universality_precision_law.png"
    precision_law_figure(ctx.figure_dir / fig, law, fits)
    result.figures.append(FigureResult(fig, "precision law: bits needed against T log2 Q"))
    if exact_rows:
        top = max(exact_rows, key=lambda r: (r["dL"], r["table_bits"]))
        result.notes.append(
            f"Exact backend: every one of the {top['grid_sequences']} grid sequences at "
            f"d·L = {top['dL']} (d={top['d']}, L={top['L']}, K={top['K']}, Q={top['Q']}, "
            f"T log2 Q = {top['table_bits']} bits per packed number) proved, "
            f"{top['s_per_sequence']} s per sequence."
        )
    if "attention" in fits and "predicted" in fits:
        att, pred = fits["attention"], fits["predicted"]
        result.notes.append(
            f"Precision law over T log2 Q = {min(r['table_bits'] for r in law)}.."
            f"{max(r['table_bits'] for r in law)} bits: certified attention model "
            f"p = {att['a']:.4f}·T log2 Q {att['b']:+.2f} (log-log slope {att['log_slope']:.3f}); "
            f"sympy prediction p = {pred['a']:.4f}·T log2 Q {pred['b']:+.2f} (log-log slope "
            f"{pred['log_slope']:.3f})."
        )
