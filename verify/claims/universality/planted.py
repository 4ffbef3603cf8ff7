"""The planted violations of the ``universality`` claim's drawn-case checks.

One planted violation per evidence check that a drawn case can be fed (an understated
constant, a corrupted or missing prompt row, a band wider than stated, a non-refining model
(:func:`flat_fit`), a corrupted largest dataset), each naming the check that caught it
(docs/universality.md, "Checks of the claim and their planted violations"). The planted checks
of the scale and shape parts live beside their checks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from verify.claims.base import CheckResult, ClaimContext, ClaimResult
from verify.claims.properties import Observation, PropertyOutcome, run_property
from verify.claims.universality.checks import (
    SlopeFit,
    check_error_tracks_bound,
    check_memorized,
    check_slope_fit,
    check_whole_cube,
    check_with_corrupted_row,
    complement_first_row,
    construct_with_wider_band,
    drop_last_row,
    whole_cube_check_name,
)
from verify.claims.universality.memorization import largest_memorization_check, memorization_job
from verify.claims.universality.strategies import (
    CUBE_SAMPLES,
    WHOLE_CUBE_SIZES,
    memorization_cases,
    universal_cases,
)
from verify.claims.universality.targets import with_constant

#: ``(name, statement, strategy, check, caught_by)`` of a planted violation fed to a property.
_DrawnPlant = tuple[
    str, str, st.SearchStrategy[Any], Callable[[Any], Observation | list[Observation]], str
]


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

    >>> from verify.claims.universality.planted import flat_fit
    >>> from verify.claims.universality.checks import SlopeFit
    >>> flat_fit(SlopeFit((2, 4), (0.5, 0.25), (0.5, 0.25), -1.0)).slope
    0.0
    """
    flat = (fit.errors[0],) * len(fit.Ks)
    bounds = tuple(max(b, fit.errors[0]) for b in fit.bounds)
    return SlopeFit(fit.Ks, flat, bounds, 0.0)


def add_planted_checks(ctx: ClaimContext, result: ClaimResult, fits: list[SlopeFit]) -> None:
    """One planted violation per evidence check that a drawn-case property can be fed (each run
    stops at the first caught case; 40 examples catch every one at the seeds tried)."""
    properties: list[_DrawnPlant] = [
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
        *[
            (
                f"band wider than stated caught ({decoder} decoder)",
                f"the {decoder} construction with a real band 8 times the stated one breaks its "
                "whole-cube bound",
                universal_cases(
                    batch=CUBE_SAMPLES, inputs="uniform", sizes=WHOLE_CUBE_SIZES[decoder]
                ),
                functools.partial(
                    check_whole_cube,
                    build=functools.partial(construct_with_wider_band, decoder=decoder),
                ),
                whole_cube_check_name(decoder),
            )
            for decoder in ("wide", "shallow")
        ],
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
