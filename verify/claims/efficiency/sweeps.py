"""The measured sweeps of the claim "efficiency" (in-process, indicative: asv is the measurement).

* :func:`error_task`: measured vs certified error at one ``(n, R)`` (runs on the executor).
* :func:`runtime_sweep`: exact, torch SDPA when importable and polynomial attention over ``n``
  per norm regime ``R`` (median, min and max of the runs), and ``R = 9`` beyond the crossover.
* :func:`series`, :func:`runtime_exponents`, :func:`calibrated_unit_costs`: what the figures
  and notes read off a sweep (the timed series, their log-log slopes with a flag, unit costs).
* :func:`prompt_sweep`: the per-input time of cached prompt inference versus ``Lp``.

>>> from verify.claims.efficiency.sweeps import timed_row
>>> timed_row("exact", 256, "any", [3.0, 1.0, 2.0])["seconds"]
2.0
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from reference.efficiency.planning import plan
from reference.efficiency.polyfit import FastAttentionRefused
from verify.claims.base import ClaimContext
from verify.claims.efficiency.timing import (
    DIM,
    exact_samples,
    fitted_exponent,
    measured_error,
    polynomial_samples,
    time_exact,
    time_polynomial,
    time_prompt_inference,
    torch_available,
    torch_sdpa_samples,
)


def error_task(args: tuple[int, float]) -> dict[str, Any]:
    """Measured vs certified error at ``(n, R)`` (top-level: runs on the executor).

    >>> from verify.claims.efficiency.sweeps import error_task
    >>> row = error_task((256, 1.0))
    >>> row["n"], row["R"], row["error_over_bound"] <= 1.0
    (256, 1.0, True)
    """
    n, radius = args
    return {"n": n, "R": radius, **measured_error(n, radius, rows=min(n, 256))}


TORCH_MAX_N = 4096  # SDPA's math kernel materializes n × n in float64: keep it small
SLOPE_EXPECTED = {"exact": 2.0, "polynomial": 1.0, "torch": 2.0}  # the claim: n² vs n·r
SLOPE_TOLERANCE = 0.25  # a fitted slope further than this from the claim is flagged


def timed_row(
    method: str, n: int, radius: Any, samples: list[float], **extra: Any
) -> dict[str, Any]:
    """A row of the runtime table: the median of ``samples`` and their range, and ``extra``.

    >>> from verify.claims.efficiency.sweeps import timed_row
    >>> row = timed_row("polynomial", 256, 1.0, [3.0, 1.0, 2.0], rank=45)
    >>> row["seconds"], row["low"], row["high"], row["rank"]
    (2.0, 1.0, 3.0, 45)
    """
    return {
        "method": method,
        "n": n,
        "R": radius,
        "seconds": statistics.median(samples),
        "low": min(samples),
        "high": max(samples),
        **extra,
    }


def runtime_sweep(ctx: ClaimContext) -> dict[str, Any]:
    """The timed rows (``rows``) over this run's ``sizes`` and ``radii``, and the exact
    attention's median per size (``exact``); the ``R = 9`` row is timed from default mode on
    (smoke: the cost model's prediction only).

    >>> from pathlib import Path
    >>> from verify.claims.base import ClaimContext
    >>> from verify.claims.efficiency.sweeps import runtime_sweep
    >>> sweep = runtime_sweep(ClaimContext(Path("."), mode="smoke"))
    >>> sweep["sizes"], sweep["radii"], sweep["rows"][-1]["R"]
    ([256, 512, 1024], [0.25, 1.0, 4.0], 9.0)
    """
    sizes = ctx.pick(
        [1 << e for e in range(8, 11)],
        [1 << e for e in range(9, 15)],
        [1 << e for e in range(10, 17)],
    )
    radii = ctx.pick(
        [0.25, 1.0, 4.0], [0.25, 1.0, 2.0, 3.0, 4.0], [0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0]
    )
    repeats = ctx.pick(1, 3, 5)
    rows: list[dict[str, Any]] = []
    exact_times = {}
    for n in sizes:
        ctx.progress(f"efficiency: exact attention n={n}")
        row = timed_row("exact", n, "any", exact_samples(n, 1.0, repeats=repeats))
        exact_times[n] = row["seconds"]
        rows.append(row)
    if torch_available():
        for dtype in ("float32", "float64"):
            for n in [n for n in sizes if n <= TORCH_MAX_N]:
                ctx.progress(f"efficiency: torch SDPA {dtype} n={n}")
                samples = torch_sdpa_samples(n, 1.0, dtype, repeats=repeats) or []
                rows.append(timed_row(f"torch_sdpa_{dtype}", n, "any", samples))
    for radius in radii:
        for n in sizes:
            ctx.progress(f"efficiency: polynomial n={n} R={radius}")
            fit, r, predicted = plan(n, n, DIM, DIM, radius=radius, eps=1e-3)
            row = timed_row(
                "polynomial",
                n,
                radius,
                polynomial_samples(n, radius, repeats=repeats),
                degree=fit.degree,
                rank=r,
                predicted_speedup=predicted,
            )
            row["speedup"] = exact_times[n] / row["seconds"]
            rows.append(row)
    # beyond the crossover: R = 9 at one small size (the rank makes it slow; smoke: model only)
    n9 = ctx.pick(None, 256, 1024)
    fit9, r9, predicted9 = plan(n9 or sizes[0], n9 or sizes[0], DIM, DIM, radius=9.0, eps=1e-3)
    row9 = {
        "method": "polynomial",
        "n": n9 or sizes[0],
        "R": 9.0,
        "degree": fit9.degree,
        "rank": r9,
        "predicted_speedup": predicted9,
        "seconds": None,
        "speedup": None,
    }
    if n9 is not None:
        ctx.progress(f"efficiency: polynomial n={n9} R=9 (rank {r9})")
        try:
            row9["seconds"] = time_polynomial(n9, 9.0, repeats=1)
            row9["speedup"] = time_exact(n9, 9.0, repeats=repeats) / row9["seconds"]
        except FastAttentionRefused as exc:  # the rounding certificate exceeds eps at rank r9
            row9["refused"] = str(exc)
    rows.append(row9)
    return {"rows": rows, "sizes": sizes, "radii": radii, "exact": exact_times}


def series(sweep: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The timed rows per series (``exact``, ``torch_sdpa_*``, ``polynomial R=…``).

    >>> from verify.claims.efficiency.sweeps import series, timed_row
    >>> rows = [timed_row("exact", 256, "any", [1.0]), timed_row("polynomial", 256, 1.0, [2.0])]
    >>> list(series({"rows": rows + [{"method": "polynomial", "R": 9.0, "low": None}]}))
    ['exact', 'polynomial R=1.0']
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for row in sweep["rows"]:
        if row.get("low") is None:
            continue
        key = row["method"] if row["method"] != "polynomial" else f"polynomial R={row['R']}"
        out.setdefault(key, []).append(row)
    return out


def runtime_exponents(sweep: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fitted log-log slope per series, the slope the claim expects, and a flag when they
    differ by more than ``SLOPE_TOLERANCE`` (timing on a shared machine: indicative).

    >>> from verify.claims.efficiency.sweeps import runtime_exponents, timed_row
    >>> rows = [timed_row("exact", n, "any", [n**2 * 1e-9]) for n in (256, 512, 1024)]
    >>> info = runtime_exponents({"rows": rows})["exact"]
    >>> round(info["slope"], 6), info["expected"], info["flagged"]
    (2.0, 2.0, False)
    """
    out = {}
    for key, rows in series(sweep).items():
        if len(rows) < 2:
            continue
        slope = fitted_exponent([r["n"] for r in rows], [r["seconds"] for r in rows])
        expected = SLOPE_EXPECTED[key.split(" ")[0].split("_")[0]]
        out[key] = {
            "slope": slope,
            "expected": expected,
            "flagged": abs(slope - expected) > SLOPE_TOLERANCE,
        }
    return out


def calibrated_unit_costs(sweep: dict[str, Any]) -> tuple[float, float]:
    """Seconds per logit of exact attention and per feature entry of the polynomial method:
    medians of ``t / n²`` and ``t / (2 n r)`` over the measured rows (the two largest sizes).

    >>> from verify.claims.efficiency.sweeps import calibrated_unit_costs
    >>> rows = [{"method": "polynomial", "n": n, "rank": 10, "seconds": n * 2e-7} for n in (1, 2)]
    >>> calibrated_unit_costs({"sizes": [1, 2], "exact": {1: 1e-9, 2: 4e-9}, "rows": rows})
    (1e-09, 1e-08)
    """
    big = sweep["sizes"][-2:]
    exact = [sweep["exact"][n] / n**2 for n in big]
    poly = [
        r["seconds"] / (2 * r["n"] * r["rank"])
        for r in sweep["rows"]
        if r["method"] == "polynomial" and r["n"] in big and r["seconds"] is not None
    ]
    return float(np.median(exact)), float(np.median(poly))


def prompt_sweep(ctx: ClaimContext) -> list[dict[str, Any]]:
    """Seconds per input of cached exact and cached polynomial prompt inference per prompt
    length ``Lp`` of this run.

    >>> from pathlib import Path
    >>> from verify.claims.base import ClaimContext
    >>> from verify.claims.efficiency.sweeps import prompt_sweep
    >>> rows = prompt_sweep(ClaimContext(Path("."), mode="smoke"))
    >>> [(r["Lp"], r["method"]) for r in rows][:2]
    [(256, 'exact_cached'), (256, 'polynomial_cached')]
    """
    lengths = ctx.pick(
        [1 << e for e in (8, 10, 12)],
        [1 << e for e in range(8, 15, 2)],
        [1 << e for e in range(8, 17, 2)],
    )
    rows = []
    for lp in lengths:
        ctx.progress(f"efficiency: prompt cache Lp={lp}")
        for method in ("exact_cached", "polynomial_cached"):
            rows.append(
                {
                    "Lp": lp,
                    "method": method,
                    "seconds_per_input": time_prompt_inference(lp, method, repeats=3),
                }
            )
    return rows
