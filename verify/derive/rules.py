"""The rules a step may use, each checked by sympy; a step no rule verifies raises :class:`Fail`.

Each rule takes the current expression (the right-hand side reached so far), the step's
arguments and the derivation's domain, and returns ``(new expression, relation, detail)``:
``relation`` relates the old expression to the new one (``==``, ``<=``: old ``<=`` new, ``>=``),
``detail`` says what sympy verified. The engine (:mod:`verify.derive.engine`) chains them.

>>> import sympy as sp
>>> from verify.derive.rules import monotone_bound
>>> x, c = sp.symbols("x C", positive=True)
>>> monotone_bound(c * x, sp.Le(x, 1 / (2 * c)), None, {})[:2]
(1/2, '<=')
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from verify.derive.decide import Domain, equal, holds, natural_interval

Outcome = tuple[sp.Expr, str, str]
UNEVALUATED = (sp.Sum, sp.Integral, sp.Limit, sp.Product)


class Fail(Exception):
    """A rule could not verify the step (the engine adds the derivation and step)."""


def _checked_claim(computed: sp.Expr, claimed: sp.Expr | None, domain: Domain) -> sp.Expr:
    """``claimed`` when sympy shows it equals ``computed`` (``computed`` when none is claimed)."""
    if claimed is None:
        return computed
    if not equal(computed, claimed, domain):
        raise Fail(f"the rule gives {sp.sstr(computed)}, not the claimed {sp.sstr(claimed)}")
    return sp.sympify(claimed)


def equality(current: sp.Expr, claimed: sp.Expr, domain: Domain) -> Outcome:
    """``current == claimed``: their difference simplifies to 0 on the domain."""
    if not equal(current, claimed, domain):
        difference = sp.simplify(current - claimed)
        raise Fail(f"{sp.sstr(current)} - ({sp.sstr(claimed)}) = {sp.sstr(difference)}, not 0")
    return sp.sympify(claimed), "==", "the difference simplifies to 0"


def substitution(
    current: sp.Expr, premise: Any, claimed: sp.Expr | None, domain: Domain
) -> Outcome:
    """Replace the left side of an equality premise by its right side."""
    if not isinstance(premise, sp.Equality):
        raise Fail(f"substitution needs an equality premise, got {sp.sstr(premise)}")
    computed = current.subs(premise.lhs, premise.rhs)
    if computed == current:
        raise Fail(f"{sp.sstr(premise.lhs)} does not occur in {sp.sstr(current)}")
    return _checked_claim(computed, claimed, domain), "==", f"{sp.sstr(premise)} substituted"


def folding(current: sp.Expr, statements: list[Any], claimed: sp.Expr, domain: Domain) -> Outcome:
    """Write ``current`` back in the left sides of equality premises: ``claimed`` with each
    left side replaced by its right side must equal ``current``."""
    if not all(isinstance(s, sp.Equality) for s in statements):
        raise Fail("folding needs equality premises")
    unfolded = sp.sympify(claimed).subs({s.lhs: s.rhs for s in statements}, simultaneous=True)
    if not equal(unfolded, current, domain):
        raise Fail(f"{sp.sstr(claimed)} unfolds to {sp.sstr(unfolded)}, not {sp.sstr(current)}")
    names = ", ".join(sp.sstr(s.lhs) for s in statements)
    return sp.sympify(claimed), "==", f"written in {names} (unfolded it equals the previous)"


def _segment(term: sp.Expr, bound: sp.Expr, domain: Domain) -> sp.Interval:
    """An interval containing both ``term`` and ``bound`` (so the segment between them)."""
    if isinstance(term, sp.Symbol):
        interval = natural_interval(term, domain)
        lo_ok = interval.start == -sp.oo or holds(
            bound - interval.start, ">=" if not interval.left_open else ">", domain
        )
        hi_ok = interval.end == sp.oo or holds(
            interval.end - bound, ">=" if not interval.right_open else ">", domain
        )
        if not (lo_ok and hi_ok):
            raise Fail(f"the bound {sp.sstr(bound)} is not shown to lie in {term}'s {interval}")
        return interval
    if holds(term, ">", domain) and holds(bound, ">", domain):
        return sp.Interval.open(0, sp.oo)
    if holds(term, ">=", domain) and holds(bound, ">=", domain):
        return sp.Interval(0, sp.oo)
    return sp.Interval(-sp.oo, sp.oo)


def monotone_bound(
    current: sp.Expr, premise: Any, claimed: sp.Expr | None, domain: Domain
) -> Outcome:
    """Substitute a bound ``term <= b`` (or ``>=``) into an expression sympy shows monotone in
    ``term`` on the segment between them (the sign of the derivative decided on the domain)."""
    if not isinstance(premise, sp.core.relational.Relational) or premise.rel_op == "==":
        raise Fail(f"a monotone bound needs an inequality premise, got {sp.sstr(premise)}")
    if premise.rel_op in ("<=", "<"):
        term, bound, upper = premise.lhs, premise.rhs, True
    elif premise.rel_op in (">=", ">"):
        term, bound, upper = premise.lhs, premise.rhs, False
    else:
        raise Fail(f"unsupported relation {premise.rel_op!r}")
    if isinstance(term, sp.Symbol) and term in bound.free_symbols:
        raise Fail(f"the bound {sp.sstr(bound)} contains {term} itself")
    z = term if isinstance(term, sp.Symbol) else sp.Dummy("z", real=True)
    in_z = current if z is term else current.subs(term, z)
    if z not in in_z.free_symbols:
        raise Fail(f"{sp.sstr(term)} does not occur in {sp.sstr(current)}")
    slope = sp.simplify(sp.diff(in_z, z))
    # a slope free of the term is monotone on the whole line; else on the segment between them
    segment = (
        sp.Interval(-sp.oo, sp.oo) if z not in slope.free_symbols else _segment(term, bound, domain)
    )
    local = {**domain, z: segment}
    if holds(slope, ">=", local):
        increasing = True
    elif holds(slope, "<=", local):
        increasing = False
    else:
        raise Fail(
            f"{sp.sstr(current)} is not shown monotone in {sp.sstr(term)} on {segment}: "
            f"derivative {sp.sstr(slope)} of undecided sign"
        )
    relation = "<=" if increasing == upper else ">="
    computed = in_z.subs(z, bound)
    sign = ">= 0" if increasing else "<= 0"
    shown = slope.subs(z, term) if z is not term else slope
    detail = f"d/d{sp.sstr(term)} = {sp.sstr(shown)} {sign} on {segment}; {sp.sstr(premise)}"
    return _checked_claim(computed, claimed, domain), relation, detail


def relaxation(current: sp.Expr, claimed: sp.Expr, direction: str, domain: Domain) -> Outcome:
    """``current <= claimed`` (or ``>=``) by the sign of ``claimed − current`` on the domain."""
    difference = sp.sympify(claimed) - current
    if direction == "<=" and holds(difference, ">=", domain):
        return sp.sympify(claimed), "<=", "claimed - previous >= 0 on the domain"
    if direction == ">=" and holds(difference, "<=", domain):
        return sp.sympify(claimed), ">=", "claimed - previous <= 0 on the domain"
    raise Fail(
        f"{sp.sstr(current)} {direction} {sp.sstr(claimed)} is not shown on the domain "
        f"(sign of {sp.sstr(sp.simplify(difference))} undecided or wrong)"
    )


def _endpoint_value(f: sp.Expr, x: sp.Symbol, end: sp.Expr, closed: bool, side: str) -> sp.Expr:
    if closed and end.is_finite:
        return sp.simplify(f.subs(x, end))
    return sp.simplify(sp.limit(f, x, end, side))


def _critical_points(f: sp.Expr, x: sp.Symbol, interval: sp.Interval, domain: Domain) -> list:
    """Every zero of ``f'`` in the open interval (all roots of a polynomial numerator)."""
    numerator = sp.numer(sp.together(sp.diff(f, x)))
    if x not in numerator.free_symbols:
        return []
    try:
        poly = sp.Poly(numerator, x)
    except sp.PolynomialError as error:
        raise Fail(f"f' numerator {sp.sstr(numerator)} is not a polynomial in {x}") from error
    roots = sp.roots(poly)
    if sum(roots.values()) != poly.degree():
        raise Fail(f"sympy finds {sum(roots.values())} of the {poly.degree()} roots of f'")
    inside = []
    for root in roots:
        if root.is_real is False:
            continue
        lo, hi = interval.start, interval.end
        below = lo.is_finite and holds(root - lo, "<=", domain)
        above = hi.is_finite and holds(root - hi, ">=", domain)
        if below or above:
            continue
        after_lo = (lo == -sp.oo and root.is_real) or holds(root - lo, ">", domain)
        before_hi = (hi == sp.oo and root.is_real) or holds(hi - root, ">", domain)
        if after_lo and before_hi:
            inside.append(root)
            continue
        raise Fail(f"cannot decide whether the critical point {sp.sstr(root)} lies in {interval}")
    return inside


