"""Fuzz every public entry point (issue 10, "Done means"): bad input never reaches numpy or LAPACK.

For each entry point (``tests/conventions/fuzz_api.py``: everything ``reference`` exports, the
public API of its submodules, the ``def`` functions of the claims' ``bounds`` modules, the CLI
parser) Hypothesis draws ``max_examples`` argument sets from the argument zoo (25 per entry point
in the default profile, about 3,000 calls in all; 2,000 each under
``--hypothesis-profile=thorough``). Every call must
end as ``accepted`` (finite output) or ``rejected`` (``ValueError``/``TypeError`` naming an
argument); ``unnamed``, ``other`` exceptions, NaN/inf output from finite input, output on file
descriptor 2 and calls running over the alarm are failures.

Every entry point must pass (no expected failures): a module's internal helpers, called only
with checked arguments, are outside its ``__all__`` and so not entry points. ``python
tests/conventions/fuzz_api.py`` prints the outcome table over all entry points.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

from tests.conventions.fuzz_api import (
    FAILURES,
    MODEL,
    EntryPoint,
    _is_record,
    _parameters,
    entry_points,
    fuzz_entry,
)

ENTRIES = entry_points()


def test_the_fuzz_covers_every_exported_name_and_the_model():
    names = {e.name for e in ENTRIES}
    import reference

    exported = {  # exceptions and plain result records are not entry points
        f"reference.{n}"
        for n in reference.__all__
        if not (isinstance(getattr(reference, n), type) and _is_record(getattr(reference, n)))
    }
    assert exported <= names and "reference.train_prompt" in exported
    assert {"verify.run.cli.build_parser().parse_args", "Transformer().__call__"} <= names
    assert len(ENTRIES) >= 45 and MODEL.d == 2  # internal helpers are outside `__all__`


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_fuzz_entry_point(entry: EntryPoint) -> None:
    results = fuzz_entry(entry, settings().max_examples, stop_at_failure=True)  # profile's count
    failures = [f"{o}: {entry.name}({args}) -> {detail}" for o, detail, args in results
                if o in FAILURES]  # fmt: skip
    assert not failures, f"{len(failures)} failing calls, e.g.\n" + "\n".join(failures[:5])


def _planted_unchecked(x: np.ndarray, scale: float) -> float:
    """A planted function without input checks: the fuzz must flag it."""
    return float(np.sum(np.asarray(x, dtype=float)) * scale)


def test_planted_unchecked_function_is_caught_by_the_fuzz() -> None:
    entry = EntryPoint("planted", _planted_unchecked, "tests", _parameters(_planted_unchecked))
    outcomes = {outcome for outcome, _, _ in fuzz_entry(entry, 60)}
    assert "accepted-bad" in outcomes  # a NaN argument went through unnoticed


def test_planted_overflow_carrier_must_itself_be_finite():
    import dataclasses

    from tests.conventions.fuzz_api import _has_nonfinite

    @dataclasses.dataclass
    class Saturated:
        total: float
        log2: float

    Saturated.OVERFLOW_CARRIED_BY = "log2"

    assert not _has_nonfinite(Saturated(float("inf"), 1100.0))  # saturated, exact in log2
    assert _has_nonfinite(Saturated(float("inf"), float("inf")))  # the carrier overflowed
    assert _has_nonfinite(Saturated(float("nan"), 3.0))  # NaN is never a bound
