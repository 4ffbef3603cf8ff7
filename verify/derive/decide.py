"""Deciding signs and equalities with sympy over a domain of intervals (never by sampling).

A *domain* maps symbols to sympy intervals (``{eps: Interval.open(0, 1)}``); symbols not in it
range over what their assumptions allow. :func:`holds` decides ``expr >= 0`` (or ``> 0``,
``<= 0``, ``< 0``) for every point of the domain, and returns ``False`` when sympy cannot decide
it — never a guess. The procedures, tried in order:

1. sympy's assumptions on the simplified expression (``is_nonnegative`` …), factor by factor;
2. every bounded symbol replaced by a bijection from a positive symbol ``t`` onto its open
   interval (``x = (a + b t)/(1 + t)``, ``x = a + t``, ``x = b − t``), then step 1 again, and
   the closed ends substituted separately;
3. for an expression in one symbol only, ``solveset`` of the violating inequality over the
   interval is empty.

>>> import sympy as sp
>>> from verify.derive.decide import holds
>>> eps = sp.Symbol("epsilon", positive=True)
>>> holds(1 - eps, ">=", {eps: sp.Interval.open(0, 1)}), holds(1 - eps, ">=", {})
(True, False)
"""

from __future__ import annotations

import functools

import sympy as sp

Domain = dict[sp.Symbol, sp.Interval]
RELATIONS = (">=", ">", "<=", "<")


def _by_assumptions(expr: sp.Expr, relation: str) -> bool:
    """Step 1: sympy's assumptions on the expression (its factors: :func:`_by_factors`)."""
    if expr.is_zero:
        return relation in (">=", "<=")
    query = {
        ">=": "is_extended_nonnegative",  # extended: comparisons with ±oo decide too
        ">": "is_extended_positive",
        "<=": "is_extended_nonpositive",
        "<": "is_extended_negative",
    }[relation]
    return getattr(expr, query) is True


def _reparametrised(
    expr: sp.Expr, domain: Domain
) -> tuple[sp.Expr, list[tuple[sp.Symbol, sp.Expr]]]:
    """Step 2: each bounded symbol as the image of a positive dummy; the closed ends apart."""
    mapping: dict[sp.Symbol, sp.Expr] = {}
    ends: list[tuple[sp.Symbol, sp.Expr]] = []
    relevant = set(expr.free_symbols)
    while True:  # with the symbols the relevant intervals' ends depend on
        more = {s for x in relevant if x in domain for s in domain[x].free_symbols} - relevant
        if not more:
            break
        relevant |= more
    for symbol, interval in domain.items():
        if symbol not in relevant or not isinstance(interval, sp.Interval):
            continue
        lo, hi = interval.start, interval.end
        t = sp.Dummy(f"t_{symbol}", positive=True)
        if lo.is_finite and hi.is_finite:
            mapping[symbol] = (lo + hi * t) / (1 + t)
        elif lo.is_finite:
            mapping[symbol] = lo + t
        elif hi.is_finite:
            mapping[symbol] = hi - t
        else:
            continue
        ends += [(symbol, lo)] if lo.is_finite and not interval.left_open else []
        ends += [(symbol, hi)] if hi.is_finite and not interval.right_open else []
    # a symbol whose interval's ends involve other symbols goes first (its image then holds
    # them, and their own images are substituted after)
    order = sorted(mapping, key=lambda x: -len(domain[x].free_symbols & set(mapping)))
    for symbol in order:
        expr = expr.subs(symbol, mapping[symbol])
    return expr, ends


def holds(expr: sp.Expr, relation: str, domain: Domain) -> bool:
    """Whether ``expr <relation> 0`` at every point of ``domain`` (``False``: not decided).

    >>> import sympy as sp
    >>> from verify.derive.decide import holds
    >>> x = sp.Symbol("x", real=True)
    >>> holds(x**2 - 2 * x + 1, ">=", {}), holds(x - 1, "<", {x: sp.Interval.open(0, 1)})
    (True, True)
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation: expected one of {RELATIONS}, got {relation!r}")
    return _cached(sp.sympify(expr), relation, tuple(sorted(domain.items(), key=str)))


@functools.lru_cache(maxsize=4096)
def _cached(
    expr: sp.Expr, relation: str, domain: tuple[tuple[sp.Symbol, sp.Interval], ...]
) -> bool:
    return _holds(expr, relation, dict(domain), depth=0)


def _sample(x: sp.Symbol, domain: Domain, position: sp.Rational) -> sp.Expr:
    """A point of ``x``'s interval, at ``position`` in (0, 1) of it (or past its finite end)."""
    interval = natural_interval(x, domain)
    lo, hi = interval.start, interval.end
    if lo.is_finite and hi.is_finite:
        point = lo + (hi - lo) * position
    elif lo.is_finite:
        point = lo + 3 * position
    elif hi.is_finite:
        point = hi - 3 * position
    else:
        point = 3 * position - 1
    if x.is_integer:
        point = sp.ceiling(point) if lo.is_finite else sp.floor(point)
    return point


def _violated(expr: sp.Expr, relation: str, domain: Domain) -> bool:
    """Whether the relation fails at a sample point: only ever used to stop early (a sample
    never proves anything)."""
    for position in (sp.Rational(1, 3), sp.Rational(5, 7)):
        points = {x: _sample(x, domain, position) for x in expr.free_symbols}
        points = {x: v.subs(points) for x, v in points.items()}  # interval ends in other symbols
        try:
            value = complex(sp.N(expr.subs(points), 30))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            continue
        if abs(value.imag) > 1e-20 or value.real != value.real:
            continue
        v = value.real
        if {">=": v < -1e-20, ">": v <= 0, "<=": v > 1e-20, "<": v >= 0}[relation]:
            return True
    return False


