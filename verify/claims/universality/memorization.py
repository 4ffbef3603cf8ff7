"""The memorization part of the ``universality`` claim: drawn ``δ``-separated datasets within
``1/(2Q)`` with the resource formulas, and the largest memorized datasets per backend.

:func:`memorization_job` memorizes one dataset of grid sequences (picklable, for the run's
executor), :func:`largest_memorization_check` checks its rows, and
:func:`add_memorization_checks` appends both checks and the table ``memorization``.
"""

from __future__ import annotations

import time

import numpy as np

from reference import construct_memorizer
from verify.claims.base import CheckResult, ClaimContext, ClaimResult
from verify.claims.properties import run_property
from verify.claims.universality import bounds as ub
from verify.claims.universality.checks import check_memorized, complement_first_row
from verify.claims.universality.strategies import grid_dataset, memorization_cases


def largest_memorization_check(rows: list[dict]) -> CheckResult:
    """The check of the largest memorized datasets: every checked token within ``1/(2Q)`` and
    the prompt rows equal to ``L K^d`` (rows of :func:`memorization_job`).

    >>> from verify.claims.universality.memorization import largest_memorization_check
    >>> row = {"checked": 4, "max_error": 0.2, "bound": 0.25, "prompt_rows": 8, "rows_formula": 8}
    >>> largest_memorization_check([row]).passed, largest_memorization_check([row]).worst_ratio
    (True, 0.8)
    """
    return CheckResult(
        "memorization, largest datasets",
        "largest N per backend memorized within 1/(2Q)",
        "",
        sum(r["checked"] for r in rows),
        all(r["max_error"] <= r["bound"] and r["prompt_rows"] == r["rows_formula"] for r in rows),
        max(r["max_error"] / r["bound"] for r in rows),
        kind="bound",
    )


def memorization_job(item: tuple) -> dict:
    """Memorize ``n`` grid sequences; error on (a sample of) them.

    ``item = (n, L, d, K, eps, backend, limit[, corrupt])``; ``corrupt=True`` complements the
    prompt row of the first checked token (a planted violation)."""
    n, L, d, K, eps, backend, limit, *rest = item
    xs, ys = grid_dataset(np.random.default_rng(n), n, L, d, K)
    start = time.perf_counter()
    c = construct_memorizer(xs, ys, eps=eps, separation=1 / K, backend=backend)
    built = time.perf_counter() - start
    sample = slice(None) if limit is None else slice(0, limit)
    if rest and rest[0]:
        c = complement_first_row(c, xs[sample])
    err = float(np.abs(c.forward(xs[sample], on_band="ignore") - ys[sample]).max())
    return {
        "N": n,
        "d": d,
        "L": L,
        "K": K,
        "Q": c.Q,
        "backend": backend,
        "precision_bits": c.precision_bits,
        "prompt_rows": c.prompt_rows,
        "rows_formula": int(ub.prompt_rows_fn(d, L, K)),
        "bits_per_row": c.bits_per_row,
        "bits_formula": float(ub.bits_per_row_fn(d, L, K, c.Q)),
        "checked": int(xs[sample].shape[0]),
        "max_error": err,
        "bound": float(ub.memorizer_error_bound_fn(c.Q)),
        "build_s": round(built, 3),
    }


def add_memorization_checks(ctx: ClaimContext, result: ClaimResult, n_examples: int) -> None:
    """Memorization of ``n_examples`` drawn datasets (property) and of the largest datasets of
    the run's mode (the table ``memorization``), appended to ``result``."""
    ctx.progress("universality: memorization")
    mem = run_property(
        "memorization",
        memorization_cases(),
        check_memorized,
        max_examples=n_examples,
        rng_seed=ctx.seed,
    )
    result.checks.append(
        CheckResult.from_outcome(
            "memorization meets eps and the formulas",
            "every token within 1/(2Q) < eps; rows = L K^d, bits = K^{d(L-1)} d log2 Q, "
            "K = K(delta)",
            r"|\tau - y|_{\max} \le \frac{1}{2Q}",
            mem,
            kind="bound",
        )
    )
    mem_items = ctx.pick(
        [(64, 2, 1, 8, 2.0**-5, "float64", None)],
        [
            (64, 2, 1, 8, 2.0**-5, "float64", None),
            (1024, 2, 1, 32, 0.5, "float64", None),
            (256, 2, 1, 16, 1 / 16, "mpmath", 2),
        ],
        [
            (64, 2, 1, 8, 2.0**-5, "float64", None),
            (1024, 2, 1, 32, 0.5, "float64", None),
            (256, 2, 1, 16, 1 / 16, "mpmath", 16),
            (4096, 2, 1, 64, 0.5, "mpmath", 4),
        ],
    )
    mem_rows = ctx.map(memorization_job, mem_items)
    result.tables["memorization"] = mem_rows
    result.checks.append(largest_memorization_check(mem_rows))