def extremum(
    current: sp.Expr,
    x: sp.Symbol,
    interval: sp.Interval,
    claimed: sp.Expr | None,
    largest: bool,
    domain: Domain,
) -> Outcome:
    """The maximum (``largest``) or minimum of ``current`` over ``x`` in ``interval``: the
    critical points inside and the endpoints (limits at open ends) are the candidates; the
    result is the candidate sympy shows at least (at most) every other."""
    local = {**domain, x: interval}
    denominator = sp.denom(sp.together(current))
    if x in denominator.free_symbols and not (
        holds(denominator, ">", local) or holds(denominator, "<", local)
    ):
        raise Fail(f"the denominator {sp.sstr(denominator)} is not shown nonzero on {interval}")
    candidates = [
        sp.simplify(current.subs(x, r)) for r in _critical_points(current, x, interval, domain)
    ]
    candidates.append(_endpoint_value(current, x, interval.start, not interval.left_open, "+"))
    candidates.append(_endpoint_value(current, x, interval.end, not interval.right_open, "-"))
    order = ">=" if largest else "<="

    def dominates(value: sp.Expr) -> bool:
        return all(holds(value - other, order, domain) for other in candidates)

    if claimed is None:
        winners = [value for value in candidates if dominates(value)]
        if not winners:
            raise Fail(
                f"no candidate is shown {'largest' if largest else 'smallest'}: {candidates}"
            )
        claimed = winners[0]
    elif not any(equal(claimed, value, domain) for value in candidates):
        raise Fail(
            f"{sp.sstr(claimed)} is none of the candidates {[sp.sstr(c) for c in candidates]}"
        )
    elif not dominates(claimed):
        raise Fail(f"{sp.sstr(claimed)} is not shown {order} every candidate {candidates}")
    relation = "<=" if largest else ">="
    word = "max" if largest else "min"
    detail = (
        f"{word} over {x} in {interval} of {len(candidates)} candidates (critical points, ends)"
    )
    return sp.sympify(claimed), relation, detail


