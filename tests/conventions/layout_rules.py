"""The layout rules of the library packages, read off the source tree (no imports executed).

* the import graph between modules has no cycle (imports inside functions and under
  ``TYPE_CHECKING`` count: a lazy import is still a dependency);
* the wings depend one way: ``reference`` never imports ``verify``; in ``verify``, ``run`` →
  ``report`` → ``claims`` (``report`` never imports ``run``, ``claims`` neither); ``verify.derive``
  (the derivations) imports none of ``claims``, ``report``, ``run`` or ``reference`` (the claims
  take their bounds from it);
* no module over :data:`MAX_MODULE_LINES` lines, no folder with more than
  :data:`MAX_FOLDER_MODULES` modules (``__init__.py`` not counted), in the packages and in
  ``tests/`` and ``benchmarks/`` (:data:`SIZED`);
* every claim is a folder ``verify/claims/<name>/`` with its ``claim.py``, ``bounds.py`` and
  ``guide.py``.

``python tests/conventions/layout_rules.py`` prints the numbers (modules per folder, largest module,
cycles).
"""

from __future__ import annotations

import ast
import graphlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("reference", "verify")
SIZED = (*PACKAGES, "tests", "benchmarks")
MAX_MODULE_LINES = 500
MAX_FOLDER_MODULES = 12
#: (importer prefix, forbidden prefix): the one-way dependencies between the wings
FORBIDDEN = (
    ("reference", "verify"),
    ("verify.report", "verify.run"),
    ("verify.claims", "verify.run"),
    ("verify.claims", "verify.report"),
    ("verify.derive", "verify.claims"),
    ("verify.derive", "verify.report"),
    ("verify.derive", "verify.run"),
    ("verify.derive", "reference"),
)
CLAIM_FILES = ("claim.py", "bounds.py", "guide.py")


@dataclass(frozen=True)
class Module:
    name: str  # dotted, packages by their own name (``reference.model``)
    path: Path
    lines: int


def modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Module]:
    """Every ``.py`` file under the packages, by dotted name."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = Module(name, path, len(path.read_text().splitlines()))
    return found


def _imported(module: Module, known: dict[str, Module]) -> set[str]:
    """The project modules ``module`` imports (``from p import m`` counts ``p.m`` when it is a
    module, else ``p``); relative imports are resolved against the module's package."""
    is_package = module.path.name == "__init__.py"
    package = module.name if is_package else module.name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                names.add(full if full in known else base)
    deps = set()
    for name in names:
        while name and name not in known:  # an attribute of a module: the module
            name = name.rpartition(".")[0]
        if name and name != module.name:
            deps.add(name)
    return deps


def import_graph(found: dict[str, Module]) -> dict[str, set[str]]:
    """``module -> modules it imports`` among the project's modules."""
    return {name: _imported(module, found) for name, module in found.items()}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, …, a]``), or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def forbidden_imports(graph: dict[str, set[str]]) -> list[str]:
    """``importer -> imported`` edges against the one-way rules of :data:`FORBIDDEN`."""

    def within(name: str, prefix: str) -> bool:
        return name == prefix or name.startswith(prefix + ".")

    return sorted(
        f"{src} -> {dst}"
        for src, dsts in graph.items()
        for dst in dsts
        for importer, forbidden in FORBIDDEN
        if within(src, importer) and within(dst, forbidden)
    )


def long_modules(found: dict[str, Module], limit: int = MAX_MODULE_LINES) -> list[str]:
    return sorted(f"{m.path} ({m.lines} lines)" for m in found.values() if m.lines > limit)


def folder_sizes(found: dict[str, Module]) -> dict[Path, int]:
    """Modules per folder (``__init__.py`` not counted)."""
    sizes: dict[Path, int] = {}
    for m in found.values():
        if m.path.name != "__init__.py":
            sizes[m.path.parent] = sizes.get(m.path.parent, 0) + 1
    return sizes


def crowded_folders(found: dict[str, Module], limit: int = MAX_FOLDER_MODULES) -> list[str]:
    return sorted(f"{p} ({n} modules)" for p, n in folder_sizes(found).items() if n > limit)


def incomplete_claims(root: Path) -> list[str]:
    """Claim folders missing one of :data:`CLAIM_FILES`."""
    claims = root / "verify" / "claims"
    return sorted(
        f"{folder.name}: no {name}"
        for folder in claims.iterdir()
        if (folder / "__init__.py").is_file()
        for name in CLAIM_FILES
        if not (folder / name).is_file()
    )


def main(root: Path) -> None:
    found = modules(root)
    graph = import_graph(found)
    for folder, count in sorted(folder_sizes(modules(root, SIZED)).items()):
        print(f"{count:3d}  {folder.relative_to(root)}/")
    largest = max(found.values(), key=lambda m: m.lines)
    print(f"modules: {len(found)}; largest: {largest.path.relative_to(root)} ({largest.lines})")
    print(f"cycle: {cycle(graph)}; forbidden imports: {forbidden_imports(graph)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
