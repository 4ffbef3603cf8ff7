"""Render ``index.md`` of the report from the results dictionary (the content of results.json).

The Markdown is produced from exactly the data written to ``results.json``, so the two never
disagree. Bounds appear as LaTeX (``$$ … $$``, rendered by GitHub and most Markdown viewers, and
as images in index.html). Per claim: verdict, what it shows, how to reproduce it, its docs page,
a table of its checks with their kinds, the formulas, figures, and its tables (small ones
inline, all as CSV under ``tables/``).

>>> from verify.report.markdown import render_index
>>> text = render_index({"started_at": "2026-01-01T00:00:00+00:00", "git_commit": None,
...     "git_dirty": None, "seed": 0, "mode": "smoke", "executor": "serial", "workers": None,
...     "wall_seconds": 1.0, "status": "passed", "exit_code": 0, "claims": {}})
>>> text.splitlines()[0]
'# Prompt-tuning limits: verification report'
"""

from __future__ import annotations

import math
from typing import Any

from verify.claims.base import ClaimGuide
from verify.report.claim_guide import MissingGuide, guide_for, reproduce_command
from verify.report.tables import is_inline, markdown_table, table_path

SUMMARY_FIGURE_PATH = "figures/summary.png"
# A claim's status as words; the Markdown bolds, the terminal summary colours, all but "passed".
VERDICT_WORDS = {"passed": "verified", "falsified": "FALSIFIED", "error": "ERROR"}
VERDICT = {
    status: word if status == "passed" else f"**{word}**" for status, word in VERDICT_WORDS.items()
}


def ratio_text(value: Any) -> str:
    """A worst ratio as shown in the report and the terminal summary.

    ``None`` is an exact check that held; a non-finite ratio (a float, or the string
    results.json stores it as) is shown as such, never as "exact".

    >>> from verify.report.markdown import ratio_text
    >>> ratio_text(None), ratio_text(0.123456), ratio_text(float("inf")), ratio_text("inf")
    ('exact', '0.123', 'inf', 'inf')

    A ratio just below or above 1 is never rounded onto the bound:

    >>> ratio_text(0.999999), ratio_text(1.0), ratio_text(1.0000004)
    ('1 − 1e-06', '1', '1 + 4e-07')
    """
    if value is None:
        return "exact"
    if isinstance(value, str):
        return value
    if not math.isfinite(value):
        return str(float(value))
    if value != 1 and f"{value:.3g}" == "1":
        gap = abs(1 - value)
        return f"1 {'−' if value < 1 else '+'} {gap:.1g}"
    return f"{value:.3g}"


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


def _versions(results: dict[str, Any]) -> str:
    env = results.get("environment") or {}
    packages = ", ".join(f"{k} {v}" for k, v in (env.get("packages") or {}).items())
    return packages or "not recorded"


def _header(results: dict[str, Any]) -> list[str]:
    commit = results.get("git_commit") or "unknown"
    if results.get("git_dirty"):
        commit += " (with uncommitted changes)"
    verdict = {"passed": "every claim verified", "falsified": "**a claim is FALSIFIED**"}.get(
        results["status"], "**a claim raised an error**"
    )
    env = results.get("environment") or {}
    executor = results["executor"] + (
        f" ({results['workers']} workers)" if results.get("workers") else ""
    )
    lines = ["# Prompt-tuning limits: verification report", ""]
    if results["mode"] == "smoke":
        lines += [
            "> **Smoke run: the timings in this report mean nothing.** Smoke mode uses tiny "
            "sizes to check that everything runs; its seconds, runtime figures and fitted "
            "slopes are dominated by start-up costs. Use the default run for the figures and "
            "asv for speed (docs/asv.md).",
            "",
        ]
    lines += [
        f"* **Verdict:** {verdict} (exit code {results['exit_code']})",
        f"* **Run:** {results['mode']} mode, seed {results['seed']}, executor {executor}, "
        f"started {results['started_at']}, wall time {results['wall_seconds']:.1f} s "
        "(indicative: asv measures speed)",
        f"* **Code:** git commit {commit}",
        f"* **Machine:** {env.get('cpu_model', 'CPU not recorded')}, "
        f"{env.get('cpu_cores', '?')} cores available; Python "
        f"{env.get('python') or results.get('python', '?')} on "
        f"{env.get('platform') or results.get('platform', '?')}",
        f"* **Threads:** {_threads(env)}",
        f"* **Packages:** {_versions(results)}",
        "",
    ]
    return lines


