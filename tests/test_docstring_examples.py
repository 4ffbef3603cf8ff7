"""Every docstring example in ``reference`` and ``verify`` runs and gives the shown output."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import reference
import verify


def _modules() -> list[str]:
    names = []
    for package in (reference, verify):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            if info.name.split(".")[-1] in ("__main__",):
                continue
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
