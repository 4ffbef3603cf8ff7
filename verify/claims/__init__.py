"""Claims of the report; every module here registers one (or more) via ``base.register``."""

from __future__ import annotations

import importlib
import pkgutil

from verify.claims.base import REGISTRY, Claim, ClaimContext, ClaimResult, register


def load_all() -> dict[str, Claim]:
    """Import every claim module and return the registry, sorted by ``order`` then name."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return dict(sorted(REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0])))


__all__ = ["REGISTRY", "Claim", "ClaimContext", "ClaimResult", "load_all", "register"]
