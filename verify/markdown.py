"""Render ``index.md`` of the report from the results dictionary (the content of results.json).

The Markdown is produced from exactly the data written to ``results.json``, so the two never
disagree. Bounds appear as LaTeX (``$$ … $$``, rendered by GitHub and most Markdown viewers).

>>> text = render_index({"started_at": "2026-01-01T00:00:00+00:00", "git_commit": None,
...     "git_dirty": None, "seed": 0, "mode": "smoke", "executor": "serial", "workers": None,
...     "wall_seconds": 1.0, "status": "passed", "exit_code": 0, "claims": {}})
>>> text.splitlines()[0]
'# Prompt-tuning limits: verification report'
"""

from __future__ import annotations

import math
from typing import Any

MAX_TABLE_ROWS = 60
# A claim's status as words; the Markdown bolds, the terminal summary colours, all but "passed".
VERDICT_WORDS = {"passed": "verified", "falsified": "FALSIFIED", "error": "ERROR"}
VERDICT = {
    status: word if status == "passed" else f"**{word}**" for status, word in VERDICT_WORDS.items()
}


def ratio_text(value: Any) -> str:
    """A worst ratio as shown in the report and the terminal summary.

    ``None`` is an exact check that held; a non-finite ratio (a float, or the string
    results.json stores it as) is shown as such, never as "exact".

    >>> ratio_text(None), ratio_text(0.123456), ratio_text(float("inf")), ratio_text("inf")
    ('exact', '0.123', 'inf', 'inf')
    """
    if value is None:
        return "exact"
    if isinstance(value, str):
        return value
    if not math.isfinite(value):
        return str(float(value))
    return f"{value:.3g}"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[dict[str, Any]], limit: int = MAX_TABLE_ROWS) -> str:
    """A Markdown table of row dictionaries (columns: union of keys, first-seen order).

    >>> print(markdown_table([{"n": 1, "err": 0.5}, {"n": 2}]))
    | n | err |
    |---|---|
    | 1 | 0.5 |
    | 2 |  |
    """
    if not rows:
        return "_(empty table)_"
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows[:limit]:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    if len(rows) > limit:
        lines.append(f"\n_{len(rows) - limit} more rows in results.json._")
    return "\n".join(lines)


def _header(results: dict[str, Any]) -> list[str]:
    commit = results.get("git_commit") or "unknown"
    if results.get("git_dirty"):
        commit += " (with uncommitted changes)"
    verdict = {"passed": "every claim verified", "falsified": "**a claim is FALSIFIED**"}.get(
        results["status"], "**a claim raised an error**"
    )
    return [
        "# Prompt-tuning limits: verification report",
        "",
        f"* date: {results['started_at']}",
        f"* git commit: {commit}",
        f"* seed: {results['seed']}, mode: {results['mode']}, executor: {results['executor']}"
        + (f" ({results['workers']} workers)" if results.get("workers") else ""),
        f"* wall time: {results['wall_seconds']:.1f} s",
        f"* verdict: {verdict} (exit code {results['exit_code']})",
        "",
        "Worst ratio = the largest measured error divided by its bound over all cases tried "
        "(at most 1 when the bound holds; “exact” for a check with no tolerance that held, such "
        "as an identity or a count equal to its formula; “inf” when a zero bound was broken). "
        "Only checks of kind *bound* and *exact* are evidence and set it; *attainment* families "
        "(built to reach a bound) and *planted* violations (which a check must catch) are shown "
        "beside them.",
        "",
    ]


def _summary(results: dict[str, Any]) -> list[str]:
    lines = ["| claim | verdict | cases | worst ratio | seconds |", "|---|---|---|---|---|"]
    for entry in results["claims"].values():
        lines.append(
            f"| [{entry['name']}](#{entry['name']}) | {VERDICT[entry['status']]} | "
            f"{entry['cases']} | {ratio_text(entry['worst_ratio'])} | {entry['seconds']:.1f} |"
        )
    return [*lines, ""]


# What each check kind's verdict reads as (kinds: verify.claims.base.CHECK_KINDS).
KIND_VERDICTS = {
    "bound": ("holds", "**FALSIFIED**"),
    "exact": ("holds", "**FALSIFIED**"),
    "attainment": ("attained", "**not attained**"),
    "planted": ("planted violation caught", "**planted violation NOT caught**"),
}
KIND_LABELS = {
    "bound": "bound (measured / bound; can fail)",
    "exact": "exact (identity or count; can fail)",
    "attainment": "attainment (a family built to reach the bound: tightness, not evidence)",
    "planted": "planted violation (a broken case the check must catch: sensitivity, not evidence)",
}


def _check(check: dict[str, Any]) -> list[str]:
    kind = check.get("kind") or ("exact" if check["worst_ratio"] is None else "bound")
    held, broke = KIND_VERDICTS[kind]
    verdict = held if check["passed"] else broke
    lines = [
        f"#### {check['name']}: {verdict}",
        "",
        f"Kind: {KIND_LABELS[kind]}.",
        "",
        check["statement"],
        "",
    ]
    if check["bound_latex"]:
        lines += ["$$", check["bound_latex"], "$$", ""]
    lines += [
        f"Cases tried: {check['cases']}; worst measured ratio to the bound: "
        f"{ratio_text(check['worst_ratio'])}.",
        "",
    ]
    if check.get("counterexample"):
        lines += [
            "Counterexample (minimal, reproducible):",
            "",
            "```",
            check["counterexample"],
            "```",
            "",
        ]
    return lines


def _claim(entry: dict[str, Any]) -> list[str]:
    lines = [
        f'<a id="{entry["name"]}"></a>',
        f"## {entry['title']} (`{entry['name']}`)",
        "",
        f"Verdict: {VERDICT[entry['status']]}; {entry['cases']} cases; worst ratio "
        f"{ratio_text(entry['worst_ratio'])}; {entry['seconds']:.1f} s.",
        "",
    ]
    if entry["statement"]:
        lines += [f"**Statement.** {entry['statement']}", ""]
    if entry.get("error"):
        lines += [
            f"The claim raised `{entry['error']['type']}: {entry['error']['message']}`.",
            "",
            "```",
            entry["error"]["traceback"].rstrip(),
            "```",
            "",
        ]
    if entry["checks"]:
        lines += ["### Checks", ""]
        for check in entry["checks"]:
            lines += _check(check)
    if entry["figures"]:
        lines += ["### Figures", ""]
        for figure in entry["figures"]:
            lines += [f"![{figure['caption']}]({figure['path']})", "", f"_{figure['caption']}_", ""]
    for name, rows in entry["tables"].items():
        lines += [f"### Table: {name}", "", markdown_table(rows), ""]
    if entry["notes"]:
        lines += ["### Notes", "", *[f"* {note}" for note in entry["notes"]], ""]
    return lines


def render_index(results: dict[str, Any]) -> str:
    """The whole ``index.md``: header, summary table, then one section per claim."""
    lines = _header(results) + _summary(results)
    for entry in results["claims"].values():
        lines += _claim(entry)
    return "\n".join(lines).rstrip() + "\n"
