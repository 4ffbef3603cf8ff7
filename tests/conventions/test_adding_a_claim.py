"""docs/adding-a-claim.md's example is real: ruff-clean as written, an unused order, no
placeholders, and the claim and its planted-violation test run."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from verify.claims import load_all
from verify.claims.base import REGISTRY, ClaimContext

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "adding-a-claim.md"
FOLDER = "verify/claims/rowsum"
#: the claim folder's files, in the order they import each other
FILES = ("__init__.py", "bounds.py", "checks.py", "claim.py", "guide.py", "test_properties.py")


def example_files() -> dict[str, str]:
    """The page's ```python blocks, keyed by the path on their first line."""
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    return {block.splitlines()[0].removeprefix("# ").strip(): block for block in blocks}


def test_the_example_is_one_claim_folder_with_no_placeholders() -> None:
    files = example_files()
    assert set(files) == {f"{FOLDER}/{name}" for name in FILES}
    text = "\n".join(files.values())
    assert "..." not in text and "mytopic" not in text and "TODO" not in text
    assert "CheckResult.from_outcome(" in text and "kind=" in text and "def test_planted_" in text


def test_the_example_passes_ruff_as_written(tmp_path: Path) -> None:
    paths = []
    for name, code in example_files().items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
        paths.append(str(path))
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(ROOT / "pyproject.toml"), *paths],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def example_modules():
    load_all()
    used = {claim.order for claim in REGISTRY.values()}
    names = {f"{FOLDER}/{name}": f"verify.claims.rowsum.{name[:-3]}" for name in FILES}
    names[f"{FOLDER}/__init__.py"] = "verify.claims.rowsum"
    files = example_files()
    modules = {}
    try:
        for path in names:  # a package module each, importable by the next ones
            module = types.ModuleType(names[path])
            if path.endswith("__init__.py"):
                module.__path__ = []
            sys.modules[names[path]] = module
            exec(compile(files[path], path, "exec"), module.__dict__)
            modules[path] = module
        yield modules, used
    finally:
        REGISTRY.pop("rowsum", None)
        for name in names.values():
            sys.modules.pop(name, None)


def test_the_example_claim_runs_with_an_unused_order_and_its_planted_test_passes(
    example_modules, tmp_path: Path
) -> None:
    modules, used_orders = example_modules
    claim = REGISTRY["rowsum"]
    assert claim.order not in used_orders
    result = claim.run(ClaimContext(figure_dir=tmp_path, mode="smoke"))
    assert result.passed and [c.kind for c in result.checks] == ["bound"]
    assert (tmp_path / result.figures[0].filename).is_file()
    assert modules[f"{FOLDER}/guide.py"].GUIDE.docs.startswith("adding-a-claim.md#")
    tests = modules[f"{FOLDER}/test_properties.py"]
    tests.test_row_sums_hold()
    tests.test_planted_unnormalised_softmax_is_caught()


def test_the_example_folder_meets_the_layout_rules(tmp_path: Path) -> None:
    from tests.conventions.layout_rules import incomplete_claims

    for name, code in example_files().items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    assert incomplete_claims(tmp_path) == []
