"""Run a bound-checking property under Hypothesis, for pytest and for the report alike.

A property is a function ``check(case) -> Observation | list[Observation]``: it computes a
measured error and the bound it must stay under. :func:`run_property` draws cases from a
strategy, ``target()``s the ratio ``error / bound`` (so Hypothesis searches for the worst case),
and returns how many cases ran, the worst ratio seen and, if the bound was broken, the shrunk
falsifying case as Hypothesis reports it.

>>> from verify.claims.properties import Observation, run_property
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

import hypothesis.core
from hypothesis import HealthCheck, Phase, given, seed, settings, target
from hypothesis import strategies as st

#: ``max_examples`` of the suite's ``default`` Hypothesis profile (``conftest.py``): the count a
#: test's base example count is calibrated against (see :func:`profile_examples`).
DEFAULT_PROFILE_EXAMPLES = 25

# How Hypothesis introduces the shrunk case in its report ("Falsifying example" up to 6.15x,
# "Failing test case" in later releases): tests recognise a reproducer by this pattern.
FALSIFYING_CASE = re.compile(r"(Falsifying example|Failing test case): prop\(")


def profile_examples(base: int, profile_max: int | None = None) -> int:
    """``base`` examples under the ``default`` profile, scaled with a profile's ``max_examples``
    (``profile_max``; the loaded profile's when omitted), at least 1.

    >>> from verify.claims.properties import profile_examples
    >>> profile_examples(40, profile_max=2000), profile_examples(40, profile_max=25)
    (3200, 40)
    """
    current = settings().max_examples if profile_max is None else profile_max
    return max(1, round(base * current / DEFAULT_PROFILE_EXAMPLES))


def _seed_to_use(rng_seed: int | None) -> int | None:
    """The explicit seed, else the one given to pytest as ``--hypothesis-seed``, else ``None``
    (Hypothesis chooses: random draws, or the ``ci`` profile's derandomized ones)."""
    if rng_seed is not None:
        return rng_seed
    forced = hypothesis.core.global_force_seed
    return None if forced is None else int(forced)


@dataclass(frozen=True)
class Observation:
    """A measured ``error`` and the ``bound`` it must not exceed (``error <= bound``).

    ``exact`` marks a check with no tolerance (a count equal to its formula, a defect that must
    be zero): it holds or not, so its ratio is 0 when it holds and ``inf`` when it does not, and
    a property made only of exact observations reports no ratio (see :class:`PropertyOutcome`).

    >>> from verify.claims.properties import Observation
    >>> Observation(0.0, 0.0, "rows - formula", exact=True).ratio
    0.0
    >>> Observation(1.0, 0.0, "rows - formula", exact=True).ratio
    inf
    """

    error: float
    bound: float
    label: str = ""
    exact: bool = False

    @property
    def ratio(self) -> float:
        if self.exact:
            return 0.0 if self.holds else math.inf
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


def observe(
    check: Callable[[Any], Observation | list[Observation]], case: Any
) -> list[Observation]:
    """``check(case)`` as a list; an ``AssertionError`` the check raises itself (a requirement it
    checks before measuring, such as a reported bound equal to its sympy formula) becomes a
    failed exact observation carrying the message, so it is reported as a falsification with
    its numbers rather than a crash.

    >>> from verify.claims.properties import Observation, observe
    >>> def check(x):
    ...     if x != 2.0:
    ...         raise AssertionError(f"reported bound {x} != sympy bound 2.0")
    ...     return Observation(1.0, x)
    >>> observe(check, 2.0)[0].holds, observe(check, 2.5)[0].holds
    (True, False)
    >>> observe(check, 2.5)[0].label
    'reported bound 2.5 != sympy bound 2.0'
    """
    try:
        obs = check(case)
    except BoundViolation:
        raise
    except AssertionError as exc:
        return [Observation(1.0, 0.0, str(exc) or "assertion failed", exact=True)]
    return [obs] if isinstance(obs, Observation) else list(obs)


def all_exact(observations: list[Observation]) -> bool:
    """Whether every observation is exact (the check has no ratio to report)."""
    return all(o.exact for o in observations)


@dataclass
class PropertyOutcome:
    """What :func:`run_property` found; ``exact`` when every observation of every case was exact
    (then ``worst_ratio`` is 0 if it passed, ``inf`` if not, and reports show "exact")."""

    name: str
    cases: int
    worst_ratio: float
    passed: bool
    counterexample: str | None = None
    ratios: list[float] = field(default_factory=list)
    exact: bool = False


def run_property(
    name: str,
    strategy: st.SearchStrategy,
    check: Callable[[Any], Observation | list[Observation]],
    *,
    max_examples: int = 50,
    rng_seed: int | None = None,
    shrink: bool = True,
) -> PropertyOutcome:
    """Run ``check`` on ``max_examples`` drawn cases; never raises on a violated bound.

    ``rng_seed`` fixes the draws (the report passes ``--seed``); without it the seed given to
    pytest as ``--hypothesis-seed`` is used, else Hypothesis's own choice under the loaded
    profile. The profile's other settings (``print_blob`` among them) apply too.

    ``cases`` and ``ratios`` count the generated cases up to and including the first violation;
    the calls Hypothesis makes afterwards to shrink and replay it are not new cases.
    ``shrink=False`` reports the first violation as drawn (planted violations, where only
    "caught" matters and shrinking an expensive case would dominate the run).

    >>> import hypothesis.strategies as st
    >>> from verify.claims.properties import Observation, run_property
    >>> out = run_property("demo", st.integers(0, 100), lambda x: Observation(x, 50.0))
    >>> out.passed, out.cases == len(out.ratios), out.ratios[-1] > 1
    (False, True, True)
    """
    ratios: list[float] = []
    exact = [True]  # every observation of the counted cases was exact
    violated = [False]  # a violation was seen: later calls shrink or replay it

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,  # one failure, never an ExceptionGroup the caller misses
        phases=tuple(p for p in Phase if shrink or p not in (Phase.shrink, Phase.explain)),
    )
    @given(strategy)
    def prop(case: Any) -> None:
        obs_list = observe(check, case)
        worst = max(o.ratio for o in obs_list)
        if not violated[0]:
            exact[0] = exact[0] and all_exact(obs_list)
            ratios.append(worst)
            violated[0] = not all(o.holds for o in obs_list)
        if math.isfinite(worst):
            target(worst, label=f"{name}: error/bound")
        assert_within(obs_list, context=name)

    chosen_seed = _seed_to_use(rng_seed)
    run = prop if chosen_seed is None else seed(chosen_seed)(prop)
    try:
        run()
    except AssertionError as exc:
        notes = "\n".join(getattr(exc, "__notes__", []))
        return PropertyOutcome(
            name,
            len(ratios),
            max(ratios, default=math.inf),
            False,
            f"{exc}\n{notes}",
            ratios,
            exact[0] and bool(ratios),
        )
    return PropertyOutcome(
        name, len(ratios), max(ratios, default=0.0), True, None, ratios, exact[0] and bool(ratios)
    )