def _threads(env: dict[str, Any]) -> str:
    """The thread counts of the run (``environment.threads``), e.g. ``BLAS 1, OpenMP 1``."""
    threads = env.get("threads")
    if not threads:
        return "not recorded"
    pools = [
        f"{label} {threads[key]}"
        for key, label in (("blas", "BLAS"), ("openmp", "OpenMP"), ("torch", "torch"))
        if threads.get(key) is not None
    ]
    unset = [name for name, value in (threads.get("env") or {}).items() if value is None]
    text = ", ".join(pools) or "no thread pool loaded"
    text += " (pinned by the run for its processes and local workers"
    return text + (f"; unset: {', '.join(unset)})" if unset else ")")


READING_GUIDE = (
    "**How to read it.** Each check has a *kind*. *bound*: the worst measured error divided by "
    "its bound over all cases tried (at most 1 when the bound holds, near 1 when it is tight; "
    "“inf” when a zero bound was broken). *exact*: an identity or a count equal to its formula "
    "(“exact” when it held). Only these two are evidence: they alone set a claim's worst ratio "
    "and case count. *attainment*: a family built to reach a bound (tightness, not evidence). "
    "*planted*: a deliberately broken case that a named check must catch (its verdict reads "
    "“planted violation caught”)."
)


def _planted(entry: dict[str, Any]) -> str:
    planted = [c for c in entry["checks"] if c.get("kind") == "planted"]
    if not planted:
        return "none"
    caught = sum(bool(c["passed"]) for c in planted)
    return f"{caught} of {len(planted)} caught"


def _summary(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Summary",
        "",
        "| claim | verdict | evidence cases | worst ratio | planted violations "
        "| seconds (indicative) |",
        "|---|---|---|---|---|---|",
    ]
    for entry in results["claims"].values():
        lines.append(
            f"| [{entry['name']}](#{entry['name']}) | {VERDICT[entry['status']]} | "
            f"{entry['cases']} | {ratio_text(entry['worst_ratio'])} | {_planted(entry)} | "
            f"{entry['seconds']:.1f} |"
        )
    lines += ["", READING_GUIDE, ""]
    if results.get("summary_figure"):
        lines += [
            f"![Evidence checks per claim: worst measured / bound]({results['summary_figure']})",
            "",
            "_One panel per claim: the worst measured/bound ratio of each evidence check (dots: "
            "bound checks; squares on the line: exact checks that held; red: failed). "
            "Attainment families and planted violations are not evidence and are not drawn._",
            "",
        ]
    return lines


# What each check kind's verdict reads as (kinds: verify.claims.base.CHECK_KINDS).
KIND_VERDICTS = {
    "bound": ("holds", "**FALSIFIED**"),
    "exact": ("holds", "**FALSIFIED**"),
    "attainment": ("attained", "**not attained**"),
    "planted": ("planted violation caught", "**planted violation NOT caught**"),
}


def _kind(check: dict[str, Any]) -> str:
    return check.get("kind") or ("exact" if check["worst_ratio"] is None else "bound")


def check_verdict(check: dict[str, Any]) -> str:
    """The verdict words of one check, by its kind.

    >>> from verify.report.markdown import check_verdict
    >>> check_verdict({"kind": "planted", "passed": True, "worst_ratio": None})
    'planted violation caught'
    """
    held, broke = KIND_VERDICTS[_kind(check)]
    return held if check["passed"] else broke


def _ratio_cell(check: dict[str, Any]) -> str:
    if _kind(check) == "planted":
        return "–"
    return ratio_text(check["worst_ratio"])


def _checks(entry: dict[str, Any]) -> list[str]:
    lines = [
        "### Checks",
        "",
        "| check | kind | verdict | cases | worst ratio |",
        "|---|---|---|---|---|",
    ]
    for check in entry["checks"]:
        lines.append(
            f"| {check['name']} | {_kind(check)} | {check_verdict(check)} | {check['cases']} | "
            f"{_ratio_cell(check)} |"
        )
    lines += ["", "#### What each check states", ""]
    for check in entry["checks"]:
        lines += [f"**{check['name']}** ({_kind(check)}). {check['statement']}", ""]
        if check["bound_latex"]:
            lines += ["$$", check["bound_latex"], "$$", ""]
        if check.get("details", {}).get("derivation"):
            lines += _derivation(check["details"]["derivation"])
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


