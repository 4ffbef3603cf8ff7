"""Report claim ``universality`` (theory.md §3): one frozen transformer, a prompt per target.

Checks (kind in brackets): error ``<= C/(2K) + 1/(2Q)`` off the band for drawn Lipschitz targets
[bound]; the whole cube, band included: pointwise errors off and in the band and the band's
measure, which give the ``L_p`` corollary [bound]; the tight sawtooth [attainment: tightness,
never evidence]; the ``1/K`` decay (fitted log-log slope) [bound] (all four here); full-grid
proofs of random full-entropy tables with the exact backend [exact] and the measured precision
law (:mod:`verify.claims.universality.scale`) [bound]; memorization to ``1/(2Q)`` with the
resource formulas [bound] and the largest memorized datasets [bound]
(:mod:`verify.claims.universality.memorization`); the precision phase transition (float64
exact while the table fits the significand, wrong beyond, mpmath exact there, and an mpmath
precision sweep locating the observed threshold against the predicted one)
(:mod:`verify.claims.universality.scale.transition`) [exact]; the width-depth trade-off
(:mod:`verify.claims.universality.shapes`). Then one planted violation per evidence check that a
drawn case can be fed [planted] (:mod:`verify.claims.universality.planted`), each naming the
check that caught it (docs/universality.md, "Checks of the claim and their planted
violations").
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import sympy as sp

from reference.constructions.sizes import DECODERS
from verify.claims.base import CheckResult, ClaimContext, ClaimResult, FigureResult, register
from verify.claims.derivations import derivation_checks, planted_wrong_step
from verify.claims.figures import pyplot, save_figure
from verify.claims.properties import run_property
from verify.claims.universality import bounds as ub
from verify.claims.universality.checks import (
    LP_EXPONENTS,
    SLOPE_TOLERANCE,
    SLOPE_TOLERANCE_LATEX,
    SlopeFit,
    check_error_tracks_bound,
    check_slope_fit,
    check_tight,
    check_whole_cube,
    cube_errors,
    decoder_builder,
    error_vs_K,
    sample_lp_errors,
    whole_cube_check_name,
)
from verify.claims.universality.memorization import add_memorization_checks
from verify.claims.universality.planted import add_planted_checks
from verify.claims.universality.scale.report_checks import add_scale_checks
from verify.claims.universality.scale.transition import add_precision_transition
from verify.claims.universality.shapes import add_shape_tradeoff
from verify.claims.universality.strategies import (
    CUBE_SAMPLES,
    WHOLE_CUBE_SIZES,
    UniversalCase,
    tight_cases,
    universal_cases,
)
from verify.claims.universality.targets import make_sawtooth
from verify.derive.derivations import universality as uu
from verify.derive.derivations import universality_sizes as us

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


#: Planted wrong steps of the universality derivations: ``(derivation, step, wrong, what)``.
PLANTED_STEPS = (
    (
        "universality.precision_needed",
        4,
        sp.Max(us.t_bits + 6, us.log2(us.beta) + 2 * us.log2(us.rows_up) + 2),
        "the band term dropped from the precision, issue 15",
    ),
    ("universality.error_off_band", 2, ub.C / ub.K + uu.q_err, "1/K for 1/(2K)"),
)


def add_derivation_checks(result: ClaimResult) -> None:
    """Every universality derivation as an ``exact`` check, and the planted wrong steps each
    derivation's check catches."""
    result.checks.extend(derivation_checks(NAME))
    for name, step, wrong, what in PLANTED_STEPS:
        result.checks.append(planted_wrong_step(name, step, wrong, what))


# --------------------------------------------------------------------------- figures
def _error_figure(path: Path, ratios: list[float], fits: list[SlopeFit], labels: list[str]) -> None:
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

    for decoder in DECODERS:  # the range lemma is each decoder's own: checked on each
        ctx.progress(f"universality: the whole cube, band included ({decoder} decoder)")
        cube = run_property(
            f"whole cube ({decoder})",
            universal_cases(batch=CUBE_SAMPLES, inputs="uniform", sizes=WHOLE_CUBE_SIZES[decoder]),
            functools.partial(check_whole_cube, build=decoder_builder(decoder)),
            max_examples=n_examples if decoder == "deep" else max(4, n_examples // 4),
            rng_seed=ctx.seed,
        )
        result.checks.append(
            CheckResult.from_outcome(
                whole_cube_check_name(decoder),
                f"{decoder} decoder, {CUBE_SAMPLES} inputs uniform over the cube per target: "
                "error <= C/(2K) + 1/(2Q) off the stated band and <= 1 - 1/(2Q) in it (the "
                f"{decoder} decoder's range lemma, plus float64 rounding "
                f"{float(ub.FLOAT64_READOUT_ALLOWANCE):.2g}), and the fraction of samples in "
                "the band within its measure plus a Hoeffding deviation (failure probability "
                f"{float(ub.SAMPLING_FAILURE):g}); together they give the L_p bound (the "
                f"sample L_p errors, p = {', '.join(map(str, LP_EXPONENTS))}, deep decoder, are "
                "in the table whole_cube)",
                LP_LATEX,
                cube,
                kind="bound",
                samples_per_target=CUBE_SAMPLES,
                decoder=decoder,
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

    add_memorization_checks(ctx, result, n_examples)  # drawn datasets and the largest ones
    add_precision_transition(ctx, result)  # float64 exact, then wrong; mpmath exact there
    add_shape_tradeoff(result, ctx)  # width against depth: shallow, wide, deep (sympy vs built)
    add_planted_checks(ctx, result, fits)
    add_derivation_checks(result)
    result.notes.append(
        "All constants (K, Q rounded up to powers of two, eta = 2^floor(log2(eps/(2dLK))), "
        f"beta, the {ub.GUARD_BITS} guard bits) are ours; see docs/universality.md."
    )
    return result
