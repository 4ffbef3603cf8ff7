"""The capacity claim's counted checks as report results, each with its planted violation.

* :func:`planted_check`, :func:`planted_outcome`: a planted violation's result (it passes when
  the check under test catches it).
* :func:`row_check`, :func:`construction_checks`: the checks over the construction sweep's rows
  (rows ``= L K^d``, memorization off the band) and their planted violations.
* :func:`remark_planted_checks`: the planted constructions the remarks must flag (too few
  significand bits, too few rows for ``Λ``).

>>> from verify.claims.capacity.report_checks import planted_check
>>> planted_check("a bound 10^6 too small", "the check catches it", True, 3).kind
'planted'
"""

from __future__ import annotations

from typing import Any

from verify.claims.base import CheckResult, ClaimContext
from verify.claims.capacity.checks import MemorizationCount, capacity_observations
from verify.claims.capacity.constructions import construction_observations
from verify.claims.capacity.strategies import ConstructionCase
from verify.claims.properties import PropertyOutcome


# --------------------------------------------------------------------------- planted results
def planted_check(
    name: str, statement: str, caught: bool, cases: int, **details: Any
) -> CheckResult:
    """A planted violation: passes when the named check catches it.

    >>> from verify.claims.capacity.report_checks import planted_check
    >>> result = planted_check("prompt missing a row", "the rows check catches it", False, 1)
    >>> result.name, result.passed, result.counterexample
    ('planted: prompt missing a row', False, 'planted violation went undetected')
    """
    return CheckResult(
        name=f"planted: {name}",
        statement=statement,
        bound_latex="",
        cases=cases,
        passed=caught,
        worst_ratio=None,
        counterexample=None if caught else "planted violation went undetected",
        details=details,
        kind="planted",
    )


def planted_outcome(name: str, statement: str, out: PropertyOutcome) -> CheckResult:
    """:func:`planted_check` of a property run on planted cases: caught when the run failed.

    >>> from verify.claims.capacity.report_checks import planted_outcome
    >>> from verify.claims.properties import PropertyOutcome
    >>> out = PropertyOutcome("planted packing", cases=4, worst_ratio=2.0, passed=False)
    >>> result = planted_outcome("packing constant C/2", "the packing check catches it", out)
    >>> result.passed, result.cases, result.details
    (True, 4, {'caught_with_ratio': 2.0})
    """
    return planted_check(
        name, statement, not out.passed, out.cases, caught_with_ratio=out.worst_ratio
    )


# --------------------------------------------------------------------------- construction rows


def row_check(
    rows: list[dict[str, Any]], label: str, name: str, statement: str, latex: str, kind: str
) -> CheckResult:
    """One counted check over the rows that carry observation ``label``.

    >>> from verify.claims.capacity.report_checks import row_check
    >>> rows = [{"checks": {"error": True}, "ratios": {"error": 0.5}}, {"checks": {}}]
    >>> result = row_check(rows, "error", "memorized", "error <= eps", "", "bound")
    >>> result.cases, result.passed, result.worst_ratio
    (1, True, 0.5)
    """
    mine = [row for row in rows if label in row["checks"]]
    failing = [row for row in mine if not row["checks"][label]]
    ratios = [row["ratios"][label] for row in mine]
    return CheckResult(
        name=name,
        statement=statement,
        bound_latex=latex,
        cases=len(mine),
        passed=not failing,
        worst_ratio=None if kind == "exact" and not failing else max(ratios, default=0.0),
        counterexample=str({k: failing[0][k] for k in ("construction", "d", "L", "eps")})
        if failing
        else None,
        kind=kind,
    )


def construction_checks(rows: list[dict[str, Any]], ctx: ClaimContext) -> list[CheckResult]:
    """The rows and memorization checks over the sweep's ``rows`` (of
    :func:`verify.claims.capacity.constructions.count_row`), each followed by its planted
    violation (built from a construction seeded by ``ctx.seed``).

    >>> from pathlib import Path
    >>> from verify.claims.base import ClaimContext
    >>> from verify.claims.capacity.constructions import construction_worker
    >>> from verify.claims.capacity.report_checks import construction_checks
    >>> from verify.claims.capacity.strategies import ConstructionCase
    >>> rows = [construction_worker(ConstructionCase(1, 1, 0.25, 1.0))]
    >>> [c.passed for c in construction_checks(rows, ClaimContext(Path(".")))]
    [True, True, True, True]
    """
    not_counted = [row for row in rows if not row["premise_holds"]]
    memorized = row_check(
        rows,
        "memorization error",
        "constructions memorize off the band",
        "the universal construction realises packing members to eps at every packing centre, "
        "centres at cell centres of its grid (off its boundary band: the covering theorem's "
        "premise); memorizers realise two-level labelings of N sequences to eps",
        r"\|\tau([P_f;X]) - f(X)\|_{\max} \le \varepsilon",
        "bound",
    )
    memorized.details = {
        "premise_not_met": [
            {k: row[k] for k in ("d", "L", "eps", "in_band", "dataset_size", "memorization_error")}
            for row in not_counted
        ]
    }
    case = ConstructionCase(1, 2, 0.25, 1.0, seed=ctx.seed)
    return [
        row_check(
            rows,
            "rows - formula",
            "construction rows = L K^d",
            "every construction's prompt has exactly the formula's rows, and declares them",
            r"L_p = L K^d",
            "exact",
        ),
        planted_check(
            "prompt missing a row",
            "the rows check catches a construction whose prompt lost its first row",
            not all(o.holds for o in construction_observations(drop_row=0)(case)[:1]),
            1,
        ),
        memorized,
        planted_check(
            "prompt for the wrong target",
            "the memorization check catches a prompt built for 1 - f instead of f",
            not all(o.holds for o in construction_observations(wrong_target=True)(case)[1:]),
            1,
        ),
    ]


def remark_planted_checks(
    low: MemorizationCount, insensitive: MemorizationCount
) -> list[CheckResult]:
    """The remarks' planted violations: the bits comparison must flag ``low`` (the planted
    low-precision construction), the covering comparison ``insensitive`` (one row, tiny ``Λ``).

    >>> from verify.claims.capacity.constructions import construction_count
    >>> from verify.claims.capacity.report_checks import remark_planted_checks
    >>> from verify.claims.capacity.strategies import ConstructionCase
    >>> sound = construction_count(ConstructionCase(1, 1, 0.25, 1.0))  # flagged by neither
    >>> [c.passed for c in remark_planted_checks(sound, sound)]
    [False, False]
    """
    bits, covering = capacity_observations(low)[1], capacity_observations(insensitive)[0]
    return [
        planted_check(
            "construction at 4 significand bits",
            "the bits comparison flags a construction (d=1, L=3, eps=1/4, mpmath at 4 bits) "
            "below the precision lower bound; as Theorem 1 predicts it does not memorize",
            not bits.holds,
            1,
            bits_ratio=low.bits_ratio,
            memorization_error_over_eps=low.memorization_error / low.eps,
        ),
        planted_check(
            "one prompt row, tiny Λ",
            "the covering comparison flags a model of weights ~1e-3 claiming to realise the "
            "packing family of eps = 1/64 with one prompt row",
            not covering.holds,
            1,
            capacity_ratio=insensitive.capacity_ratio,
        ),
    ]
