"""Claims of the report: one package per claim, beside what every claim uses.

Each claim is a package ``verify/claims/<name>/`` holding its bounds (``bounds.py``, sympy), its
strategies, its checks and its ``claim.py``, which registers the claim ``<name>`` via
``base.register`` (docs/adding-a-claim.md). The modules here are shared by all claims: ``base``
(the claim interface and registry), ``properties`` (the property runner), ``strategies`` (models,
prompts, inputs) and ``figures`` (matplotlib helpers).
"""

from __future__ import annotations

import importlib
import pkgutil

from verify.claims.base import REGISTRY, Claim, ClaimContext, ClaimResult, register


def claim_modules() -> list[str]:
    """Names of the claim packages, without importing them; each one's ``claim`` module registers
    the claim of its name (``tests/main_job/test_cli.py`` checks this), so options can be validated
    before any import.

    >>> from verify.claims import claim_modules
    >>> claim_modules()
    ['capacity', 'efficiency', 'foundation', 'universality']
    """
    return sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if info.ispkg and not info.name.startswith("_")
    )


def load_all(names: list[str] | None = None) -> dict[str, Claim]:
    """Import every claim's ``claim`` module (or only those of ``names``) and return the
    registry, sorted by ``order`` then name."""
    modules = claim_modules()
    for name in modules if names is None else [n for n in names if n in modules]:
        importlib.import_module(f"{__name__}.{name}.claim")
    return dict(sorted(REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


__all__ = [
    "REGISTRY",
    "Claim",
    "ClaimContext",
    "ClaimResult",
    "claim_modules",
    "load_all",
    "register",
]
