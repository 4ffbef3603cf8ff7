"""A derivation: named premises, then steps from a start to a result, each checked when added.

The chain relates the derivation's ``quantity`` to each step's expression: ``==`` while every
step is an equality, ``<=`` (an upper bound) once a step bounds from above, ``>=`` once one
bounds from below; a step bounding the other way raises :class:`DerivationError`, as does any
step its rule cannot verify. See :mod:`verify.derive` for the API and a worked example.

>>> import sympy as sp
>>> from verify.derive.engine import Derivation
>>> x = sp.Symbol("x", positive=True)
>>> d = Derivation("demo.square", claim="demo", goal="(x + 1)^2 - 1", quantity=sp.Symbol("y"))
>>> d.start((x + 1) ** 2 - 1).equal(x * (x + 2)).result
x*(x + 2)
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from verify.derive import rules
from verify.derive.decide import Domain, equal
from verify.derive.premises import DerivationError, Premise, Step

#: (chain so far, step) -> chain: equalities keep it, a bound sets it, the other way is refused
_COMPOSE = {("==", s): s for s in ("==", "<=", ">=")} | {
    (c, s): c for c in ("<=", ">=") for s in ("==", c)
}


class Derivation:
    """A derivation named ``<claim>.<what>`` proving ``quantity <relation> result``."""

    def __init__(
        self,
        name: str,
        *,
        claim: str,
        goal: str,
        quantity: sp.Expr,
        domain: Domain | None = None,
    ) -> None:
        if not name.startswith(f"{claim}."):
            raise ValueError(f"name: expected '{claim}.<what>', got {name!r}")
        self.name, self.claim, self.goal = name, claim, goal
        self.quantity = sp.sympify(quantity)
        self.domain: Domain = dict(domain or {})
        self._premises: dict[str, Premise] = {}
        self._steps: list[Step] = []
        self._current: sp.Expr | None = None
        self._relation = "=="
        self._calls: list[tuple[str, dict[str, Any]]] = []  # premises then steps, to replay

    # ------------------------------------------------------------------ premises
    def _add(self, premise: Premise) -> Premise:
        if premise.name in self._premises:
            raise DerivationError(self.name, None, premise.name, "premise named twice")
        self._premises[premise.name] = premise
        return premise

    def definition(self, name: str, statement: Any, text: str, *, test: str) -> Premise:
        """A fact about ``reference/``'s built objects; ``test`` reads it off them."""
        self._calls.append(
            ("definition", {"name": name, "statement": statement, "text": text, "test": test})
        )
        return self._add(Premise(name, "definition", statement, text, test=test))

    def hypothesis(
        self, name: str, statement: Any, text: str, *, domain: Domain | None = None
    ) -> Premise:
        """An assumption of the theorem; ``domain`` adds symbol ranges the steps may use."""
        self._calls.append(
            ("hypothesis", {"name": name, "statement": statement, "text": text, "domain": domain})
        )
        self.domain.update(domain or {})
        return self._add(Premise(name, "hypothesis", statement, text))

    def lemma(
        self,
        name: str,
        statement: Any,
        text: str,
        *,
        source: str | None = None,
        proof: Any = None,
        conditions: tuple[Any, ...] = (),
    ) -> Premise:
        """A named fact: ``proof`` is a sympy residual that must simplify to 0, ``"decide"`` (the
        statement's inequality decided on the domain) or a :class:`Derivation` proving the
        statement; without a proof, ``source`` must cite where it is proved."""
        self._calls.append(
            (
                "lemma",
                {
                    "name": name,
                    "statement": statement,
                    "text": text,
                    "source": source,
                    "proof": proof,
                    "conditions": conditions,
                },
            )
        )
        how = self._prove(name, statement, proof, source)
        return self._add(
            Premise(
                name,
                "lemma",
                statement,
                text,
                source=source,
                proof=how,
                conditions=tuple(conditions),
            )
        )

    def _prove(self, name: str, statement: Any, proof: Any, source: str | None) -> str | None:
        if proof is None and not source:
            raise DerivationError(self.name, None, name, "a lemma needs a proof or a source")
        if proof is None:
            return None
        proved = (proof.name, proof.statement) if isinstance(proof, Derivation) else None
        try:
            return rules.lemma_proof(statement, proof, proved, self.domain)
        except rules.Fail as fail:
            raise DerivationError(self.name, None, name, str(fail)) from None

    def premise(self, name: str) -> Premise:
        """The premise called ``name`` (a clear error naming the known ones otherwise)."""
        try:
            return self._premises[name]
        except KeyError:
            known = ", ".join(self._premises) or "none"
            raise DerivationError(
                self.name, None, name, f"no such premise (known: {known})"
            ) from None

    # ------------------------------------------------------------------ steps
    def _step(self, rule: str, call: dict[str, Any], check: Any, why: str) -> Derivation:
        number = len(self._steps) + 1
        self._calls.append((rule, call))
        if rule not in ("start", "smallest", "largest") and self._current is None:
            raise DerivationError(self.name, number, rule, "no expression yet: start first")
        try:
            new, relation, detail = check()
        except rules.Fail as fail:
            raise DerivationError(self.name, number, rule, str(fail)) from None
        if rule in ("start", "smallest", "largest"):
            if self._steps:
                raise DerivationError(self.name, number, rule, "only the first step may start")
            chained = relation
        else:
            chained = _COMPOSE.get((self._relation, relation), "")
            if not chained:
                raise DerivationError(
                    self.name,
                    number,
                    rule,
                    f"a '{relation}' step cannot follow a '{self._relation}' chain",
                )
        self._current, self._relation = new, chained
        self._steps.append(Step(number, rule, new, relation, why, detail, (rule, call)))
        return self

    def start(
        self, expr: sp.Expr | None = None, *, premise: str | None = None, why: str = ""
    ) -> Derivation:
        """The first expression: ``quantity == expr``, or the right side of a premise
        ``quantity R expr`` (``R`` one of ``==``, ``<=``, ``>=``)."""

        def check() -> rules.Outcome:
            if premise is None:
                if expr is None:
                    raise rules.Fail("give an expression or a premise")
                return sp.sympify(expr), "==", "start"
            statement = self.premise(premise).statement
            if not isinstance(statement, sp.core.relational.Relational):
                raise rules.Fail(f"premise {premise} has no sympy relation")
            if not equal(statement.lhs, self.quantity, self.domain):
                raise rules.Fail(f"premise {premise} is about {statement.lhs}, not {self.quantity}")
            relation = {"==": "==", "<=": "<=", "<": "<=", ">=": ">=", ">": ">="}[statement.rel_op]
            start = (
                statement.rhs
                if expr is None
                else rules._checked_claim(statement.rhs, expr, self.domain)
            )
            return sp.sympify(start), relation, f"premise {premise}"

        return self._step("start", {"expr": expr, "premise": premise, "why": why}, check, why)

    def equal(self, claimed: sp.Expr, why: str = "algebra") -> Derivation:
        """``previous == claimed`` (the difference simplifies to 0)."""
        return self._step(
            "equal",
            {"claimed": claimed, "why": why},
            lambda: rules.equality(self._current, claimed, self.domain),
            why,
        )

    def substitute(self, premise: str, claimed: sp.Expr | None = None, why: str = "") -> Derivation:
        """Replace the left side of the equality ``premise`` by its right side."""
        return self._step(
            "substitute",
            {"premise": premise, "claimed": claimed, "why": why},
            lambda: rules.substitution(
                self._current, self.premise(premise).statement, claimed, self.domain
            ),
            why or f"by {premise}",
        )

    def fold(self, *premises: str, claimed: sp.Expr, why: str = "") -> Derivation:
        """Write the expression back in the left sides of equality premises (``claimed`` with
        them unfolded equals the previous expression)."""

        def check() -> rules.Outcome:
            statements = [self.premise(name).statement for name in premises]
            return rules.folding(self._current, statements, claimed, self.domain)

        return self._step(
            "fold",
            {"premises": premises, "claimed": claimed, "why": why},
            check,
            why or f"by {', '.join(premises)}",
        )

    def bound(self, premise: str, claimed: sp.Expr | None = None, why: str = "") -> Derivation:
        """Substitute the inequality ``premise`` into an expression monotone in its term."""
        return self._step(
            "bound",
            {"premise": premise, "claimed": claimed, "why": why},
            lambda: rules.monotone_bound(
                self._current, self.premise(premise).statement, claimed, self.domain
            ),
            why or f"by {premise}",
        )

    def relax(self, claimed: sp.Expr, why: str = "") -> Derivation:
        """A simpler bound in the chain's direction: the sign of ``claimed − previous`` decided."""

        def check() -> rules.Outcome:
            if self._relation == "==":
                try:
                    return rules.relaxation(self._current, claimed, "<=", self.domain)
                except rules.Fail:
                    return rules.relaxation(self._current, claimed, ">=", self.domain)
            return rules.relaxation(self._current, claimed, self._relation, self.domain)

        return self._step(
            "relax", {"claimed": claimed, "why": why}, check, why or "a simpler bound"
        )

    def maximize(
        self,
        symbol: sp.Symbol,
        interval: sp.Interval,
        claimed: sp.Expr | None = None,
        why: str = "",
    ) -> Derivation:
        """The maximum over ``symbol`` in ``interval`` (critical points and endpoints)."""
        return self._step(
            "maximize",
            {"symbol": symbol, "interval": interval, "claimed": claimed, "why": why},
            lambda: rules.extremum(self._current, symbol, interval, claimed, True, self.domain),
            why or f"worst {symbol}",
        )

    def minimize(
        self,
        symbol: sp.Symbol,
        interval: sp.Interval,
        claimed: sp.Expr | None = None,
        why: str = "",
    ) -> Derivation:
        """The minimum over ``symbol`` in ``interval`` (critical points and endpoints)."""
        return self._step(
            "minimize",
            {"symbol": symbol, "interval": interval, "claimed": claimed, "why": why},
            lambda: rules.extremum(self._current, symbol, interval, claimed, False, self.domain),
            why or f"best {symbol}",
        )

    def evaluate(self, claimed: sp.Expr | None = None, why: str = "") -> Derivation:
        """Evaluate the sums / integrals / limits in the expression (``summation``, ``integrate``,
        ``limit`` by sympy)."""
        return self._step(
            "evaluate",
            {"claimed": claimed, "why": why},
            lambda: rules.evaluation(self._current, claimed, self.domain),
            why or "evaluated",
        )

    def apply(
        self,
        lemma: str,
        mapping: dict[sp.Symbol, sp.Expr],
        claimed: sp.Expr | None = None,
        why: str = "",
    ) -> Derivation:
        """The lemma at ``mapping``: its left side is the previous expression; its conditions
        hold."""

        def check() -> rules.Outcome:
            p = self.premise(lemma)
            return rules.lemma_instance(
                self._current, p.statement, p.conditions, mapping, claimed, self.domain
            )

        return self._step(
            "apply",
            {"lemma": lemma, "mapping": mapping, "claimed": claimed, "why": why},
            check,
            why or f"lemma {lemma}",
        )

    def smallest(
        self,
        symbol: sp.Symbol,
        condition: Any,
        claimed: sp.Expr | None = None,
        *,
        integer: bool = False,
        why: str = "",
    ) -> Derivation:
        """First step of a choice: ``quantity`` is the smallest ``symbol`` meeting ``condition``."""
        return self._choice("smallest", symbol, condition, claimed, integer, why)

    def largest(
        self,
        symbol: sp.Symbol,
        condition: Any,
        claimed: sp.Expr | None = None,
        *,
        integer: bool = False,
        why: str = "",
    ) -> Derivation:
        """First step of a choice: ``quantity`` is the largest ``symbol`` meeting ``condition``."""
        return self._choice("largest", symbol, condition, claimed, integer, why)

    def _choice(
        self,
        rule: str,
        symbol: sp.Symbol,
        condition: Any,
        claimed: sp.Expr | None,
        integer: bool,
        why: str,
    ) -> Derivation:
        """:meth:`smallest` or :meth:`largest` (``rule``), one check for both."""
        args = {
            "symbol": symbol,
            "condition": condition,
            "claimed": claimed,
            "integer": integer,
            "why": why,
        }
        largest = rule == "largest"
        return self._step(
            rule,
            args,
            lambda: rules.smallest_parameter(
                symbol, condition, claimed, integer, self.domain, largest=largest
            ),
            why or f"{rule} {symbol}",
        )

    def cases(self, hypothesis: str, otherwise: str, why: str = "") -> Derivation:
        """The result so far under the hypothesis ``hypothesis`` (a relation), the premise
        ``otherwise`` (``quantity == value``) elsewhere: a ``Piecewise``."""

        def check() -> rules.Outcome:
            condition = self.premise(hypothesis)
            if condition.kind != "hypothesis":
                raise rules.Fail(f"{hypothesis} is a {condition.kind}, not a hypothesis")
            other = self.premise(otherwise).statement
            return rules.cases(
                self._current, condition.statement, self.quantity, other, self.domain
            )

        return self._step(
            "cases",
            {"hypothesis": hypothesis, "otherwise": otherwise, "why": why},
            check,
            why or f"case {hypothesis}",
        )

    # ------------------------------------------------------------------ results
    @property
    def result(self) -> sp.Expr:
        """The derived expression (the last step's)."""
        if self._current is None:
            raise DerivationError(self.name, None, "result", "the derivation has no steps")
        return self._current

    @property
    def relation(self) -> str:
        """``==``, ``<=`` or ``>=``: how ``quantity`` relates to :attr:`result`."""
        return self._relation

    @property
    def statement(self) -> sp.core.relational.Relational:
        """``quantity <relation> result`` as a sympy relation."""
        return sp.Rel(self.quantity, self.result, self._relation, evaluate=False)

    @property
    def premises(self) -> tuple[Premise, ...]:
        return tuple(self._premises.values())

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(self._steps)

    def replay(
        self, *, claims: dict[int, sp.Expr] | None = None, premises: dict[str, Any] | None = None
    ) -> Derivation:
        """The derivation rebuilt and rechecked with step ``n``'s claimed expression replaced
        (``claims={n: expr}``) or premises' statements replaced (``premises={name: relation}``;
        then every step whose rule computes its result recomputes it, and equalities
        re-simplify). Raises :class:`DerivationError` at the first step that no longer checks."""
        claims, premises = claims or {}, premises or {}
        unknown = set(premises) - set(self._premises)
        if unknown:
            raise DerivationError(self.name, None, sorted(unknown)[0], "no such premise to replace")
        copy = Derivation(
            self.name,
            claim=self.claim,
            goal=self.goal,
            quantity=self.quantity,
            domain={k: v for k, v in self.domain.items()},
        )
        number = 0
        for rule, call in self._calls:
            kwargs = dict(call)
            if rule in ("definition", "hypothesis", "lemma"):
                if kwargs["name"] in premises:
                    kwargs["statement"] = premises[kwargs["name"]]
                    if rule == "lemma" and kwargs.get("proof") is not None:
                        kwargs["proof"], kwargs["source"] = (
                            None,
                            kwargs.get("source") or "replaced by the user",
                        )
            else:
                number += 1
                if number in claims:
                    key = "expr" if rule == "start" else "claimed"
                    if key not in kwargs:
                        raise ValueError(
                            f"claims: step {number} ({rule}) of {self.name} has no claimed "
                            "expression to replace"
                        )
                    kwargs[key] = claims[number]
                elif premises and rule == "equal":
                    kwargs["claimed"] = sp.simplify(copy.result)
                elif premises and "claimed" in kwargs and rule not in ("fold", "relax"):
                    kwargs["claimed"] = None
                elif premises and rule == "start" and kwargs.get("premise"):
                    kwargs["expr"] = None
            if rule == "fold":
                copy.fold(*kwargs.pop("premises"), **kwargs)
            else:
                getattr(copy, rule)(**kwargs)
        return copy

    def text(self) -> str:
        """The derivation in plain text (premises with kinds, steps with rules)."""
        from verify.derive.render import as_text

        return as_text(self)

    def latex(self) -> str:
        """The derivation as LaTeX."""
        from verify.derive.render import as_latex

        return as_latex(self)

    def __repr__(self) -> str:
        return f"Derivation({self.name!r}: {self.statement})"
