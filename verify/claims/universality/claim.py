"""Report claim ``universality`` (theory.md §3): one frozen transformer, a prompt per target.

Checks (kind in brackets): error ``<= C/(2K) + 1/(2Q)`` off the band for drawn Lipschitz targets
[bound]; the whole cube, band included: pointwise errors off and in the band and the band's
measure, which give the ``L_p`` corollary [bound]; the tight sawtooth [attainment: tightness,
never evidence]; the ``1/K`` decay (fitted log-log slope) [bound]; full-grid proofs of random
full-entropy tables with the exact backend [exact] and the measured precision law
(:mod:`verify.claims.universality.scale`) [bound]; memorization to ``1/(2Q)`` with the resource
formulas [bound]; the largest memorized datasets [bound]; the precision phase transition
(float64 exact while the table fits the significand, wrong beyond, mpmath exact there, and an
mpmath precision sweep locating the observed threshold against the predicted one) [exact].
Then one planted violation per evidence check that a drawn case can be fed [planted], each
naming the check that caught it (docs/universality.md, "Checks of the claim and their planted
violations").
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from reference import construct_memorizer
from verify.claims.base import CheckResult, ClaimContext, ClaimResult, FigureResult, register
from verify.claims.figures import pyplot, save_figure
from verify.claims.properties import PropertyOutcome, run_property
from verify.claims.universality import bounds as ub
from verify.claims.universality.checks import (
    LP_EXPONENTS,
    SLOPE_TOLERANCE,
    SLOPE_TOLERANCE_LATEX,
    PrecisionPoint,
    SlopeFit,
    check_error_tracks_bound,
    check_memorized,
    check_slope_fit,
    check_tight,
    check_whole_cube,
    check_with_corrupted_row,
    complement_first_row,
    construct_with_wider_band,
    cube_errors,
    drop_last_row,
    error_vs_K,
    precision_point,
    sample_lp_errors,
)
from verify.claims.universality.scale import add_scale_checks
from verify.claims.universality.shapes import add_shape_tradeoff
from verify.claims.universality.strategies import (
    FLOAT64_SIGNIFICAND_BITS,
    UniversalCase,
    grid_dataset,
    memorization_cases,
    tight_cases,
    universal_cases,
)
from verify.claims.universality.targets import make_sawtooth, with_constant

NAME = "universality"
STATEMENT = (
    "One frozen transformer (FFN_in, one single-head attention layer with scale 1, FFN_out), "
    "depending only on (d, L, eps, C), and a prompt of L K^d rows depending on f realize every "
    "C-Lipschitz f: [0,1]^{Lxd} -> [0,1]^{Lxd} within C/(2K) + 1/(2Q) <= eps (K = 2^ceil(log2 "
    "C/eps), Q = 2^ceil(log2 1/eps)) on all inputs at distance >= eta from the cell boundaries "
    "(a band of measure <= 2 d L eta K); on the whole cube, band included, its L_p error is "
    "<= eps + eps^{1/p}; the same model memorizes any delta-token-separated "
    f"dataset within 1/(2Q). It needs K^{{d(L-1)}} log2 Q + {ub.GUARD_BITS} significand bits: "
    "float64 is exact below that and fails beyond, where the mpmath backend is exact."
)
BOUND_LATEX = r"\|\tau([P_f;X]) - f(X)\|_{\max} \le \frac{C}{2K} + \frac{1}{2Q}"
#: The whole-cube corollary, from the sympy expressions (``m``: the band's measure).
LP_LATEX = (
    r"\|\tau - f\|_{L_p([0,1]^{L\times d})} \le "
    + sp.latex(ub.lp_error_bound.subs(1 - ub.band_measure, 1 - sp.Symbol("m")))
    + r" \le "
    + sp.latex(ub.lp_error_bound_eps)
)
#: Uniform samples of the cube per drawn target in the whole-cube check.
CUBE_SAMPLES = 1024


def _planted(name: str, statement: str, out: PropertyOutcome, caught_by: str) -> CheckResult:
    """A planted violation passes when the property of the check ``caught_by`` *fails* on it."""
    return CheckResult(
        name=name,
        statement=statement,
        bound_latex="",
        cases=out.cases,
        passed=not out.passed,
        worst_ratio=None,
        counterexample=None if not out.passed else "planted violation went undetected",
        details={"caught_by": caught_by, "caught_with_ratio": out.worst_ratio},
        kind="planted",
    )


def flat_fit(fit: SlopeFit) -> SlopeFit:
    """Planted violation of the ``1/K`` decay: a model whose error never refines (the error
    at the coarsest ``K`` at every ``K``, still under every bound).

    >>> from verify.claims.universality.claim import flat_fit
    >>> from verify.claims.universality.checks import SlopeFit
    >>> flat_fit(SlopeFit((2, 4), (0.5, 0.25), (0.5, 0.25), -1.0)).slope
    0.0
    """
    flat = (fit.errors[0],) * len(fit.Ks)
    bounds = tuple(max(b, fit.errors[0]) for b in fit.bounds)
    return SlopeFit(fit.Ks, flat, bounds, 0.0)


def largest_memorization_check(rows: list[dict]) -> CheckResult:
    """The check of the largest memorized datasets: every checked token within ``1/(2Q)`` and
    the prompt rows equal to ``L K^d`` (rows of :func:`memorization_job`).

    >>> from verify.claims.universality.claim import largest_memorization_check
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


