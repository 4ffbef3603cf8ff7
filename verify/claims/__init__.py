"""Claims of the report; every module here registers one (or more) via ``base.register``."""

from __future__ import annotations

import importlib
import pkgutil

from verify.claims.base import REGISTRY, Claim, ClaimContext, ClaimResult, register


def claim_modules() -> list[str]:
    """Names of the claim modules, without importing them; each registers the claim of its name
    (``tests/test_cli.py`` checks this), so options can be validated before any import."""
    return [
        info.name
        for info in pkgutil.iter_modules(__path__)
        if info.name != "base" and not info.name.startswith("_")
    ]


def load_all(names: list[str] | None = None) -> dict[str, Claim]:
    """Import every claim module (or only those of ``names``) and return the registry, sorted
    by ``order`` then name."""
    modules = claim_modules()
    for name in modules if names is None else [n for n in names if n in modules]:
        importlib.import_module(f"{__name__}.{name}")
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