def evaluation(current: sp.Expr, claimed: sp.Expr | None, domain: Domain) -> Outcome:
    """Evaluate the sums, integrals, limits or products in ``current`` (sympy ``doit``)."""
    pending = [a for a in sp.preorder_traversal(current) if isinstance(a, UNEVALUATED)]
    if not pending:
        raise Fail(f"{sp.sstr(current)} has no sum, integral, limit or product to evaluate")
    computed = current.doit()
    if any(isinstance(a, UNEVALUATED) for a in sp.preorder_traversal(computed)):
        raise Fail(f"sympy cannot evaluate {sp.sstr(current)} (left {sp.sstr(computed)})")
    kinds = sorted({type(a).__name__.lower() for a in pending})
    return _checked_claim(computed, claimed, domain), "==", f"{', '.join(kinds)} evaluated by sympy"


def lemma_instance(
    current: sp.Expr,
    statement: Any,
    conditions: tuple[Any, ...],
    mapping: dict[sp.Symbol, sp.Expr],
    claimed: sp.Expr | None,
    domain: Domain,
) -> Outcome:
    """A lemma ``lhs R rhs`` at ``mapping``: its left side must equal ``current`` and each of its
    conditions, substituted, must be decided true on the domain."""
    if not isinstance(statement, sp.core.relational.Relational):
        raise Fail("the lemma has no sympy statement to apply")
    instance = statement.subs(mapping, simultaneous=True)
    if not equal(instance.lhs, current, domain):
        raise Fail(f"the instance's left side {sp.sstr(instance.lhs)} is not {sp.sstr(current)}")
    for condition in conditions:
        case = condition.subs(mapping, simultaneous=True)
        if case is sp.true:
            continue
        op = getattr(case, "rel_op", "")
        if op not in ("<=", "<", ">=", ">") or not holds(case.lhs - case.rhs, op, domain):
            raise Fail(f"the lemma's condition {sp.sstr(case)} is not shown on the domain")
    relation = {"==": "==", "<=": "<=", "<": "<=", ">=": ">=", ">": ">="}[instance.rel_op]
    mapped = ", ".join(f"{k} = {sp.sstr(v)}" for k, v in mapping.items())
    return _checked_claim(instance.rhs, claimed, domain), relation, f"instance {mapped}"