# --------------------------------------------------------------------------- sweep workers
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

    >>> from verify.claims.universality.claim import precision_transition_holds
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


#: Fixed whole-cube examples shown as a table: ``(d, L, eps, C)``, a random sawtooth of slope C.
WHOLE_CUBE_EXAMPLES = (
    (1, 1, 0.125, 1.0),
    (1, 2, 0.125, 0.5),
    (2, 1, 0.125, 1.0),
    (2, 2, 0.25, 1.0),
)


def whole_cube_row(item: tuple[int, int, float, float]) -> dict:
    """One fixed whole-cube example: the three checked maxima with their bounds, and the sample
    ``L_p`` errors with the population bound, its closed form ``ε + ε^{1/p}`` and the sample
    bound."""
    d, L, eps, C = item
    rng = np.random.default_rng(d * 10 + L)
    target = make_sawtooth(d, L, rng, C)
    case = UniversalCase(target, d, L, eps, rng.random((CUBE_SAMPLES, L, d)), d * 10 + L)
    row: dict = {"d": d, "L": L, "eps": eps, "C": C}
    for obs in check_whole_cube(case):
        row[obs.label] = round(obs.error, 6)
        row[f"{obs.label} bound"] = round(obs.bound, 6)
    for p, (sample, bound, sample_bound) in sample_lp_errors(cube_errors(case)).items():
        row[f"sample L_{p} error"] = round(sample, 6)
        row[f"L_{p} bound"] = round(bound, 6)
        row[f"eps + eps^(1/{p})"] = round(float(ub.lp_error_bound_eps_fn(eps, p)), 6)
        row[f"sample L_{p} bound"] = round(sample_bound, 6)
    return row


# --------------------------------------------------------------------------- figures
def _error_figure(path: Path, ratios: list[float], fits: list, labels: list[str]) -> None:
    plt = pyplot()

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    ax1.hist(np.clip(ratios, 0, None), bins=30, color="tab:blue", alpha=0.85)
    ax1.axvline(1.0, color="tab:red", lw=2, label="bound (ratio 1)")
    ax1.set_xlabel("sup error / (C/(2K) + 1/(2Q)) per drawn target")
    ax1.set_ylabel("cases")
    ax1.set_title("error vs bound (off the band)")
    ax1.legend(fontsize=8)
    for fit, label in zip(fits, labels, strict=True):
        line = ax2.loglog(fit.Ks, fit.errors, "o-", base=2, label=f"{label}: slope {fit.slope:.2f}")
        ax2.loglog(fit.Ks, fit.bounds, "--", base=2, color=line[0].get_color(), alpha=0.6)
    ax2.set_xlabel("K (cells per coordinate), Q = K/C")
    ax2.set_ylabel("sup error (solid), bound (dashed)")
    ax2.set_title("error falls like 1/K")
    ax2.legend(fontsize=8)
    save_figure(fig, path)


def _mark(ax, x: float, text: str, color: str, ls: str) -> None:
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


