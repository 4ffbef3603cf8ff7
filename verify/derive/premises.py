"""Premises of a derivation (definition / hypothesis / lemma), steps, and the engine's error.

>>> import sympy as sp
>>> from verify.derive.premises import Premise
>>> K = sp.Symbol("K", positive=True)
>>> Premise("radius", "definition", sp.Eq(sp.Symbol("rho"), 1 / (2 * K)), "cells",
...         test="tests/x.py::test_y").kind
'definition'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

#: definition: a fact about ``reference/``'s built objects, read off them by the test it names;
#: hypothesis: an assumption of the theorem; lemma: a named fact, proved in sympy or cited.
KINDS = ("definition", "hypothesis", "lemma")


class DerivationError(ValueError):
    """A derivation that does not check: names the derivation, the step (or premise) and why.

    ``step`` is the 1-based step number (``None`` for a premise), ``rule`` the rule's name.

    >>> from verify.derive.premises import DerivationError
    >>> str(DerivationError("demo.x", 2, "equal", "the two sides differ by 1"))
    'demo.x, step 2 (equal): the two sides differ by 1'
    """

    def __init__(self, derivation: str, step: int | None, rule: str, reason: str) -> None:
        where = f"step {step} ({rule})" if step is not None else f"premise {rule}"
        super().__init__(f"{derivation}, {where}: {reason}")
        self.derivation = derivation
        self.step = step
        self.rule = rule
        self.reason = reason


@dataclass(frozen=True)
class Premise:
    """A named premise. ``statement`` is a sympy relation (or ``None`` for a lemma stated in
    words only); ``test`` (definitions) the pytest node id of the test reading the fact off the
    built objects; ``source`` (cited lemmas) the citation; ``proof`` (proved lemmas) how the
    engine proved it; ``conditions`` (lemmas) relations an instance must satisfy."""

    name: str
    kind: str
    statement: Any
    text: str
    test: str | None = None
    source: str | None = None
    proof: str | None = None
    conditions: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {KINDS}, got {self.kind!r}")
        if self.kind == "definition" and not (self.test and "::" in self.test):
            raise ValueError(
                f"test: expected a pytest node id 'tests/...py::test_name' for definition "
                f"{self.name!r}, got {self.test!r}"
            )
        if self.statement is not None and not isinstance(self.statement, sp.Basic):
            raise TypeError(
                f"statement: expected a sympy relation or None for premise {self.name!r}, "
                f"got {type(self.statement).__name__}"
            )


@dataclass(frozen=True)
class Step:
    """One checked step: ``relation`` (``==``, ``<=``, ``>=``) between the previous expression and
    ``claimed``; ``rule`` the rule that checked it; ``detail`` what sympy verified."""

    number: int
    rule: str
    claimed: sp.Expr
    relation: str
    why: str
    detail: str
    call: tuple[str, dict[str, Any]] = field(repr=False, compare=False, default=("", {}))