def _holds(expr: sp.Expr, relation: str, domain: Domain, depth: int) -> bool:
    """Cheapest first: assumptions, factors, the reparametrised interior, simplify, solveset
    (after a sample point that violates the relation has stopped it early)."""
    if _violated(expr, relation, domain):
        return False
    cheap = [expr, sp.factor(sp.together(expr))]
    if any(_by_assumptions(e, relation) for e in cheap):
        return True
    if depth < 2 and _by_factors(cheap[-1], relation, domain, depth):
        return True
    inner, ends = _reparametrised(expr, domain)
    inside = inner is not expr and (
        _by_assumptions(sp.factor(sp.together(inner)), relation)
        or _by_assumptions(sp.simplify(inner), relation)
    )
    if inside:
        return all(_sub(expr.subs(symbol, end), relation, domain, depth) for symbol, end in ends)
    if _by_assumptions(sp.simplify(expr), relation):
        return True
    return _by_solveset(expr, relation, domain)


def _power(factor: sp.Expr) -> tuple[sp.Expr, int]:
    """``(base, n)`` for an integer power ``base**n`` (``(factor, 1)`` otherwise)."""
    if isinstance(factor, sp.Pow) and factor.exp.is_integer and factor.exp.is_number:
        return factor.base, int(factor.exp)
    return factor, 1


def _sub(expr: sp.Expr, relation: str, domain: Domain, depth: int) -> bool:
    """A sub-question, cached, one level deeper."""
    key = tuple(sorted(domain.items(), key=str))
    return _cached_at(expr, relation, key, depth + 1)


@functools.lru_cache(maxsize=8192)
def _cached_at(
    expr: sp.Expr, relation: str, domain: tuple[tuple[sp.Symbol, sp.Interval], ...], depth: int
) -> bool:
    return _holds(expr, relation, dict(domain), depth)


def _by_factors(expr: sp.Expr, relation: str, domain: Domain, depth: int) -> bool:
    """The sign of a product from the signs of its factors, each decided on its own."""
    factors = sp.Mul.make_args(sp.factor_terms(expr))
    if len(factors) < 2:
        return False
    negatives, strict_ok = 0, True
    for factor in factors:
        factor, exponent = _power(factor)
        if exponent % 2 == 0:  # an even power of a real base: >= 0, > 0 where it is nonzero
            if _sub(factor, ">", domain, depth) or _sub(factor, "<", domain, depth):
                continue
            real = _sub(factor, ">=", domain, depth) or _sub(factor, "<=", domain, depth)
            if exponent < 0 or not real:
                return False  # a zero base would divide by zero; a complex one flips the sign
            strict_ok = False
            continue
        if _sub(factor, ">", domain, depth):
            continue
        if _sub(factor, "<", domain, depth):
            negatives += 1
        elif exponent > 0 and _sub(factor, ">=", domain, depth):
            strict_ok = False
        elif exponent > 0 and _sub(factor, "<=", domain, depth):
            negatives += 1
            strict_ok = False
        else:
            return False
    sign_ok = (negatives % 2 == 0) == (relation in (">=", ">"))
    return sign_ok and (strict_ok or relation in (">=", "<="))


def _by_solveset(expr: sp.Expr, relation: str, domain: Domain) -> bool:
    """Step 3: one free symbol; the violating set over its interval is empty."""
    free = list(expr.free_symbols)
    if len(free) != 1:
        return False
    (x,) = free
    interval = domain.get(x, _natural_interval(x))
    violation = {">=": expr < 0, ">": expr <= 0, "<=": expr > 0, "<": expr >= 0}[relation]
    try:
        found = sp.solveset(violation, x, interval)
    except (NotImplementedError, ValueError, TypeError):
        return False
    return found is sp.S.EmptySet


def _natural_interval(x: sp.Symbol) -> sp.Interval:
    if x.is_positive:
        return sp.Interval.open(0, sp.oo)
    if x.is_nonnegative:
        return sp.Interval(0, sp.oo)
    return sp.Interval(-sp.oo, sp.oo)


def natural_interval(x: sp.Symbol, domain: Domain) -> sp.Interval:
    """The interval ``x`` ranges over: its domain entry, else what its assumptions allow.

    >>> import sympy as sp
    >>> from verify.derive.decide import natural_interval
    >>> natural_interval(sp.Symbol("K", positive=True), {})
    Interval.open(0, oo)
    """
    return domain.get(x, _natural_interval(x))


def equal(a: sp.Expr, b: sp.Expr, domain: Domain) -> bool:
    """Whether ``a == b`` on the domain: ``a − b`` simplifies to 0 (also after the domain's
    reparametrisation, which lets ``sqrt`` and ``Abs`` of sign-known terms resolve).

    >>> import sympy as sp
    >>> from verify.derive.decide import equal
    >>> eps = sp.Symbol("epsilon", positive=True)
    >>> equal(sp.Abs(1 - eps), 1 - eps, {eps: sp.Interval.open(0, 1)})
    True
    """
    difference = sp.sympify(a) - sp.sympify(b)
    if sp.simplify(difference) == 0:
        return True
    inner, ends = _reparametrised(difference, domain)
    if inner is difference or sp.simplify(inner) != 0:
        return False
    return all(equal(a.subs(s, e), b.subs(s, e), domain) for s, e in ends)
