"""The registry of derivations: builders registered by name, built (and so checked) once.

A derivation module under :mod:`verify.derive.derivations` decorates each builder (a function
returning a :class:`~verify.derive.engine.Derivation`) with :func:`register`. :func:`derivation`
builds one by name (cached); :func:`derivation_names` imports every module of the package and
lists the names; :func:`derivations_of` lists one claim's.

>>> from verify.derive.registry import derivation_names
>>> "efficiency.output_error_sharp" in derivation_names()
True
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from typing import TypeVar

import sympy as sp

from verify.derive.engine import Derivation

Builder = Callable[[], Derivation]
_BUILDERS: dict[str, Builder] = {}
_SUMMARIES: dict[str, str] = {}
F = TypeVar("F", bound=Builder)


def register(name: str, summary: str) -> Callable[[F], F]:
    """Register the builder of derivation ``name`` (``<claim>.<what>``), with a one-line
    summary for ``--list``."""

    def decorate(builder: F) -> F:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"name: derivation {name!r} is registered twice")
        _BUILDERS[name] = builder
        _SUMMARIES[name] = summary
        return builder

    return decorate


def _load_all() -> None:
    package = importlib.import_module("verify.derive.derivations")
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")


def derivation_names() -> list[str]:
    """Every registered derivation's name, sorted (every derivation module imported)."""
    _load_all()
    return sorted(_BUILDERS)


def summary(name: str) -> str:
    """The one-line summary ``name`` was registered with."""
    if name not in _SUMMARIES:
        _load_all()
    if name not in _SUMMARIES:
        raise KeyError(f"name: no derivation {name!r} (see python -m verify.derive --list)")
    return _SUMMARIES[name]


def derivations_of(claim: str) -> list[Derivation]:
    """The built derivations of one claim, in name order."""
    return [derivation(name) for name in derivation_names() if name.startswith(f"{claim}.")]


@functools.cache
def derivation(name: str) -> Derivation:
    """The derivation ``name``, built and checked (a step that does not check raises
    :class:`~verify.derive.premises.DerivationError`); an unknown name raises ``KeyError``."""
    if name not in _BUILDERS:
        claim = name.partition(".")[0]
        try:
            importlib.import_module(f"verify.derive.derivations.{claim}")
        except ModuleNotFoundError:
            pass
    if name not in _BUILDERS:
        _load_all()
    if name not in _BUILDERS:
        raise KeyError(f"name: no derivation {name!r} (see python -m verify.derive --list)")
    built = _BUILDERS[name]()
    if built.name != name:
        raise ValueError(f"name: the builder of {name!r} built {built.name!r}")
    return built


def derived(name: str) -> sp.Expr:
    """The result of derivation ``name``: how a ``bounds.py`` module takes a bound (the call is
    the label ``tests/conventions/test_derivations.py`` looks for).

    >>> from verify.derive import derived
    >>> derived("efficiency.rank")
    binomial(d + g, g)
    """
    return derivation(name).result


def statement(name: str) -> sp.Basic:
    """The statement ``quantity R result`` of derivation ``name`` (an identity's label).

    >>> from verify.derive import statement
    >>> statement("foundation.relative_pattern")
    Eq(s_with, s_without*(1 - a))
    """
    return derivation(name).statement


def premise(reference: str) -> sp.Basic:
    """The right side of premise ``"<derivation>:<premise>"`` (its statement when it is not a
    relation): how a ``bounds.py`` module takes a definition, hypothesis or cited lemma.

    >>> from verify.derive import premise
    >>> premise("efficiency.rounding_gamma:float64")
    1/9007199254740992
    """
    name, _, premise_name = reference.partition(":")
    if not premise_name:
        raise ValueError(f"reference: expected '<derivation>:<premise>', got {reference!r}")
    statement = derivation(name).premise(premise_name).statement
    if isinstance(statement, sp.core.relational.Relational):
        return statement.rhs
    return statement


def chosen(value: object, reason: str) -> sp.Basic:
    """A constant the suite chooses (a tolerance, a grid size), labelled with why: never a
    bound (those are :func:`derived`); ``reason`` must say what it is for.

    >>> from verify.derive import chosen
    >>> chosen("1e-12", "relative tolerance of a float64 identity")
    1.00000000000000e-12
    """
    if not reason.strip():
        raise ValueError("reason: expected why the constant is chosen, got an empty string")
    number = sp.sympify(value)
    if number.free_symbols:
        raise ValueError(f"value: expected a number (a chosen constant), got {number}")
    return sp.Float(number) if isinstance(value, str) else number
