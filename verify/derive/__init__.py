"""Machine-checked derivations of the suite's bounds: named premises, steps checked by sympy.

This room imports only sympy and the standard library (never ``verify.claims``,
``verify.report``, ``verify.run`` or ``reference``); the claims' ``bounds.py`` modules take their
expressions from the results here (``derivation(name).result``), so a bound has one copy.
docs/derivations.md explains how to read and add one; ``python -m verify.derive --list``.

API (stable; additions only)
----------------------------
``Derivation(name, *, claim, goal, quantity, domain=None)``
    ``name`` is ``"<claim>.<what>"``; ``quantity`` the sympy expression the derivation bounds
    (or equates); ``domain`` maps symbols to sympy intervals (``{eps: Interval.open(0, 1)}``)
    that the sign decisions may use, beyond the symbols' own assumptions.
Premises (each returns a :class:`Premise`; names are unique within a derivation):
    ``.definition(name, statement, text, *, test="tests/…py::test_…")`` — a fact about
    ``reference/``'s built objects, read off them by that test (the node id must exist);
    ``.hypothesis(name, statement, text, *, domain=None)`` — of the theorem (``domain`` adds
    ranges); ``.lemma(name, statement, text, *, source=None, proof=None, conditions=())`` —
    ``proof`` a sympy residual that must simplify to 0, ``"decide"`` (the inequality decided on
    the domain) or a ``Derivation`` proving ``statement``; no proof needs a ``source`` citation;
    ``conditions`` are relations an instance must satisfy when applied.
Steps (each checks at once and returns the derivation, so they chain; ``claimed`` is the new
expression — optional where the rule computes it, then checked equal when given):
    ``.start(expr=None, *, premise=None)`` — ``quantity == expr``, or from a premise
    ``quantity R rhs``; ``.equal(claimed, why)`` — the difference simplifies to 0;
    ``.substitute(premise, claimed=None)`` — an equality premise's left side replaced;
    ``.fold(*premises, claimed=…)`` — written back in equality premises' left sides (``claimed``
    with them unfolded equals the previous expression);
    ``.bound(premise, claimed=None)`` — an inequality premise ``term <= b`` (or ``>=``)
    substituted into an expression sympy shows monotone in ``term`` (sign of the derivative
    decided on the domain; sums and products of nonnegative terms are the common case);
    ``.relax(claimed)`` — ``claimed − previous`` of decided sign; ``.maximize(x, interval,
    claimed=None)`` / ``.minimize`` — critical points (all roots of a polynomial numerator of
    ``f'``) and endpoints (limits at open ends); ``.evaluate(claimed=None)`` — the expression's
    ``Sum`` / ``Integral`` / ``Limit`` / ``Product`` evaluated by sympy; ``.apply(lemma,
    mapping, claimed=None)`` — a lemma's instance, its left side the previous expression, its
    conditions decided; ``.smallest(x, condition, claimed=None, *, integer=False)`` — first step
    of a choice: the smallest ``x`` meeting ``lhs <= rhs`` (strictly monotone, one boundary;
    ``ceiling`` for integers); ``.largest(…)`` — the same from above (``floor``);
    ``.cases(hypothesis, otherwise)`` — the result so far under a hypothesis premise, the
    premise ``otherwise`` (``quantity == value``) elsewhere: a ``Piecewise``.
    A step no rule verifies raises :class:`DerivationError` (``.derivation``, ``.step`` the
    1-based number, ``.rule``, ``.reason``); a ``<=`` step after a ``>=`` chain too.
Results:
    ``.result`` (sympy expression), ``.relation`` (``==``/``<=``/``>=``), ``.statement``
    (``quantity R result``), ``.premises``, ``.steps`` (:class:`Step`: ``number``, ``rule``,
    ``claimed``, ``relation``, ``why``, ``detail``), ``.text()``, ``.latex()``,
    ``.replay(claims={n: wrong_expr})`` (step ``n`` replaced: a planted wrong step must raise)
    and ``.replay(premises={name: new_statement})`` (re-derive under a changed premise).
Registry:
    ``@register(name, summary)`` on a zero-argument builder in
    ``verify/derive/derivations/<claim>.py``; ``derivation(name)`` builds it once (cached) and
    raises ``KeyError`` for an unknown name; ``derivation_names()``; ``derivations_of(claim)``.
Labels (how ``verify/claims/*/bounds.py`` take expressions; the conventions test requires every
module-level sympy expression there to be assigned from one of these calls):
    ``derived(name)`` (a derivation's result), ``statement(name)`` (its ``quantity R result``,
    for identities), ``premise("name:premise")`` (a premise's right side), ``chosen(value,
    reason)`` (a number the suite chooses, e.g. a tolerance).

Worked example
--------------
>>> import sympy as sp
>>> from verify.derive import Derivation, DerivationError
>>> C, K, Q = sp.symbols("C K Q", positive=True)
>>> rho, err = sp.symbols("rho err", nonnegative=True)
>>> d = Derivation("demo.error", claim="demo", goal="error at a cell centre", quantity=err)
>>> _ = d.hypothesis("lipschitz", sp.Le(err, C * rho + 1 / (2 * Q)),
...                  "f is C-Lipschitz (max norm); outputs rounded to Q levels")
>>> _ = d.definition("cell_radius", sp.Le(rho, 1 / (2 * K)), "centres at (k + 1/2)/K",
...                  test="tests/universality/test_x.py::test_y")
>>> d = d.start(premise="lipschitz").bound("cell_radius")
>>> d.result, d.relation
(C/(2*K) + 1/(2*Q), '<=')
>>> d.steps[1].detail
'd/drho = C >= 0 on Interval(-oo, oo); rho <= 1/(2*K)'
>>> try:
...     d.replay(claims={2: C / K + 1 / (2 * Q)})  # the planted wrong step 1/K for 1/(2K)
... except DerivationError as error:
...     print(error.step, error.rule)
2 bound
>>> d.replay(premises={"cell_radius": sp.Le(rho, sp.sqrt(3) / (2 * K))}).result  # l2, d = 3
sqrt(3)*C/(2*K) + 1/(2*Q)
"""

from __future__ import annotations

from verify.derive.engine import Derivation
from verify.derive.premises import KINDS, DerivationError, Premise, Step
from verify.derive.registry import (
    chosen,
    derivation,
    derivation_names,
    derivations_of,
    derived,
    premise,
    register,
    statement,
)

__all__ = [
    "KINDS",
    "Derivation",
    "DerivationError",
    "Premise",
    "Step",
    "chosen",
    "derivation",
    "derivation_names",
    "derivations_of",
    "derived",
    "premise",
    "register",
    "statement",
]
