"""No bound is typed in: every module-level sympy expression of a claim's bounds module is a
derivation's result or a labelled premise, and every derivation checks.

The labelling is the assignment itself: ``NAME = derived("<derivation>")``,
``statement("<derivation>")``, ``premise("<derivation>:<premise>")`` or ``chosen(value,
"why")`` (a number the suite chooses: a tolerance, never a bound). Symbols are exempt. Every
definition premise names a test (``tests/…py::test_…``) that must exist.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import sympy as sp

from verify.derive import DerivationError, derivation, derivation_names, register
from verify.derive.__main__ import main
from verify.derive.engine import Derivation

ROOT = Path(__file__).resolve().parents[2]
LABELS = ("derived", "statement", "premise", "chosen")
#: bounds modules helper U is still converting (issue 15): skipped by name until done
BOUNDS = sorted(
    str(p.relative_to(ROOT))
    for pattern in ("verify/claims/*/bounds.py", "verify/claims/*/decoder_bounds.py")
    for p in ROOT.glob(pattern)
)


def unlabelled(module: ModuleType, source: str) -> list[str]:
    """Module-level sympy expressions of ``module`` not assigned from a label call."""
    problems = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        for name in names:
            obj = getattr(module, name, None)
            if not isinstance(obj, sp.Basic) or isinstance(obj, sp.Symbol):
                continue
            labelled = (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Name)
                and value.func.id in LABELS
                and bool(value.args)
            )
            if not labelled:
                problems.append(f"{name} (line {node.lineno}) is typed in, not derived or labelled")
    return problems


@pytest.mark.parametrize("path", BOUNDS)
def test_bounds_modules_take_every_expression_from_a_derivation(path: str) -> None:
    name = path.removesuffix(".py").replace("/", ".")
    module = importlib.import_module(name)
    assert unlabelled(module, (ROOT / path).read_text()) == []


def test_a_planted_typed_in_bound_is_flagged(tmp_path: Path) -> None:
    source = (
        "import sympy as sp\n"
        "from verify.derive import derived\n"
        "K = sp.Symbol('K', positive=True)\n"
        "RANK = derived('efficiency.rank')\n"
        "ERROR = 1 / K  # typed in\n"
    )
    path = tmp_path / "planted_bounds.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("planted_bounds", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert unlabelled(module, source) == ["ERROR (line 5) is typed in, not derived or labelled"]


def _node_exists(node_id: str) -> bool:
    path, _, rest = node_id.partition("::")
    file = ROOT / path
    if not file.is_file():
        return False
    wanted = rest.split("::")[-1].split("[")[0]
    tree = ast.parse(file.read_text())
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == wanted
        for n in ast.walk(tree)
    )


CLAIMS = sorted({name.partition(".")[0] for name in derivation_names()})


@pytest.mark.parametrize("claim", CLAIMS)
def test_every_derivation_checks_and_every_definition_names_an_existing_test(claim: str) -> None:
    missing = []
    for name in (n for n in derivation_names() if n.startswith(f"{claim}.")):
        built = derivation(name)  # raises DerivationError if a step does not check
        assert built.steps, name
        for p in built.premises:
            if p.kind == "definition" and not _node_exists(str(p.test)):
                missing.append(f"{name}:{p.name} -> {p.test}")
            if p.kind == "lemma":
                assert p.proof or p.source, f"{name}:{p.name} neither proved nor cited"
    assert missing == []


def test_a_missing_test_node_is_detected() -> None:
    assert _node_exists(
        "tests/conventions/test_derivations.py::test_a_missing_test_node_is_detected"
    )
    assert not _node_exists("tests/conventions/test_derivations.py::test_no_such_test")
    assert not _node_exists("tests/no_such_file.py::test_x")


def test_command_line_lists_prints_and_fails_by_exit_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == derivation_names()
    assert main(["efficiency.rank"]) == 0
    assert "[evaluate]" in capsys.readouterr().out
    assert main(["efficiency.rank", "--latex"]) == 0
    assert r"\begin{align*}" in capsys.readouterr().out
    assert main(["no.such"]) == 2
    assert capsys.readouterr().out.strip().startswith("unknown derivation: 'no.such'")

    x = sp.Symbol("x", positive=True)

    def broken() -> Derivation:
        return Derivation("demo.broken", claim="demo", goal="g", quantity=x).start(x).equal(2 * x)

    register("demo.broken", "a derivation with a wrong step")(broken)
    try:
        derivation.cache_clear()
        assert main(["demo.broken"]) == 1
        assert "step 2 (equal)" in capsys.readouterr().out
        with pytest.raises(DerivationError):
            derivation("demo.broken")
    finally:
        from verify.derive import registry

        registry._BUILDERS.pop("demo.broken")
        registry._SUMMARIES.pop("demo.broken")
        derivation.cache_clear()


def test_the_derive_room_imports_only_sympy_and_the_standard_library() -> None:
    allowed = {"sympy", "verify"} | set(sys.stdlib_module_names)
    for path in (ROOT / "verify" / "derive").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            for name in names:
                top = name.split(".")[0]
                assert top in allowed, f"{path}: imports {name}"
                if top == "verify":
                    assert name.startswith("verify.derive"), f"{path}: imports {name}"