def _precision_figure(path: Path, f64: list[dict], sweep: list[dict]) -> None:
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
        p = [r["precision_bits"] for r in sweep]
        ax2.plot(p, [r["wrong"] / r["sequences"] for r in sweep], "o-", color="tab:purple")
        need = sweep[0]["precision_needed"]
        ax2.set_xlim(min(*p, need) - 1, max(*p, need) + 1.5)
        _mark(ax2, need, f"predicted: {need} bits", "tab:orange", "--")
        ax2.set_title(f"mpmath, table bits {sweep[0]['table_bits']}: precision sweep")
        ax2.set_xlabel("significand bits p")
        ax2.set_ylabel("fraction decoded wrongly")
        dots = Line2D([], [], marker="o", color="tab:purple", label="measured (one run per p)")
        ax2.legend(handles=[dots], fontsize=8, loc="upper right")
    save_figure(fig, path)


# --------------------------------------------------------------------------- planted violations
def _planted_checks(ctx: ClaimContext, result: ClaimResult, fits: list[SlopeFit]) -> None:
    """One planted violation per evidence check that a drawn-case property can be fed (each run
    stops at the first caught case; 40 examples catch every one at the seeds tried)."""
    properties = [
        (
            "understated constant caught",
            "a sawtooth claiming C/16 breaks the Lipschitz bound",
            universal_cases(kinds=("sawtooth",)).map(
                lambda c: replace(c, target=with_constant(c.target, c.target.lipschitz / 16))
            ),
            check_error_tracks_bound,
            "error tracks the Lipschitz bound",
        ),
        (
            "corrupted prompt row caught",
            "complementing the digits of the prompt row read by a checked input breaks the bound",
            universal_cases(),
            check_with_corrupted_row,
            "error tracks the Lipschitz bound",
        ),
        (
            "band wider than stated caught",
            "a construction whose real band is 8 times the stated one breaks the whole-cube bound",
            universal_cases(batch=CUBE_SAMPLES, inputs="uniform"),
            lambda case: check_whole_cube(case, construct_with_wider_band),
            "whole cube: pointwise and L_p error, band included",
        ),
        (
            "corrupted memorization row caught",
            "complementing the prompt row of the first token breaks the 1/(2Q) memorization bound",
            memorization_cases(),
            lambda case: check_memorized(case, complement_first_row),
            "memorization meets eps and the formulas",
        ),
        (
            "missing memorization prompt row caught",
            "a prompt one row short of L K^d breaks the row count",
            memorization_cases(),
            lambda case: check_memorized(case, drop_last_row),
            "memorization meets eps and the formulas",
        ),
    ]
    ctx.progress(f"universality: {len(properties) + 2} planted violations")
    for name, statement, strategy, check, caught_by in properties:
        out = run_property(name, strategy, check, max_examples=40, rng_seed=ctx.seed, shrink=False)
        result.checks.append(_planted(name, statement, out, caught_by))
    flat = [flat_fit(f) for f in fits]
    out = run_property("non-refining model", st.sampled_from(flat), check_slope_fit, shrink=False)
    result.checks.append(
        _planted(
            "non-refining model caught",
            "errors that stay at the coarsest K's value (under every bound) break the 1/K slope",
            out,
            "error falls like 1/K",
        )
    )
    corrupted = memorization_job((64, 2, 1, 8, 2.0**-5, "float64", None, True))
    caught = not largest_memorization_check([corrupted]).passed
    result.checks.append(
        CheckResult(
            "corrupted largest dataset caught",
            "the smallest largest-dataset run with one prompt row complemented fails the check",
            "",
            1,
            caught,
            None,
            None if caught else "planted violation went undetected",
            {"caught_by": "memorization, largest datasets", "max_error": corrupted["max_error"]},
            kind="planted",
        )
    )


