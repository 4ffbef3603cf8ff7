"""Run a bound-checking property under Hypothesis, for pytest and for the report alike.

A property is a function ``check(case) -> Observation | list[Observation]``: it computes a
measured error and the bound it must stay under. :func:`run_property` draws cases from a
strategy, ``target()``s the ratio ``error / bound`` (so Hypothesis searches for the worst case),
and returns how many cases ran, the worst ratio seen and, if the bound was broken, the shrunk
falsifying case as Hypothesis reports it.

>>> from hypothesis import strategies as st
>>> out = run_property("demo", st.floats(0, 1), lambda x: Observation(x, 1.0), max_examples=20)
>>> out.passed, out.worst_ratio <= 1.0
(True, True)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, seed, settings, target
from hypothesis import strategies as st

# How Hypothesis introduces the shrunk case in its report ("Falsifying example" up to 6.15x,
# "Failing test case" in later releases): tests recognise a reproducer by this pattern.
FALSIFYING_CASE = re.compile(r"(Falsifying example|Failing test case): prop\(")


@dataclass(frozen=True)
class Observation:
    """A measured ``error`` and the ``bound`` it must not exceed (``error <= bound``)."""

    error: float
    bound: float
    label: str = ""

    @property
    def ratio(self) -> float:
        if self.bound > 0:
            return self.error / self.bound
        return 0.0 if self.error <= 0 else math.inf

    @property
    def holds(self) -> bool:
        return bool(self.error <= self.bound)


class BoundViolation(AssertionError):
    """A measured error exceeded its bound; the message carries both and the case."""


def assert_within(obs: Observation | list[Observation], context: str = "") -> None:
    """Raise :class:`BoundViolation` if any observation breaks its bound."""
    for o in [obs] if isinstance(obs, Observation) else obs:
        if not o.holds:
            raise BoundViolation(
                f"{o.label or 'error'} = {o.error:.6g} exceeds bound {o.bound:.6g} "
                f"(ratio {o.ratio:.6g}){' for ' + context if context else ''}"
            )


@dataclass
class PropertyOutcome:
    name: str
    cases: int
    worst_ratio: float
    passed: bool
    counterexample: str | None = None
    ratios: list[float] = field(default_factory=list)


def run_property(
    name: str,
    strategy: st.SearchStrategy,
    check: Callable[[Any], Observation | list[Observation]],
    *,
    max_examples: int = 50,
    rng_seed: int = 0,
) -> PropertyOutcome:
    """Run ``check`` on ``max_examples`` drawn cases; never raises on a violated bound."""
    ratios: list[float] = []

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @seed(rng_seed)
    @given(strategy)
    def prop(case: Any) -> None:
        obs = check(case)
        obs_list = [obs] if isinstance(obs, Observation) else list(obs)
        worst = max(o.ratio for o in obs_list)
        ratios.append(worst)
        if math.isfinite(worst):
            target(worst, label=f"{name}: error/bound")
        assert_within(obs_list, context=name)

    try:
        prop()
    except AssertionError as exc:
        notes = "\n".join(getattr(exc, "__notes__", []))
        return PropertyOutcome(
            name, len(ratios), max(ratios, default=math.inf), False, f"{exc}\n{notes}", ratios
        )
    return PropertyOutcome(name, len(ratios), max(ratios, default=0.0), True, None, ratios)