def smallest_parameter(
    x: sp.Symbol,
    condition: Any,
    claimed: sp.Expr | None,
    integer: bool,
    domain: Domain,
    largest: bool = False,
) -> Outcome:
    """The smallest ``x`` meeting ``lhs <= rhs`` (or ``>=``): ``g = lhs − rhs`` strictly
    monotone in ``x`` on its interval (sign of ``g'`` decided) with one root ``b`` there, so the
    condition holds exactly from ``b`` on; ``ceiling(b)`` for an integer ``x``. With
    ``largest``: the condition holds exactly up to ``b``; ``floor(b)`` for an integer."""
    if not isinstance(condition, sp.core.relational.Relational) or condition.rel_op == "==":
        raise Fail(f"the target must be an inequality, got {sp.sstr(condition)}")
    g = condition.lhs - condition.rhs
    wanted_slope = "<" if (condition.rel_op in ("<=", "<")) != largest else ">"
    interval = natural_interval(x, domain)
    local = {**domain, x: interval}
    slope = sp.simplify(sp.diff(g, x))
    if not holds(slope, wanted_slope, local):
        raise Fail(f"{sp.sstr(g)} is not shown strictly monotone the right way in {x}")
    roots = [r for r in sp.solve(sp.Eq(g, 0), x) if not holds(r - interval.start, "<=", domain)]
    if len(roots) != 1:
        raise Fail(f"expected one boundary in {interval}, sympy finds {roots}")
    boundary = sp.simplify(roots[0])
    rounded = sp.floor(boundary) if largest else sp.ceiling(boundary)
    computed = rounded if integer else boundary
    side = "<=" if largest else ">="
    detail = (
        f"{sp.sstr(condition)} exactly for {x} {side} {sp.sstr(boundary)} (g' {wanted_slope} 0)"
    )
    return _checked_claim(computed, claimed, domain), "==", detail


def cases(
    current: sp.Expr, condition: Any, quantity: sp.Expr, otherwise: Any, domain: Domain
) -> Outcome:
    """``Piecewise((current, condition), (value, True))``: the chain so far holds under the
    hypothesis ``condition``; the premise ``otherwise`` (``quantity == value``) covers the rest."""
    if not isinstance(otherwise, sp.Equality) or not equal(otherwise.lhs, quantity, domain):
        raise Fail(f"the other case must be an equality for {quantity}, got {otherwise}")
    if not isinstance(condition, sp.core.relational.Relational):
        raise Fail(f"the case's condition must be a relation, got {condition}")
    piecewise = sp.Piecewise((current, condition), (otherwise.rhs, True))
    detail = f"when {sp.sstr(condition)} (a hypothesis); else {sp.sstr(otherwise)}"
    return piecewise, "==", detail


def lemma_proof(statement: Any, proof: Any, proved: tuple[str, Any] | None, domain: Domain) -> str:
    """How a lemma is proved: by a derivation (``proved`` = its name and statement, which must
    be the lemma's), ``"decide"`` (the inequality decided on the domain) or a residual that
    simplifies to 0; :class:`Fail` otherwise."""
    if proved is not None:
        name, shown = proved
        if not (
            isinstance(statement, sp.core.relational.Relational)
            and shown.rel_op == statement.rel_op
            and equal(shown.lhs, statement.lhs, domain)
            and equal(shown.rhs, statement.rhs, domain)
        ):
            raise Fail(f"derivation {name} proves {shown}, not {statement}")
        return f"derivation {name}"
    if isinstance(proof, str) and proof == "decide":
        op = getattr(statement, "rel_op", "")
        if op not in ("<=", "<", ">=", ">") or not holds(statement.lhs - statement.rhs, op, domain):
            raise Fail(f"{statement} is not decided on the domain")
        return "sympy: the inequality decided on the domain"
    residual = sp.simplify(sp.sympify(proof))
    if residual != 0:
        raise Fail(f"the proof's residual is {residual}, not 0")
    return "sympy: the residual simplifies to 0"
