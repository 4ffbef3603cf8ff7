"""Run the registered claims and publish the report folder atomically.

:func:`generate_report` is the whole main job without the command line: it stages a new report
folder next to the target, runs every selected claim with a :class:`ClaimContext` (figures go
into the staging folder), writes ``results.json`` and ``index.md``, and only then swaps the
staging folder in place of the target. A failure at any point removes the staging folder and
leaves the previous report untouched; an existing folder that is not a report is never replaced.

Exit codes: :data:`EXIT_OK` (every claim verified), :data:`EXIT_FALSIFIED` (some check broke its
bound), :data:`EXIT_USAGE` (bad options, unwritable output, unreachable executor),
:data:`EXIT_CLAIM_ERROR` (some claim raised; nothing falsified). A claim that raises
``AssertionError`` (a check's requirement failed outside a property) is falsified, not an error.
"""

from __future__ import annotations

import platform
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console

from verify.claims.base import CheckResult, Claim, ClaimContext, ClaimResult
from verify.report.environment import environment, pin_report_threads
from verify.report.writer import git_commit, to_json_value, write_report
from verify.run.executors import open_executor
from verify.run.exit_codes import EXIT_CLAIM_ERROR, EXIT_FALSIFIED, EXIT_OK
from verify.run.interrupts import (
    checked,
    checkpoint,
    deferred_signals,
    in_claim,
    mark_published,
)
from verify.run.progress import claim_progress
from verify.run.staging import FIGURE_DIR, TOOL, ReportError, publish, staged

SCHEMA_VERSION = 1
MODES = ("smoke", "default", "thorough")


@dataclass
class ReportOutcome:
    """What :func:`generate_report` produced: the results (as written) and the exit code."""

    results: dict[str, Any]
    exit_code: int
    out: Path


def _claim_entry(
    claim: Claim, result: ClaimResult | None, seconds: float, error: dict[str, str] | None
) -> dict[str, Any]:
    if error is not None or result is None:
        status = "error"
    else:
        status = "passed" if result.passed else "falsified"
    entry: dict[str, Any] = {
        "name": claim.name,
        "title": claim.title,
        "order": claim.order,
        "status": status,
        "seconds": round(seconds, 3),
        "statement": result.statement if result else "",
        "cases": result.cases if result else 0,
        "worst_ratio": result.worst_ratio if result else None,
        "checks": [c.to_json() for c in result.checks] if result else [],
        "figures": [
            {"path": f"{FIGURE_DIR}/{f.filename}", "caption": f.caption}
            for f in (result.figures if result else [])
        ],
        "tables": result.tables if result else {},
        "notes": result.notes if result else [],
        "error": error,
    }
    return to_json_value(entry)


def _failed_assertion(claim: Claim, exc: AssertionError) -> ClaimResult:
    """The claim falsified by an ``AssertionError`` raised outside a property: a check's own
    requirement failed (a reported bound differing from its sympy formula, a decoded value that
    is wrong). As in :mod:`unittest`, an assertion is a failure, any other exception an error."""
    message = str(exc) or "assertion failed"
    check = CheckResult(
        name="assertion",
        statement=f"a check of the claim failed outside its properties: {message}",
        bound_latex="",
        cases=1,
        passed=False,
        counterexample=f"AssertionError: {message}\n{traceback.format_exc()}",
        kind="exact",
    )
    return ClaimResult(
        name=claim.name,
        title=claim.title,
        statement=f"stopped at a failed check: {message}",
        checks=[check],
        notes=["the claim stopped at this failed check; its other checks did not report"],
    )


def _run_one(claim: Claim, ctx: ClaimContext) -> tuple[ClaimResult | None, dict | None]:
    try:
        result = claim.run(ctx)
        if not isinstance(result, ClaimResult):
            raise TypeError(f"run() returned {type(result).__name__}, expected a ClaimResult")
        figure_dir = ctx.figure_dir
        missing = [f.filename for f in result.figures if not (figure_dir / f.filename).is_file()]
        if missing:
            raise FileNotFoundError(f"figures listed but not written: {', '.join(missing)}")
        if not result.checks:
            raise ValueError("the claim ran no checks")
    except AssertionError as exc:
        return _failed_assertion(claim, exc), None
    except Exception as exc:
        return None, {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
        }
    return result, None


