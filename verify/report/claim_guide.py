"""What the report says next to each claim: its reading guide and the command that reruns it.

A claim's reading guide (its docs page and a one-paragraph "what this shows") lives in its own
folder, ``verify/claims/<name>/guide.py``, as ``GUIDE = ClaimGuide(docs=..., shows=...)``;
:func:`guide_for` finds it by the claim's name. A test requires a guide for every registered
claim (docs/adding-a-claim.md).

>>> from verify.report.claim_guide import guide_for, reproduce_command
>>> guide_for("efficiency").docs
'efficiency.md#the-statement-checked'
>>> reproduce_command("efficiency", seed=3, mode="smoke")
'python -m verify --only efficiency --seed 3 --smoke'
"""

from __future__ import annotations

import importlib

from verify.claims.base import ClaimGuide

CLAIMS_PACKAGE = "verify.claims"


class MissingGuide(LookupError):
    """A claim has no reading guide: no ``verify/claims/<name>/guide.py`` defining ``GUIDE``."""


def guide_for(name: str) -> ClaimGuide:
    """The reading guide of claim ``name``, from ``verify/claims/<name>/guide.py``.

    Raises :class:`MissingGuide` (a :class:`LookupError`) naming the file to add when the claim
    has none.

    >>> from verify.report.claim_guide import guide_for
    >>> guide_for("capacity").docs
    'capacity.md'
    >>> guide_for("no-such-claim")
    Traceback (most recent call last):
    ...
    verify.report.claim_guide.MissingGuide: claim 'no-such-claim' has no reading guide: add ...
    """
    package = f"{CLAIMS_PACKAGE}.{name}"
    missing = MissingGuide(
        f"claim {name!r} has no reading guide: add verify/claims/{name}/guide.py defining "
        "GUIDE = ClaimGuide(docs=..., shows=...) (verify.claims.base.ClaimGuide)"
    )
    if not name.isidentifier():
        raise missing
    try:
        module = importlib.import_module(f"{package}.guide")
    except ModuleNotFoundError as exc:
        if exc.name in (package, f"{package}.guide"):
            raise missing from None
        raise  # guide.py exists but imports something missing: show that error
    guide = getattr(module, "GUIDE", None)
    if not isinstance(guide, ClaimGuide):
        raise MissingGuide(
            f"verify/claims/{name}/guide.py defines no GUIDE = ClaimGuide(docs=..., shows=...)"
        )
    return guide


def reproduce_command(name: str, *, seed: int, mode: str) -> str:
    """The command that reruns one claim with the same cases.

    >>> from verify.report.claim_guide import reproduce_command
    >>> reproduce_command("capacity", seed=0, mode="default")
    'python -m verify --only capacity --seed 0'
    """
    flag = {"smoke": " --smoke", "thorough": " --thorough"}.get(mode, "")
    return f"python -m verify --only {name} --seed {seed}{flag}"
