"""The report's one-page summary figure: one panel per claim, each evidence check's worst
measured/bound ratio against the bound (the line at 1).

Only evidence (kinds ``bound`` and ``exact``) is drawn: attainment families and planted
violations are not evidence that a bound holds (docs/report.md, "Check kinds"). Bound checks are
dots at their ratio; exact checks (identities, counts) that held are squares on the line,
labelled "exact"; a failed check is red.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

SUMMARY_FIGURE = "summary.png"
EVIDENCE = ("bound", "exact")
FLOOR = 1e-4  # ratios below this are drawn at the floor with a left arrow


DERIVATION_PREFIX = "derivation: "


def evidence_points(entry: dict[str, Any]) -> list[tuple[str, str, float | None, bool]]:
    """``(check name, kind, ratio or None, passed)`` of a claim's evidence checks; the
    derivation checks (``derivation: …``, exact) are one row for the claim, failed when one of
    them failed (the checks table lists each).

    >>> from verify.report.summary_figure import evidence_points
    >>> entry = {"checks": [
    ...     {"name": "a", "kind": "bound", "worst_ratio": 0.5, "passed": True},
    ...     {"name": "b", "kind": "planted", "worst_ratio": None, "passed": True},
    ...     {"name": "c", "kind": "exact", "worst_ratio": "inf", "passed": False},
    ...     {"name": "derivation: x", "kind": "exact", "worst_ratio": None, "passed": True},
    ...     {"name": "derivation: y", "kind": "exact", "worst_ratio": None, "passed": True}]}
    >>> evidence_points(entry)[2]
    ('derivations (2)', 'exact', None, True)
    >>> evidence_points(entry)[:2]
    [('a', 'bound', 0.5, True), ('c', 'exact', inf, False)]
    """
    points, derivations = [], []
    for check in entry["checks"]:
        if check.get("kind") not in EVIDENCE:
            continue
        if check["name"].startswith(DERIVATION_PREFIX):
            derivations.append(check)
            continue
        ratio = check["worst_ratio"]
        points.append(
            (check["name"], check["kind"], None if ratio is None else float(ratio), check["passed"])
        )
    if derivations:
        held = all(c["passed"] for c in derivations)
        points.append(
            (f"derivations ({len(derivations)})", "exact", None if held else math.inf, held)
        )
    return points


def _ratio_label(ratio: float | None) -> str:
    if ratio is None:
        return "exact"
    return f"{ratio:.3g}" if math.isfinite(ratio) else "inf"


def write_summary_figure(path: Path, results: dict[str, Any]) -> bool:
    """Draw the summary of ``results`` (results.json content) at ``path``; ``False`` (nothing
    written) when no claim has an evidence check."""
    panels = [(e, evidence_points(e)) for e in results["claims"].values()]
    panels = [(e, pts) for e, pts in panels if pts]
    if not panels:
        return False
    # imported here: the CLI validates its options before any verify.claims module is loaded
    from verify.claims.figures import FIGURE_DPI, pyplot

    plt = pyplot()
    heights = [len(pts) + 1.2 for _, pts in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(10, 0.34 * sum(heights) + 1.4),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    top = 10.0
    for ax, (entry, points) in zip(axes[:, 0], panels, strict=True):
        ax.axvspan(1.0, top, color="#f6d5d5", zorder=0)
        ax.axvline(1.0, color="black", lw=1.2, zorder=1)
        for row, (check_name, kind, ratio, passed) in enumerate(points):
            colour = "#2b7bba" if passed else "#c62828"
            if kind == "exact" and ratio is None:
                ax.plot(1.0, row, "s", ms=8, mfc="white", mec=colour, mew=2, zorder=3)
            elif ratio is None:  # only an exact check may lack a ratio
                raise TypeError(f"{kind} check {check_name!r} has no worst ratio to draw")
            else:
                x = min(max(ratio, FLOOR), top) if math.isfinite(ratio) else top
                marker = "<" if ratio < FLOOR else ">" if x >= top else "o"
                ax.plot(x, row, marker, ms=8, color=colour, zorder=3)
            ax.annotate(
                _ratio_label(ratio),
                (top, row),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=9,
                annotation_clip=False,
            )
        ax.set_yticks(range(len(points)), [p[0] for p in points], fontsize=9)
        ax.set_ylim(len(points) - 0.4, -0.6)
        ax.set_xscale("log")
        ax.set_xlim(FLOOR / 1.5, top)
        ax.grid(axis="x", which="major", color="#dddddd", lw=0.6)
        verdict = {"passed": "verified", "falsified": "FALSIFIED", "error": "ERROR"}
        ax.set_title(
            f"{entry['name']}: {verdict.get(entry['status'], entry['status'])}",
            loc="left",
            fontsize=11,
            fontweight="bold",
        )
    axes[-1, 0].set_xlabel("worst measured / bound over the cases tried (log scale)")
    handles = [
        plt.Line2D([], [], ls="", marker="o", color="#2b7bba", label="bound check (held)"),
        plt.Line2D(
            [], [], ls="", marker="s", mfc="white", mec="#2b7bba", mew=2, label="exact check held"
        ),
        plt.Line2D([], [], ls="", marker="o", color="#c62828", label="failed check"),
        plt.Line2D([], [], color="black", label="bound (ratio 1)"),
        plt.matplotlib.patches.Patch(color="#f6d5d5", label="beyond the bound: falsified"),
    ]
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.975),
        ncol=5,
        fontsize=8.5,
        frameon=False,
        handletextpad=0.3,
        columnspacing=1.0,
    )
    fig.suptitle(
        "Evidence checks per claim: measured vs bound (attainment and planted checks not shown)",
        y=0.995,
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 0.94, 0.95))  # room for the legend, title and ratio labels
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)
    return True