def run_claims(
    claims: Sequence[Claim],
    *,
    figure_dir: Path,
    mode: str,
    seed: int,
    executor: Executor | None,
    console: Console,
) -> dict[str, dict[str, Any]]:
    """Run ``claims`` in order, with progress on ``console``; one JSON-ready entry per claim."""
    entries: dict[str, dict[str, Any]] = {}
    with claim_progress(console, len(claims)) as progress:
        for claim in claims:
            progress.start(claim.name)
            ctx = ClaimContext(
                figure_dir=figure_dir,
                seed=seed,
                mode=mode,
                executor=executor,
                progress=checked(progress.step),
            )
            start = time.perf_counter()
            with in_claim(claim.name):
                result, error = _run_one(claim, ctx)
            seconds = time.perf_counter() - start
            entries[claim.name] = _claim_entry(claim, result, seconds, error)
            progress.finish(claim.name, entries[claim.name]["status"], seconds)
    return entries


def exit_code_for(claims: dict[str, dict[str, Any]]) -> int:
    """:data:`EXIT_FALSIFIED` if any claim is falsified, else :data:`EXIT_CLAIM_ERROR` if any
    raised, else :data:`EXIT_OK`.

    >>> from verify.run.runner import exit_code_for
    >>> exit_code_for({"a": {"status": "passed"}, "b": {"status": "error"}})
    3
    """
    statuses = {entry["status"] for entry in claims.values()}
    if "falsified" in statuses:
        return EXIT_FALSIFIED
    if "error" in statuses:
        return EXIT_CLAIM_ERROR
    return EXIT_OK


def generate_report(
    claims: Sequence[Claim],
    *,
    out: Path,
    mode: str = "default",
    seed: int = 0,
    executor_spec: str = "local",
    workers: int | None = None,
    console: Console | None = None,
) -> ReportOutcome:
    """Run ``claims`` on the executor ``executor_spec`` and publish the report at ``out``.

    Raises :class:`ReportError` (unwritable output) or
    :class:`verify.run.executors.ExecutorError` (unreachable executor); in both cases nothing is
    left behind and an existing report at ``out`` is untouched.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    console = console or Console(stderr=True)
    out = Path(out)
    started = datetime.now(timezone.utc)
    wall_start = time.perf_counter()
    pin_report_threads()  # before the pool starts: its workers inherit the setting
    with staged(out) as staging:
        with open_executor(executor_spec, workers=workers) as executor:
            entries = run_claims(
                claims,
                figure_dir=staging / FIGURE_DIR,
                mode=mode,
                seed=seed,
                executor=executor,
                console=console,
            )
        commit, dirty = git_commit()
        exit_code = exit_code_for(entries)
        results = to_json_value(
            {
                "schema_version": SCHEMA_VERSION,
                "tool": TOOL,
                "started_at": started.isoformat(timespec="seconds"),
                "wall_seconds": round(time.perf_counter() - wall_start, 3),
                "git_commit": commit,
                "git_dirty": dirty,
                "seed": seed,
                "mode": mode,
                "executor": executor_spec,
                "workers": workers,
                "python": platform.python_version(),
                "platform": platform.platform(),
                "environment": environment(),
                "status": {EXIT_OK: "passed", EXIT_FALSIFIED: "falsified"}.get(exit_code, "error"),
                "exit_code": exit_code,
                "claims": entries,
            }
        )
        try:
            write_report(staging, results)
            checkpoint()  # a signal that arrived (even one lost in a finalizer) never publishes
            with deferred_signals():  # a signal now is delivered once the report is in place
                publish(staging, out)
                mark_published(out)
        except OSError as exc:  # a full disk, a quota, a vanished folder: environment, exit 2
            where = f" ({exc.filename})" if exc.filename else ""
            kept = "; the previous report is intact" if out.is_dir() else ""
            raise ReportError(
                f"cannot write the report to {out}: {exc.strerror or exc}{where}{kept}"
            ) from exc
    return ReportOutcome(results, exit_code, out)
