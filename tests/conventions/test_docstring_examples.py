"""Every docstring example in ``reference`` and ``verify`` runs as pasted into a fresh REPL.

Each docstring gets an empty namespace (no module globals, no ``np`` provided): an example must
import everything it uses, so a reader can paste it as it stands.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

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


def run_fresh(module_name: str) -> list[str]:
    """Run the module's docstring examples, each docstring in a fresh namespace; return the
    names of the docstrings with a failing example."""
    module = importlib.import_module(module_name)
    failed = []
    for test in doctest.DocTestFinder().find(module, module_name):
        if not test.examples:
            continue
        test.globs = {"__name__": "__main__"}  # a fresh REPL: no module globals
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        if runner.run(test).failed:
            failed.append(test.name)
    return failed


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples_run_as_pasted(module_name: str) -> None:
    failed = run_fresh(module_name)
    assert not failed, f"docstring examples failing in a fresh namespace: {', '.join(failed)}"


def test_planted_example_without_its_import_fails(tmp_path, monkeypatch) -> None:
    (tmp_path / "planted_doc_module.py").write_text(
        'import math\n\n\ndef f():\n    """\n    >>> math.sqrt(4)\n    2.0\n    """\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run_fresh("planted_doc_module") == ["planted_doc_module.f"]
