"""The precision phase transition: float64 exact while the packed table fits its significand,
wrong beyond, mpmath exact there, and an mpmath precision sweep locating the observed threshold
against the predicted one (check kind ``exact``, with its planted overstated precision).

:func:`precision_point` evaluates one construction on its grid at one backend precision
(:class:`PrecisionPoint`; the properties :func:`check_precision_point` and
:func:`check_fails_beyond_significand` judge it), :func:`precision_job` is one point as a
JSON-ready row, :func:`precision_transition_holds` the check's predicate over the rows,
:func:`precision_figure` the figure, and :func:`add_precision_transition` the claim's part
(check, planted check, tables, figure).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from reference import construct_universal
from verify.claims.base import CheckResult, ClaimContext, ClaimResult, FigureResult
from verify.claims.figures import pyplot, save_figure
from verify.claims.properties import Observation
from verify.claims.universality import bounds as ub
from verify.claims.universality.checks import grid_deviation
from verify.claims.universality.strategies import FLOAT64_SIGNIFICAND_BITS
from verify.claims.universality.targets import make_sawtooth


@dataclass(frozen=True)
class PrecisionPoint:
    """One construction evaluated on (part of) its grid at one backend precision."""

    d: int
    L: int
    K: int
    Q: int
    table_bits: int  # T log2 Q
    precision_needed: int
    backend: str
    precision_bits: int
    sequences: int
    wrong: int
    max_deviation: float

    @property
    def exact(self) -> bool:
        return self.wrong == 0


def precision_point(
    d: int,
    L: int,
    K: int,
    Q: int,
    *,
    backend: str = "float64",
    precision_bits: int | None = None,
    seed: int = 0,
    limit: int | None = None,
) -> PrecisionPoint:
    """Build (without the precision check) and count grid sequences decoded wrongly."""
    f = make_sawtooth(d, L, np.random.default_rng(seed), 1.0)
    c = construct_universal(
        f,
        d=d,
        L=L,
        lipschitz=K / Q,
        eps=1.0 / Q,
        backend=backend,
        precision_bits=precision_bits,
        check_precision=False,
    )
    dev = grid_deviation(c, f, limit)
    T = int(ub.contexts_fn(d, L, K))
    return PrecisionPoint(
        d,
        L,
        K,
        Q,
        T * (Q.bit_length() - 1),
        int(ub.precision_needed_fn(d, L, K, Q, c.band)),
        backend,
        c.precision_bits,
        int(dev.size),
        int((dev > 0).sum()),
        float(dev.max()),
    )


def check_precision_point(point: PrecisionPoint) -> Observation:
    """Exactness is promised when ``precision_bits >= precision_needed``: wrong count ``<= 0``."""
    promised = point.precision_bits >= point.precision_needed
    return Observation(
        float(point.wrong) if promised else 0.0, 0.0, "wrong grid sequences", exact=True
    )


def check_fails_beyond_significand(point: PrecisionPoint) -> Observation:
    """When the packed table (``T log2 Q + 1`` bits) does not fit the significand, some grid
    sequence must be decoded wrongly (the failure is measurable, not hidden)."""
    beyond = point.table_bits + 1 > point.precision_bits
    return Observation(
        1.0 if beyond and point.wrong == 0 else 0.0, 0.0, "undetected overflow", exact=True
    )


def precision_job(item: tuple[int, int, int, int, str, int | None, int | None]) -> dict:
    """One precision point as a JSON-ready row (top-level: picklable for executors)."""
    d, L, K, Q, backend, bits, limit = item
    start = time.perf_counter()
    p: PrecisionPoint = precision_point(
        d, L, K, Q, backend=backend, precision_bits=bits, limit=limit
    )
    row = dict(p.__dict__)
    row["exact"] = p.exact
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def precision_transition_holds(f64: list[dict], sweep: list[dict], mp_big: list[dict]) -> bool:
    """The precision phase transition's predicate over :func:`precision_job` rows: exact wherever
    the precision is at least the needed bits, float64 wrong wherever the packed table (plus its
    offset bit) exceeds the significand, and mpmath exact on the large tables.

    >>> from verify.claims.universality.scale.transition import precision_transition_holds
    >>> row = {"exact": False, "precision_bits": 80, "precision_needed": 70, "table_bits": 64}
    >>> precision_transition_holds([row], [], [])
    False
    """
    promised_ok = all(
        r["exact"] for r in f64 + sweep + mp_big if r["precision_bits"] >= r["precision_needed"]
    )
    overflow_seen = all(
        not r["exact"] for r in f64 if r["table_bits"] + 1 > FLOAT64_SIGNIFICAND_BITS
    )
    return promised_ok and overflow_seen and all(r["exact"] for r in mp_big)


def _mark(ax: Axes, x: float, text: str, color: str, ls: str) -> None:
    """A vertical line at ``x`` labelled at its value (rotated text beside the line)."""
    ax.axvline(x, color=color, ls=ls)
    ax.annotate(
        text,
        (x, 0.5),
        xycoords=("data", "axes fraction"),
        xytext=(3, 0),
        textcoords="offset points",
        rotation=90,
        va="center",
        fontsize=8,
        color=color,
    )


def precision_figure(path: Path, f64: list[dict], sweep: list[dict]) -> None:
    """Fraction of grid sequences decoded wrongly: float64 against the table bits (left), and
    the mpmath precision sweep against the significand bits (right), the predicted thresholds
    marked."""
    plt = pyplot()
    from matplotlib.lines import Line2D

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    bits = [r["table_bits"] for r in f64]
    frac = [r["wrong"] / r["sequences"] for r in f64]
    ax1.scatter(bits, frac, c=["tab:green" if r["exact"] else "tab:red" for r in f64], zorder=3)
    p, guard = FLOAT64_SIGNIFICAND_BITS, int(ub.GUARD_BITS)
    _mark(ax1, p - guard, f"predicted safe: Tq + {guard} = {p}", "tab:orange", "--")
    _mark(ax1, p - 1, f"table + offset bit = {p}", "k", ":")
    key = [
        Line2D([], [], ls="", marker="o", color="tab:green", label="every grid sequence exact"),
        Line2D([], [], ls="", marker="o", color="tab:red", label="some sequence wrong"),
    ]
    ax1.legend(handles=key, fontsize=8, loc="upper left")
    ax1.set_xlabel("table bits T log2 Q")
    ax1.set_ylabel("fraction of grid sequences decoded wrongly")
    ax1.set_title(f"float64 ({p}-bit significand)")
    if sweep:
        swept = [r["precision_bits"] for r in sweep]
        ax2.plot(swept, [r["wrong"] / r["sequences"] for r in sweep], "o-", color="tab:purple")
        need = sweep[0]["precision_needed"]
        ax2.set_xlim(min(*swept, need) - 1, max(*swept, need) + 1.5)
        _mark(ax2, need, f"predicted: {need} bits", "tab:orange", "--")
        ax2.set_title(f"mpmath, table bits {sweep[0]['table_bits']}: precision sweep")
        ax2.set_xlabel("significand bits p")
        ax2.set_ylabel("fraction decoded wrongly")
        dots = Line2D([], [], marker="o", color="tab:purple", label="measured (one run per p)")
        ax2.legend(handles=[dots], fontsize=8, loc="upper right")
    save_figure(fig, path)


def add_precision_transition(ctx: ClaimContext, result: ClaimResult) -> None:
    """The precision phase transition's check, its planted overstated precision, the tables
    ``precision_float64``, ``precision_mpmath_sweep``, ``precision_mpmath_large`` and the
    figure, appended to ``result`` (points distributed over ``ctx.map``)."""
    ctx.progress("universality: precision phase transition")
    f64_items = [
        (1, 2, K, Q, "float64", None, None)
        for K, Q in ctx.pick(
            [(8, 32), (8, 128), (16, 16)],
            [(16, 4), (8, 32), (16, 8), (8, 64), (8, 128), (16, 16), (32, 4)],
            [(16, 4), (8, 32), (16, 8), (8, 64), (8, 128), (16, 16), (32, 4)],
        )
    ]
    sweep_bits = ctx.pick([16, 18, 22], list(range(14, 25)), list(range(12, 27)))
    sweep_items = [(1, 2, 4, 16, "mpmath", p, ctx.pick(4, 16, 16)) for p in sweep_bits]
    big = [(1, 2, 16, 16, "mpmath", None, ctx.pick(1, 2, 16))]
    f64 = ctx.map(precision_job, f64_items)
    sweep = ctx.map(precision_job, sweep_items)
    mp_big = ctx.map(precision_job, big)
    exact_sweep = [r["precision_bits"] for r in sweep if r["exact"]]
    observed = min(exact_sweep) if exact_sweep else None
    result.checks.append(
        CheckResult(
            "precision phase transition",
            f"exact whenever p >= T log2 Q + {ub.GUARD_BITS}; float64 wrong once the table "
            f"exceeds {FLOAT64_SIGNIFICAND_BITS} bits; mpmath exact there",
            rf"p \ge K^{{d(L-1)}} \log_2 Q + {ub.GUARD_BITS}",
            len(f64) + len(sweep) + len(mp_big),
            precision_transition_holds(f64, sweep, mp_big),
            None,
            None,
            {
                "float64_exact_table_bits": [r["table_bits"] for r in f64 if r["exact"]],
                "float64_wrong_table_bits": [r["table_bits"] for r in f64 if not r["exact"]],
                "mpmath_sweep_table_bits": sweep[0]["table_bits"] if sweep else None,
                "mpmath_predicted_bits": sweep[0]["precision_needed"] if sweep else None,
                "mpmath_observed_smallest_exact_bits": observed,
            },
            kind="exact",
        )
    )
    # planted: the largest float64 point claims 80 bits (enough) although it decodes wrongly
    liar = [{**r, "precision_bits": 80} if r is f64[-1] else r for r in f64]
    caught = not precision_transition_holds(liar, sweep, mp_big)
    result.checks.append(
        CheckResult(
            "overstated precision caught",
            "a wrongly decoding float64 point that claims 80 bits fails the transition check",
            "",
            len(liar),
            caught,
            None,
            None if caught else "planted violation went undetected",
            {"caught_by": "precision phase transition"},
            kind="planted",
        )
    )
    result.tables["precision_float64"] = f64
    result.tables["precision_mpmath_sweep"] = sweep
    result.tables["precision_mpmath_large"] = mp_big
    fig2 = "universality_precision_phase_transition.png"
    precision_figure(ctx.figure_dir / fig2, f64, sweep)
    result.figures.append(FigureResult(fig2, "precision phase transition"))