# --------------------------------------------------------------------------- the claim
@register(NAME, "Universality and memorization by one frozen transformer", order=30)
def run(ctx: ClaimContext) -> ClaimResult:
    result = ClaimResult(NAME, "Universality and memorization", STATEMENT)
    n_examples = ctx.pick(8, 40, 400)

    ctx.progress("universality: error vs bound")
    out = run_property(
        "error tracks bound",
        universal_cases(),
        check_error_tracks_bound,
        max_examples=n_examples,
        rng_seed=ctx.seed,
    )
    ratios = [r for r in out.ratios if math.isfinite(r)]
    result.checks.append(
        CheckResult.from_outcome(
            "error tracks the Lipschitz bound",
            "off-band sup error <= C/(2K) + 1/(2Q) for clipped affine, sawtooth, tanh targets",
            BOUND_LATEX,
            out,
            kind="bound",
            d_L_max=4,
            backend="float64",
        )
    )

    ctx.progress("universality: the whole cube, band included (L_p corollary)")
    cube = run_property(
        "whole cube",
        universal_cases(batch=CUBE_SAMPLES, inputs="uniform"),
        check_whole_cube,
        max_examples=n_examples,
        rng_seed=ctx.seed,
    )
    result.checks.append(
        CheckResult.from_outcome(
            "whole cube: pointwise and L_p error, band included",
            f"{CUBE_SAMPLES} inputs uniform over the cube per target: error <= C/(2K) + 1/(2Q) "
            "off the stated band and <= 1 - 1/(2Q) in it (range lemma), and the fraction of "
            "samples in the band within its measure plus a Hoeffding deviation (failure "
            f"probability {float(ub.SAMPLING_FAILURE):g}); together they give the L_p bound "
            f"(the sample L_p errors, p = {', '.join(map(str, LP_EXPONENTS))}, are in the table "
            "whole_cube)",
            LP_LATEX,
            cube,
            kind="bound",
            samples_per_target=CUBE_SAMPLES,
        )
    )

    result.tables["whole_cube"] = [whole_cube_row(item) for item in WHOLE_CUBE_EXAMPLES]

    ctx.progress("universality: tightness (attainment)")
    tight = run_property(
        "tight", tight_cases(), check_tight, max_examples=ctx.pick(10, 40, 200), rng_seed=ctx.seed
    )
    result.checks.append(
        CheckResult.from_outcome(
            "bound attained by the tight sawtooth",
            "on the tight sawtooth at offset o from X = 0 the error equals C/(2K) + 1/(2Q) - C o "
            "exactly (built to attain the bound: tightness, not evidence)",
            BOUND_LATEX,
            tight,
            kind="attainment",
        )
    )

    configs = ctx.pick(
        [(1, 1, [2, 4, 8, 16, 32])],
        [(1, 1, [2, 4, 8, 16, 32]), (1, 2, [2, 4, 8]), (2, 1, [2, 4, 8])],
        [(1, 1, [2, 4, 8, 16, 32, 64]), (1, 2, [2, 4, 8]), (2, 1, [2, 4, 8, 16])],
    )
    fits = [error_vs_K(d, L, Ks, seed=ctx.seed + 10 * d + L) for d, L, Ks in configs]
    labels = [f"d={d}, L={L}" for d, L, _ in configs]
    fit_observations = [check_slope_fit(f) for f in fits]
    broken = [o for obs in fit_observations for o in obs if not o.holds]
    broken_text = "; ".join(f"{o.label} = {o.error:.6g} > {o.bound:.6g}" for o in broken)
    result.checks.append(
        CheckResult(
            "error falls like 1/K",
            f"fitted log2-log2 slope of the sup error against K within {SLOPE_TOLERANCE} of -1, "
            "every sup error under its bound",
            SLOPE_TOLERANCE_LATEX,
            len(fits),
            not broken,
            max(o.ratio for obs in fit_observations for o in obs),
            broken_text or None,
            {"slopes": {lab: round(f.slope, 4) for lab, f in zip(labels, fits, strict=True)}},
            kind="bound",
        )
    )
    result.tables["error_vs_K"] = [
        {"config": lab, "K": K, "sup_error": e, "bound": b, "slope": round(f.slope, 4)}
        for lab, f in zip(labels, fits, strict=True)
        for K, e, b in zip(f.Ks, f.errors, f.bounds, strict=True)
    ]
    fig1 = "universality_error_vs_bound_and_K.png"
    _error_figure(ctx.figure_dir / fig1, ratios, fits, labels)
    result.figures.append(FigureResult(fig1, "universality error vs bound and vs K"))

    add_scale_checks(ctx, result)  # largest cases (random tables) and the precision law

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
    _precision_figure(ctx.figure_dir / fig2, f64, sweep)
    result.figures.append(FigureResult(fig2, "precision phase transition"))
    add_shape_tradeoff(result, ctx)  # width against depth: shallow, wide, deep (sympy vs built)
    _planted_checks(ctx, result, fits)
    result.notes.append(
        "All constants (K, Q rounded up to powers of two, eta = 2^floor(log2(eps/(2dLK))), "
        f"beta, the {ub.GUARD_BITS} guard bits) are ours; see docs/universality.md."
    )
    return result
