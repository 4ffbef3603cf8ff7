"""The layout holds its rules (tests/conventions/layout_rules.py), and each rule catches its planted
break."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conventions.layout_rules import (
    MAX_FOLDER_MODULES,
    MAX_MODULE_LINES,
    SIZED,
    crowded_folders,
    cycle,
    forbidden_imports,
    import_graph,
    incomplete_claims,
    long_modules,
    modules,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def found():
    return modules(ROOT)


def test_no_import_cycle_between_modules(found) -> None:
    assert cycle(import_graph(found)) is None


def test_wings_depend_one_way(found) -> None:
    assert forbidden_imports(import_graph(found)) == []


def test_no_module_over_the_line_limit() -> None:
    assert long_modules(modules(ROOT, SIZED)) == []


def test_no_folder_over_the_module_limit() -> None:
    assert crowded_folders(modules(ROOT, SIZED)) == []


def test_every_claim_is_a_complete_folder() -> None:
    assert incomplete_claims(ROOT) == []


def test_the_graph_sees_the_real_dependencies(found) -> None:
    graph = import_graph(found)
    # a top-level, a function-level and a package-relative import of the real tree
    assert "reference.model.attention" in graph["reference.model.transformer"]
    assert "verify.run.cli" in graph["verify.__main__"]  # imported inside main()
    assert "verify.claims.base" in graph["verify.claims"]


# ------------------------------------------------------------------ planted breaks, one per rule
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_planted_lazy_import_cycle_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "reference/__init__.py": "",
            "reference/a.py": "from reference.b import g\n",
            "reference/b.py": "def g():\n    from reference import a  # lazy: still a cycle\n",
        },
    )
    found = cycle(import_graph(modules(root, ["reference"])))
    assert found is not None and set(found) == {"reference.a", "reference.b"}


def test_planted_relative_import_cycle_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "verify/__init__.py": "",
            "verify/run/__init__.py": "",
            "verify/run/x.py": "from .y import f\n",
            "verify/run/y.py": "from . import x\n",
        },
    )
    assert cycle(import_graph(modules(root, ["verify"]))) is not None


def test_planted_backwards_import_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "reference/__init__.py": "",
            "reference/m.py": "import verify.report.writer\n",
            "verify/__init__.py": "",
            "verify/report/__init__.py": "",
            "verify/report/writer.py": "from verify.run.cli import main\n",
            "verify/run/__init__.py": "",
            "verify/run/cli.py": "def main():\n    pass\n",
        },
    )
    graph = import_graph(modules(root))
    assert forbidden_imports(graph) == [
        "reference.m -> verify.report.writer",
        "verify.report.writer -> verify.run.cli",
    ]


def test_planted_long_module_and_crowded_folder_are_found(tmp_path: Path) -> None:
    files = {"reference/__init__.py": "", "reference/big.py": "x = 1\n" * (MAX_MODULE_LINES + 1)}
    files |= {f"reference/m{i}.py": "" for i in range(MAX_FOLDER_MODULES)}
    found = modules(_tree(tmp_path, files), ["reference"])
    assert long_modules(found) == [
        f"{tmp_path / 'reference/big.py'} ({MAX_MODULE_LINES + 1} lines)"
    ]
    assert crowded_folders(found) == [
        f"{tmp_path / 'reference'} ({MAX_FOLDER_MODULES + 1} modules)"
    ]


def test_planted_claim_without_its_guide_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "verify/claims/rowsum/__init__.py": "",
            "verify/claims/rowsum/claim.py": "",
            "verify/claims/rowsum/bounds.py": "",
        },
    )
    assert incomplete_claims(root) == ["rowsum: no guide.py"]
