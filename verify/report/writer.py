"""Write a report folder's files and print a run's summary on the terminal.

:func:`write_report` writes ``results.json`` and the reader's pages (index.md, index.html, the
summary figure, tables/*.csv, docs/) into a staging folder; :func:`to_json_value` makes results
JSON-safe and :func:`git_commit` records the checkout's commit. :func:`print_summary` prints the
summary table, each counterexample (with how to reproduce it) and each error. Running the claims
and publishing the folder is :mod:`verify.run.runner`'s job.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from verify.report.claim_guide import reproduce_command
from verify.report.markdown import VERDICT_WORDS, ratio_text, render_index
from verify.report.pages import add_summary_figure, write_pages


# ----------------------------------------------------------------------------- JSON
def to_json_value(value: Any) -> Any:
    """``value`` with numpy types, tuples, paths and non-finite floats made JSON-safe.

    >>> import numpy as np
    >>> from verify.report.writer import to_json_value
    >>> to_json_value({"a": np.float64(1.5), "b": (1, float("inf")), "c": np.arange(2)})
    {'a': 1.5, 'b': [1, 'inf'], 'c': [0, 1]}
    """
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json_value(value.tolist())
    if isinstance(value, np.generic):
        return to_json_value(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def git_commit() -> tuple[str | None, bool | None]:
    """``(commit hash, has uncommitted changes)`` of the project checkout, or ``(None, None)``."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").exists():
        return None, None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head or None, bool(status.strip())


# ----------------------------------------------------------------------------- files
def write_report(staging: Path, results: dict[str, Any]) -> None:
    """Write ``results.json`` and the reader's pages (index.md, index.html, the summary
    figure, tables/*.csv, docs/) into the staging folder."""
    add_summary_figure(staging, results)
    (staging / "results.json").write_text(
        json.dumps(results, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    markdown = render_index(results)
    (staging / "index.md").write_text(markdown, encoding="utf-8")
    write_pages(staging, results, markdown)


# ----------------------------------------------------------------------------- terminal summary
VERDICT_STYLES = {"passed": "green", "falsified": "bold red", "error": "bold yellow"}
VERDICTS = {
    status: f"[{VERDICT_STYLES[status]}]{word}[/{VERDICT_STYLES[status]}]"
    for status, word in VERDICT_WORDS.items()
}


def summary_table(results: dict[str, Any]) -> Table:
    """The rich table printed at the end: claim, cases, worst ratio, verdict, seconds."""
    table = Table(
        title=f"prompt-tuning limits: {results['mode']} run, seed {results['seed']}, "
        f"{results['wall_seconds']:.1f} s"
    )
    table.add_column("claim")
    table.add_column("cases", justify="right")
    table.add_column("worst ratio", justify="right")
    table.add_column("verdict")
    table.add_column("seconds", justify="right")
    for entry in results["claims"].values():
        table.add_row(
            entry["name"],
            str(entry["cases"]),
            ratio_text(entry["worst_ratio"]),
            VERDICTS[entry["status"]],
            f"{entry['seconds']:.1f}",
        )
    return table


def print_summary(results: dict[str, Any], out: Path, console: Console) -> None:
    """Summary table, then each counterexample (with how to reproduce it) and each error."""
    console.print(summary_table(results))
    for entry in results["claims"].values():
        if entry["status"] == "falsified":
            for check in entry["checks"]:
                if not check["passed"]:
                    console.print(f"{VERDICTS['falsified']} {entry['name']} / {check['name']}:")
                    console.print(
                        check["counterexample"] or "(no counterexample recorded)",
                        markup=False,
                        highlight=False,
                    )
            command = reproduce_command(entry["name"], seed=results["seed"], mode=results["mode"])
            console.print(f"reproduce: {command}", markup=False)
        elif entry["status"] == "error":
            error = entry["error"]
            console.print(
                f"{VERDICTS['error']} {entry['name']} raised "
                f"{error['type']}: {error['message']} (traceback in {out / 'results.json'})"
            )
    console.print(f"report written to {out / 'index.md'}", markup=False, highlight=False)
