"""Derivations as report checks: one ``exact`` check per derivation of a claim, and planted wrong
steps that the engine must reject.

:func:`derivation_checks` builds every derivation of a claim (:mod:`verify.derive`) and reports
each as a check named ``derivation: <name>`` (kind ``exact``; it fails, naming the step, when a
step does not check), with its premises and steps in ``details["derivation"]`` for the report's
pages. :func:`planted_wrong_step` rebuilds one derivation with one step's claimed expression
replaced and passes when the engine rejects exactly that step (kind ``planted``, ``caught_by``
the derivation's check).

>>> import sympy as sp
>>> from verify.claims.derivations import derivation_checks, planted_wrong_step
>>> checks = derivation_checks("foundation")
>>> [c.name for c in checks], all(c.passed and c.kind == "exact" for c in checks)
(['derivation: foundation.bias_only', 'derivation: foundation.relative_pattern'], True)
>>> a, s = sp.symbols("a s_without", positive=True)
>>> wrong = (1 + a) * s  # (1 + a) for (1 − a)
>>> planted = planted_wrong_step("foundation.relative_pattern", 3, wrong, "(1 + a) for (1 − a)")
>>> planted.passed, planted.details["caught_by"]
(True, 'derivation: foundation.relative_pattern')
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from verify.claims.base import CheckResult
from verify.derive import Derivation, DerivationError, derivation, derivation_names
from verify.derive.render import result_latex, step_latex


def check_name(name: str) -> str:
    """The report name of derivation ``name``'s check.

    >>> from verify.claims.derivations import check_name
    >>> check_name("efficiency.rank")
    'derivation: efficiency.rank'
    """
    return f"derivation: {name}"


def _premise_details(built: Derivation) -> list[dict[str, str]]:
    rows = []
    for p in built.premises:
        if p.kind == "definition":
            where = f"read off the built objects by {p.test}"
        elif p.kind == "lemma":
            where = p.proof or f"cited: {p.source}"
        else:
            where = "hypothesis of the theorem"
        latex = sp.latex(p.statement) if p.statement is not None else ""
        rows.append(
            {"kind": p.kind, "name": p.name, "latex": latex, "text": p.text, "where": where}
        )
    return rows


def derivation_details(built: Derivation) -> dict[str, Any]:
    """What the report shows of a derivation: goal, premises, steps (LaTeX), result, text."""
    return {
        "name": built.name,
        "goal": built.goal,
        "premises": _premise_details(built),
        "steps": [
            {
                "number": step.number,
                "rule": step.rule,
                "latex": step_latex(built, step),
                "why": step.why,
                "checked": step.detail,
            }
            for step in built.steps
        ],
        "result_latex": result_latex(built),
        "text": built.text(),
    }


def derivation_check(name: str) -> CheckResult:
    """The check of one derivation: passes when every step checks (kind ``exact``)."""
    try:
        built = derivation(name)
    except DerivationError as error:
        return CheckResult(
            name=check_name(name),
            statement=f"Derivation {name} does not check.",
            bound_latex="",
            cases=1,
            passed=False,
            counterexample=f"{error} (python -m verify.derive {name})",
            kind="exact",
        )
    return CheckResult(
        name=check_name(name),
        statement=(
            f"{built.goal}: derived from {len(built.premises)} premises in {len(built.steps)} "
            f"steps, each checked by sympy (python -m verify.derive {name})."
        ),
        bound_latex=result_latex(built),
        cases=len(built.steps),
        passed=True,
        details={"derivation": derivation_details(built)},
        kind="exact",
    )


def derivation_checks(claim: str) -> list[CheckResult]:
    """One check per derivation of ``claim``, in name order."""
    return [derivation_check(n) for n in derivation_names() if n.startswith(f"{claim}.")]


def planted_wrong_step(name: str, step: int, wrong: sp.Expr, what: str) -> CheckResult:
    """Derivation ``name`` with step ``step``'s claimed expression replaced by ``wrong``
    (``what`` says what was planted): passes when the engine rejects that step."""
    try:
        derivation(name).replay(claims={step: wrong})
    except DerivationError as error:
        caught = error.step == step
        reason = str(error)
    else:
        caught, reason = False, "the wrong step was accepted"
    return CheckResult(
        name=f"wrong step in {name} caught ({what})",
        statement=f"{what}: step {step} of {name} replaced by {sp.sstr(wrong)} is rejected",
        bound_latex="",
        cases=1,
        passed=caught,
        counterexample=None if caught else f"planted wrong step went undetected: {reason}",
        details={"caught_by": check_name(name), "engine": reason},
        kind="planted",
    )


def _last_claim(built: Derivation) -> tuple[int, sp.Expr]:
    """The last step with a claimed expression, and an off-by-one of it against the chain:
    one less for an upper bound, one more otherwise."""
    step = next(s for s in reversed(built.steps) if s.rule not in ("cases",))
    shift = -1 if built.relation == "<=" else 1
    return step.number, step.claimed + shift


def planted_wrong_steps(claim: str) -> list[CheckResult]:
    """For every derivation of ``claim``, its last claimed expression off by one (against the
    chain's direction): each must be rejected, so every derivation check has a planted wrong
    step it catches."""
    planted = []
    for name in derivation_names():
        if not name.startswith(f"{claim}."):
            continue
        try:
            number, wrong = _last_claim(derivation(name))
        except DerivationError:
            continue  # its own check fails and says why
        planted.append(planted_wrong_step(name, number, wrong, "the result off by one"))
    return planted
