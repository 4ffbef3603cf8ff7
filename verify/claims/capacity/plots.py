"""The figures of the capacity claim: the constructions' ratios against the lower bounds
(remarks, with the flagged planted constructions) and the gradient-capacity curve beside the
trained Wang-style losses over their floor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from verify.claims.figures import pyplot, save_figure


# --------------------------------------------------------------------------- figures
def plot_capacity(
    summary: list[dict[str, Any]], wang: list[dict[str, Any]], top: int, path: Path
) -> None:
    """Left: the capacity curve ``summary`` (rows of
    :func:`verify.claims.capacity.gradient_capacity.summarize_capacity`, lengths scanned up to
    ``top``); right: the trained losses of the ``wang`` rows over their floor. Written to ``path``.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from verify.claims.capacity.plots import plot_capacity
    >>> summary = [{"N": 1, "d": 1, "L": 1, "budget": 9, "median_Lp": 1.0, "min_Lp": 1.0,
    ...             "max_Lp": 2.0}]
    >>> wang = [{"seed": 0, "Lp": [1, 2], "losses": [0.6, 0.5], "floor": 0.5}]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     plot_capacity(summary, wang, 2, Path(tmp) / "curve.png")
    ...     (Path(tmp) / "curve.png").exists()
    True
    """
    plt = pyplot()

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    groups = sorted({(r["d"], r["L"]) for r in summary})
    budgets = sorted({r["budget"] for r in summary})
    missing = 2 * top  # where "not memorized within the scan" is drawn
    for gi, (d, length) in enumerate(groups):
        for bi, budget in enumerate(budgets):
            mine = [r for r in summary if (r["d"], r["L"], r["budget"]) == (d, length, budget)]
            shift = 1.0 + 0.05 * (2 * gi + bi - len(groups) + 0.5)  # keep markers apart
            style = dict(color=f"C{gi}", ls="--" if bi == 0 else "-", marker="os"[bi % 2])
            hit = [r for r in mine if r["median_Lp"] is not None]
            if hit:
                median = np.array([r["median_Lp"] for r in hit])
                high = np.array([r["max_Lp"] or missing for r in hit])
                low = np.array([r["min_Lp"] for r in hit])
                left.errorbar(
                    [r["N"] * shift for r in hit],
                    median,
                    yerr=[median - low, high - median],
                    capsize=3,
                    label=f"d={d}, L={length}, ≤{budget} steps",
                    **style,
                )
            miss = [r["N"] * shift for r in mine if r["median_Lp"] is None]
            left.plot(miss, [missing] * len(miss), "x", color=f"C{gi}", ms=9, mew=2)
    left.axhline(missing, color="grey", lw=0.5, ls=":")
    counts = sorted({r["N"] for r in summary})
    left.text(counts[0], missing * 1.12, f"× median not memorized up to Lp = {top}", fontsize=8)
    ticks = [2**k for k in range(int(np.log2(missing)) + 1)]
    left.set(
        xscale="log",
        yscale="log",
        xlabel="N random pairs",
        ylabel="smallest memorizing Lp (median; bar: min–max over seeds)",
        title="exploratory, no verdict: gradient-based capacity",
        ylim=(0.7, missing * 1.6),
    )
    left.set_yticks(ticks, [str(t) for t in ticks[:-1]] + ["none"])
    left.set_xticks(counts, [str(n) for n in counts])
    left.minorticks_off()
    left.legend(fontsize=7, loc="lower right")
    for row in wang:
        right.plot(
            row["Lp"], np.array(row["losses"]) / row["floor"], "o-", label=f"seed {row['seed']}"
        )
    right.axhline(1.0, color="k", ls="--", lw=1, label="floor (bound: ratio ≥ 1)")
    right.set(
        xscale="log",
        xlabel="prompt length Lp",
        ylabel="trained MSE / Wang floor",
        title="Wang-style dataset: loss over its exact floor",
    )
    lengths = sorted({lp for row in wang for lp in row["Lp"]})
    right.set_xticks(lengths, [str(lp) for lp in lengths])
    right.minorticks_off()
    right.legend(fontsize=8)
    save_figure(fig, path)


def plot_counts(rows: list[dict[str, Any]], planted: list[dict[str, Any]], path: Path) -> None:
    """Two dimensionless ratios, one per panel; each planted row only in the panel of the
    comparison it undercuts (``row["planted"]`` names the ratio's key). Written to ``path``.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from verify.claims.capacity.plots import plot_counts
    >>> row = {"n_sequences": None, "lipschitz": 1.0, "d": 1, "L": 1, "eps": 0.25,
    ...        "premise_holds": True, "capacity_ratio": 3.0, "bits_ratio": 2.0}
    >>> low = {**row, "bits_ratio": 0.5, "planted": "bits_ratio"}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     plot_counts([row], [low], Path(tmp) / "counts.png")
    ...     (Path(tmp) / "counts.png").exists()
    True
    """
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
    for axis, key, what, title in (
        (axes[0], "capacity_ratio", "D·Lp·log2(4ΛR_P/ε) / M", "covering bits / packing bits"),
        (axes[1], "bits_ratio", "b / b_min", "significand bits / precision lower bound"),
    ):
        shown = rows + [r for r in planted if r["planted"] == key]
        labels = [
            (f"mem N={r['n_sequences']}, " if r["n_sequences"] else f"C={r['lipschitz']:g}, ")
            + f"d={r['d']} L={r['L']} ε={r['eps']:.3g}"
            + (" PLANTED" if r.get("planted") else "")
            + ("" if r.get("planted") or r["premise_holds"] else " (premise fails)")
            for r in shown
        ]
        x = np.arange(len(shown))
        values = np.array([r[key] for r in shown], dtype=np.float64)
        floor = 0.1 * min(1.0, float(np.min(values[values > 0])))
        for index, (row, value) in enumerate(zip(shown, values, strict=True)):
            colour = "C3" if row.get("planted") else "C0"
            if value > 0:
                axis.plot(index, value, "o", color=colour, zorder=3)
            else:  # no prompt length works: the covering has one cell
                axis.plot(index, floor, "v", color=colour, ms=9, zorder=3)
                axis.annotate("0 (2ΛR_P ≤ ε)", (index, floor), fontsize=7, ha="right", va="bottom")
        axis.axhline(1.0, color="k", ls="--", lw=1, label="theorem: ratio ≥ 1")
        axis.set(xticks=x, yscale="log", ylabel=what, title=f"{title} (remark)")
        axis.set_xticklabels(labels, fontsize=7, rotation=60, ha="right")
        axis.legend(fontsize=8, loc="lower left", title="red: planted, flagged", title_fontsize=7)
    fig.suptitle(
        "Constructions vs the lower bounds: structurally ≥ 1 (not counted); planted undercuts "
        "are flagged",
        fontsize=10,
    )
    save_figure(fig, path)
