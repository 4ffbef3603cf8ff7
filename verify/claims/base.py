"""The interface every claim of the report implements.

A claim is a package ``verify/claims/<name>/``: its ``claim`` module defines a function
``run(ctx: ClaimContext) -> ClaimResult`` decorated with :func:`register`, and its ``guide``
module the report's reading guide ``GUIDE = ClaimGuide(docs=..., shows=...)``. The report
discovers the packages automatically, so adding a claim is adding one folder (see
docs/adding-a-claim.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verify.claims.properties import PropertyOutcome


# What a check is evidence of (docs/report.md, "Check kinds"):
#   bound       measured / bound over drawn and adversarial cases; fails when a ratio exceeds 1
#   exact       an identity or a count equal to its formula; fails when it differs
#   attainment  a family built to reach a bound: shows tightness, never evidence that it holds
#   planted     a deliberately broken implementation or input that a named check must catch;
#               "passed" means the violation was caught (sensitivity, not evidence)
CHECK_KINDS = ("bound", "exact", "attainment", "planted")
EVIDENCE_KINDS = ("bound", "exact")


@dataclass
class CheckResult:
    """One checked statement: how many cases, the worst measured/bound ratio, the verdict.

    ``worst_ratio`` is ``max(measured / bound)`` over the cases (``<= 1`` means within the bound,
    ``inf`` when a bound of 0 or an exact check was broken), or ``None`` where the check is exact
    (an identity, a count equal to its formula) and holds.

    ``kind`` is one of :data:`CHECK_KINDS`; when omitted it is ``"exact"`` for a check without a
    ratio and ``"bound"`` otherwise. Only ``bound`` and ``exact`` checks are evidence: they alone
    set a claim's worst ratio and case count.

    >>> from verify.claims.base import CheckResult
    >>> CheckResult("c", "s", "", 3, True, 0.5).kind
    'bound'
    >>> CheckResult("c", "s", "", 3, True, 1.0, kind="attainment").kind
    'attainment'
    """

    name: str
    statement: str
    bound_latex: str
    cases: int
    passed: bool
    worst_ratio: float | None = None
    counterexample: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.kind is None:
            self.kind = "exact" if self.worst_ratio is None else "bound"
        if self.kind not in CHECK_KINDS:
            raise ValueError(f"kind: expected one of {CHECK_KINDS}, got {self.kind!r}")
        # "exact" (None) is a verdict that the check held: a failed exact check has no finite
        # ratio, and the report must never show it as exact
        if self.worst_ratio is None and not self.passed:
            self.worst_ratio = math.inf

    @classmethod
    def from_outcome(
        cls,
        name: str,
        statement: str,
        bound_latex: str,
        outcome: PropertyOutcome,
        *,
        kind: str | None = None,
        **details: Any,
    ) -> CheckResult:
        """The check of a :func:`verify.claims.properties.run_property` outcome: the ratio is
        kept as measured (``inf`` included), and is ``None`` only for an exact property that
        held.

        >>> import math
        >>> from verify.claims.base import CheckResult
        >>> from verify.claims.properties import PropertyOutcome
        >>> broken = PropertyOutcome("p", 3, math.inf, False, "case", [0.5, math.inf])
        >>> CheckResult.from_outcome("p", "s", "", broken).worst_ratio
        inf
        >>> exact = PropertyOutcome("p", 3, 0.0, True, None, [0.0] * 3, exact=True)
        >>> CheckResult.from_outcome("p", "s", "", exact).worst_ratio is None
        True
        """
        return cls(
            name=name,
            statement=statement,
            bound_latex=bound_latex,
            cases=outcome.cases,
            passed=outcome.passed,
            worst_ratio=None if outcome.exact and outcome.passed else outcome.worst_ratio,
            counterexample=outcome.counterexample,
            details=details,
            kind=kind,
        )

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.worst_ratio is not None and not math.isfinite(self.worst_ratio):
            out["worst_ratio"] = str(self.worst_ratio)
        return out


@dataclass
class FigureResult:
    """A PNG written by the claim into ``ctx.figure_dir``; ``filename`` is relative to it."""

    filename: str
    caption: str


@dataclass
class ClaimResult:
    """Everything the report shows for one claim."""

    name: str
    title: str
    statement: str
    checks: list[CheckResult] = field(default_factory=list)
    figures: list[FigureResult] = field(default_factory=list)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def evidence(self) -> list[CheckResult]:
        """The checks that count as evidence for the claim (kinds ``bound`` and ``exact``)."""
        return [c for c in self.checks if c.kind in EVIDENCE_KINDS]

    @property
    def cases(self) -> int:
        return sum(c.cases for c in self.evidence)

    @property
    def worst_ratio(self) -> float | None:
        """The worst ratio over the evidence: attainment families and planted violations are
        reported beside it and never set it."""
        ratios = [c.worst_ratio for c in self.evidence if c.worst_ratio is not None]
        return max(ratios) if ratios else None


@dataclass
class ClaimContext:
    """What a claim's ``run`` receives from the report command."""

    figure_dir: Path
    seed: int = 0
    mode: str = "default"  # "smoke" (CI, seconds), "default" (minutes), "thorough" (long)
    executor: Executor | None = None
    progress: Callable[[str], None] = lambda message: None

    def pick(self, smoke: Any, default: Any, thorough: Any) -> Any:
        """The value for this run's mode (example counts, sweep sizes, ...)."""
        if self.mode not in ("smoke", "default", "thorough"):
            raise ValueError(f"mode: expected 'smoke', 'default' or 'thorough', got {self.mode!r}")
        return {"smoke": smoke, "default": default, "thorough": thorough}[self.mode]

    def map(self, fn: Callable, items: list) -> list:
        """``fn`` over ``items`` on the run's executor (in-process when there is none).

        ``fn`` must be a picklable top-level function for process pools and Dask.
        """
        if self.executor is None:
            return [fn(item) for item in items]
        return list(self.executor.map(fn, items))


@dataclass(frozen=True)
class Claim:
    name: str
    title: str
    run: Callable[[ClaimContext], ClaimResult]
    order: int = 100


@dataclass(frozen=True)
class ClaimGuide:
    """``docs``: the page (and anchor) under ``docs/``; ``shows``: what the claim's results
    show a reader, and what they do not.

    >>> from verify.claims.base import ClaimGuide
    >>> ClaimGuide(docs="capacity.md", shows="What the results show.").docs
    'capacity.md'
    """

    docs: str
    shows: str


REGISTRY: dict[str, Claim] = {}


def register(name: str, title: str, *, order: int = 100) -> Callable:
    """Decorator registering ``run(ctx) -> ClaimResult`` under ``name``."""

    def decorate(run: Callable[[ClaimContext], ClaimResult]) -> Callable:
        if name in REGISTRY:
            raise ValueError(f"claim name {name!r} registered twice")
        REGISTRY[name] = Claim(name, title, run, order)
        return run

    return decorate