def _derivation(derivation: dict[str, Any]) -> list[str]:
    """A derivation check's premises (with kinds) and steps (with rules), formulas as math."""
    lines = ["Premises:", ""]
    for p in derivation["premises"]:
        formula = f" ${p['latex']}$" if p["latex"] else ""
        lines.append(f"- *{p['kind']}* `{p['name']}`:{formula} — {p['text']} ({p['where']})")
    lines += ["", "Steps (each checked by sympy):", ""]
    for step in derivation["steps"]:
        why = f": {step['why']}" if step["why"] else ""
        lines.append(f"{step['number']}. ${step['latex']}$ — *{step['rule']}*{why}")
    return [*lines, ""]


def _tables(entry: dict[str, Any]) -> list[str]:
    if not entry["tables"]:
        return []
    lines = ["### Tables", ""]
    for name, rows in entry["tables"].items():
        path = table_path(entry["name"], name)
        if is_inline(rows):
            lines += [f"**{name}** ([CSV]({path}))", "", markdown_table(rows), ""]
        else:
            columns = list(dict.fromkeys(k for row in rows for k in row))
            lines += [
                f"* **{name}**: [{path}]({path}), {len(rows)} rows × {len(columns)} columns "
                f"({', '.join(columns)})",
                "",
            ]
    return [*lines, ""]


def _claim(entry: dict[str, Any], results: dict[str, Any]) -> list[str]:
    try:
        guide: ClaimGuide | None = guide_for(entry["name"])
    except MissingGuide:  # a claim without guide.py (a test's fake claim): no docs link
        guide = None
    command = reproduce_command(entry["name"], seed=results["seed"], mode=results["mode"])
    lines = [
        f'<a id="{entry["name"]}"></a>',
        "",
        f"## {entry['title']} (`{entry['name']}`)",
        "",
        f"Verdict: {VERDICT[entry['status']]}; {entry['cases']} evidence cases; worst ratio "
        f"{ratio_text(entry['worst_ratio'])}; {entry['seconds']:.1f} s.",
        "",
        f"Reproduce: `{command}`"
        + (f" · Docs: [docs/{guide.docs}](docs/{guide.docs})" if guide else ""),
        "",
    ]
    if guide:
        lines += [f"**What this shows.** {guide.shows}", ""]
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
        lines += [_anchor(entry, "checks"), "", *_checks(entry)]
    if entry["figures"]:
        lines += [_anchor(entry, "figures"), "", "### Figures", ""]
        for figure in entry["figures"]:
            lines += [f"![{figure['caption']}]({figure['path']})", "", f"_{figure['caption']}_", ""]
    if entry["tables"]:
        lines += [_anchor(entry, "tables"), "", *_tables(entry)]
    if entry["notes"]:
        lines += [_anchor(entry, "notes"), "", "### Notes", ""]
        lines += [f"* {note}" for note in entry["notes"]] + [""]
    return lines


SECTIONS = ("checks", "figures", "tables", "notes")  # a claim's sections, with their anchors


def _anchor(entry: dict[str, Any], section: str) -> str:
    """The explicit anchor of a claim's section (``efficiency-checks``): unique on the page,
    the same in index.md and index.html."""
    return f'<a id="{entry["name"]}-{section}"></a>'


def _contents(results: dict[str, Any]) -> list[str]:
    """The table of contents: every claim with its verdict and links to its sections.

    >>> from verify.report.markdown import _contents
    >>> entry = {"name": "c", "title": "C", "status": "passed", "checks": [1], "figures": [],
    ...          "tables": {}, "notes": []}
    >>> _contents({"claims": {"c": entry}})[3]
    '* [C](#c) — verified · [checks](#c-checks)'
    """
    lines = ["## Contents", "", "* [Summary](#summary)"]
    for entry in results["claims"].values():
        links = [f"[{s}](#{entry['name']}-{s})" for s in SECTIONS if entry.get(s)]
        lines.append(
            f"* [{entry['title']}](#{entry['name']}) — {VERDICT[entry['status']]}"
            + "".join(f" · {link}" for link in links)
        )
    return [*lines, ""]


def render_index(results: dict[str, Any]) -> str:
    """The whole ``index.md``: header, summary (table and figure), one section per claim."""
    lines = _header(results) + _contents(results) + _summary(results)
    for entry in results["claims"].values():
        lines += _claim(entry, results)
    return "\n".join(lines).rstrip() + "\n"
