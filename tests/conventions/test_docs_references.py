"""Every file and module the docs name in backticks exists: a move that forgets a docs page fails.

Checked in README.md and docs/*.md, inside `code spans`: repository paths
(``reference/…``, ``verify/…``, ``tests/…``, ``benchmarks/…``; with ``::name``, a test or class
that file defines), dotted names under ``reference``
and ``verify`` (a module, then attributes), and bare module file names (``layout.py``: some
file of the project has that name). Placeholders (``<claim>``) and globs are skipped, and so is
the example claim folder of docs/adding-a-claim.md (``verify/claims/rowsum/``), which the docs
show as files to add.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
EXAMPLE = "verify/claims/rowsum"  # docs/adding-a-claim.md: the folder a reader adds
SPAN = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"(?<![\w/.])((?:reference|verify|tests|benchmarks)/[\w/.-]*)")
DOTTED = re.compile(r"(?<![\w./])((?:reference|verify)(?:\.\w+)+)")
BARE_FILE = re.compile(r"^(\w+\.py)(?::.*)?$")
TEST_NAME = re.compile(r"((?:tests|verify)/[\w/]+\.py)::(\w+)")


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def stale_references(page: Path, root: Path = ROOT) -> list[str]:
    """``page:line: what`` for every named path, module or file that does not exist."""
    text = page.read_text()
    names = {p.name for p in root.rglob("*.py") if ".asv" not in p.parts}
    stale = []
    for span in SPAN.finditer(text):
        line = text.count("\n", 0, span.start()) + 1
        token = span.group(1)
        for path in PATH.findall(token):
            path = path.rstrip(".,:;)")
            if path.startswith(EXAMPLE) or (root / path).exists():
                continue
            stale.append(f"{page.name}:{line}: no file {path}")
        for dotted in DOTTED.findall(token):
            if not dotted.startswith(EXAMPLE.replace("/", ".")) and not _resolves(dotted):
                stale.append(f"{page.name}:{line}: no module or name {dotted}")
        for path, name in TEST_NAME.findall(token):
            file = root / path
            if file.exists() and not re.search(
                rf"^\s*(?:def|class) {name}\b", file.read_text(), re.M
            ):
                stale.append(f"{page.name}:{line}: no {name} in {path}")
        bare = BARE_FILE.match(token.strip())
        if bare and bare.group(1) not in names:
            stale.append(f"{page.name}:{line}: no file named {bare.group(1)}")
    return stale


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_named_file_and_module_exists(page: Path) -> None:
    assert stale_references(page) == []


def test_planted_stale_references_are_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "See `reference/construction.py`, `reference.polynomial_attention.plan`,\n"
        "`verify.claims.base.NoSuchName` and `construction_layout.py`; but "
        "`reference/model/attention.py`, `reference.fast_attention` and `layout.py` exist.\n"
        "`tests/conventions/test_layout.py::test_gone` is stale, "
        "`tests/conventions/test_layout.py::test_no_import_cycle_between_modules` is not.\n"
    )
    assert stale_references(page) == [
        "page.md:1: no file reference/construction.py",
        "page.md:1: no module or name reference.polynomial_attention.plan",
        "page.md:2: no module or name verify.claims.base.NoSuchName",
        "page.md:2: no file named construction_layout.py",
        "page.md:3: no test_gone in tests/conventions/test_layout.py",
    ]
