"""The report runner: exit codes, results.json schema, atomic publication, bad output folders.

Tiny fake claims are registered for the duration of a test (and removed afterwards); one of
them is deliberately FALSIFIED, the planted violation for the report itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import strategies as st
from rich.console import Console

import verify.__main__
import verify.report.markdown
import verify.report.writer
import verify.run.staging
from verify.claims import load_all
from verify.claims.base import (
    REGISTRY,
    CheckResult,
    Claim,
    ClaimContext,
    ClaimResult,
    FigureResult,
    register,
)
from verify.claims.properties import FALSIFYING_CASE, Observation, run_property
from verify.run.runner import EXIT_CLAIM_ERROR, EXIT_FALSIFIED, EXIT_OK, generate_report
from verify.run.staging import ReportError

TOP_KEYS = {
    "schema_version", "tool", "started_at", "wall_seconds", "git_commit", "git_dirty", "seed",
    "mode", "executor", "workers", "python", "platform", "environment", "status", "exit_code",
    "summary_figure", "claims",
}  # fmt: skip
CLAIM_KEYS = {
    "name", "title", "order", "status", "seconds", "statement", "cases", "worst_ratio", "checks",
    "figures", "tables", "notes", "error",
}  # fmt: skip
CHECK_KEYS = {
    "name", "statement", "bound_latex", "cases", "passed", "worst_ratio", "counterexample",
    "details", "kind",
}  # fmt: skip


def _square(x: float) -> float:
    return x * x


def _property_claim(name: str, bound: float) -> ClaimResult:
    outcome = run_property(
        name, st.floats(0.0, 2.0), lambda x: Observation(x, bound, "x"), max_examples=30
    )
    check = CheckResult.from_outcome(
        "x stays below the bound", f"x <= {bound}", rf"x \le {bound}", outcome
    )
    return ClaimResult(name, f"fake {name}", f"statement of {name}", checks=[check])


def fake_pass(ctx: ClaimContext) -> ClaimResult:
    result = _property_claim("fake-pass", bound=2.0)
    squares = ctx.map(_square, [1.0, 2.0, 3.0])
    result.tables["squares"] = [{"x": x, "x^2": y} for x, y in zip([1, 2, 3], squares, strict=True)]
    (ctx.figure_dir / "fake.png").write_bytes(b"not really a png")
    result.figures.append(FigureResult("fake.png", "a fake figure"))
    return result


def fake_falsified(ctx: ClaimContext) -> ClaimResult:
    return _property_claim("fake-falsified", bound=1.0)  # x in [0, 2] breaks x <= 1


def fake_error(ctx: ClaimContext) -> ClaimResult:
    raise RuntimeError("boom from a fake claim")


FAKES = {"fake-pass": fake_pass, "fake-falsified": fake_falsified, "fake-error": fake_error}


@pytest.fixture
def fake_claims() -> Iterator[dict]:
    load_all()
    for order, (name, run) in enumerate(FAKES.items()):
        register(name, f"fake claim {name}", order=1000 + order)(run)
    try:
        yield {name: REGISTRY[name] for name in FAKES}
    finally:
        for name in FAKES:
            REGISTRY.pop(name, None)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_passing_claim_exits_0_and_writes_the_documented_schema(fake_claims, tmp_path, capsys):
    out = tmp_path / "report"
    code = verify.__main__.main(["--only", "fake-pass", "--out", str(out), "--executor", "serial"])
    assert code == EXIT_OK
    results = json.loads((out / "results.json").read_text())
    assert set(results) == TOP_KEYS
    assert results["schema_version"] == 1 and results["status"] == "passed"
    entry = results["claims"]["fake-pass"]
    assert set(entry) == CLAIM_KEYS and entry["status"] == "passed" and entry["error"] is None
    assert set(entry["checks"][0]) == CHECK_KEYS and entry["cases"] == 30
    assert entry["tables"]["squares"][2] == {"x": 3, "x^2": 9.0}
    assert (out / entry["figures"][0]["path"]).is_file()
    index = (out / "index.md").read_text()
    assert "statement of fake-pass" in index and r"x \le 2.0" in index
    assert "](figures/fake.png)" in index and "verified" in index
    assert "fake-pass" in capsys.readouterr().out
    assert _leftovers(tmp_path) == []


def test_planted_falsified_claim_exits_1_with_its_counterexample(fake_claims, tmp_path, capsys):
    out = tmp_path / "report"
    code = verify.__main__.main(
        ["--only", "fake-falsified", "--only", "fake-pass", "--out", str(out), "--seed", "5",
         "--executor", "serial"]
    )  # fmt: skip
    assert code == EXIT_FALSIFIED
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "falsified" and results["exit_code"] == EXIT_FALSIFIED
    check = results["claims"]["fake-falsified"]["checks"][0]
    assert not check["passed"] and check["worst_ratio"] > 1
    assert FALSIFYING_CASE.search(check["counterexample"])
    assert results["claims"]["fake-pass"]["status"] == "passed"
    printed = capsys.readouterr().out
    assert "FALSIFIED" in printed and FALSIFYING_CASE.search(printed)
    assert "python -m verify --only fake-falsified --seed 5" in printed
    assert "**FALSIFIED**" in (out / "index.md").read_text()


@pytest.mark.parametrize("exact", [True, False])
def test_a_broken_zero_bound_is_reported_as_inf_never_as_exact(tmp_path, exact):
    # a count that must equal its formula (exact) or an error under a bound of 0: x = 1 breaks it
    outcome = run_property(
        "zero bound", st.just(1.0), lambda x: Observation(x, 0.0, "x", exact=exact), max_examples=1
    )
    check = CheckResult.from_outcome("x is zero", "x = 0", "x = 0", outcome)
    assert not check.passed and check.worst_ratio == float("inf")

    def broken(ctx: ClaimContext) -> ClaimResult:
        return ClaimResult("fake-zero", "fake zero", "x = 0", checks=[check])

    claim = Claim("fake-zero", "fake zero", broken)
    out = tmp_path / "r"
    result = generate_report([claim], out=out, mode="smoke", executor_spec="serial")
    entry = result.results["claims"]["fake-zero"]
    assert entry["status"] == "falsified" and entry["checks"][0]["worst_ratio"] == "inf"
    index = (out / "index.md").read_text()
    assert "exact" not in index.split("## fake zero", 1)[1]
    assert "| **FALSIFIED** | 1 | inf |" in index
    console = Console(record=True, width=120)
    console.print(verify.report.writer.summary_table(result.results))
    summary = console.export_text()
    assert " inf " in summary and "exact" not in summary


def test_a_failed_check_without_a_ratio_is_inf_not_exact():
    check = CheckResult("counts", "rows = formula", "", cases=1, passed=False)
    assert check.worst_ratio == float("inf") and check.to_json()["worst_ratio"] == "inf"
    assert CheckResult("counts", "rows = formula", "", cases=1, passed=True).worst_ratio is None


def test_an_exact_check_that_holds_is_reported_as_exact():
    outcome = run_property(
        "zero", st.just(0.0), lambda x: Observation(x, 0.0, "x", exact=True), max_examples=1
    )
    assert outcome.passed and outcome.exact
    check = CheckResult.from_outcome("x is zero", "x = 0", "", outcome)
    assert (
        check.worst_ratio is None
        and verify.report.markdown.ratio_text(check.worst_ratio) == "exact"
    )


def test_a_raising_claim_is_an_error_and_the_others_still_run(fake_claims, tmp_path, capsys):
    out = tmp_path / "report"
    code = verify.__main__.main(
        ["--only", "fake-error", "--only", "fake-pass", "--out", str(out), "--executor", "serial"]
    )
    assert code == EXIT_CLAIM_ERROR
    results = json.loads((out / "results.json").read_text())
    error = results["claims"]["fake-error"]["error"]
    assert results["claims"]["fake-error"]["status"] == "error"
    assert error["type"] == "RuntimeError" and "boom from a fake claim" in error["traceback"]
    assert results["claims"]["fake-pass"]["status"] == "passed"
    assert "ERROR" in capsys.readouterr().out


def test_falsified_wins_over_error_in_the_exit_code(fake_claims, tmp_path):
    outcome = generate_report(
        list(fake_claims.values()), out=tmp_path / "r", mode="smoke", executor_spec="serial"
    )
    assert outcome.exit_code == EXIT_FALSIFIED
    assert [e["status"] for e in outcome.results["claims"].values()] == [
        "passed", "falsified", "error",
    ]  # fmt: skip


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_parent_exit_2_nothing_left(fake_claims, tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        code = verify.__main__.main(["--only", "fake-pass", "--out", str(parent / "report")])
    finally:
        parent.chmod(0o700)
    assert code == 2 and list(parent.iterdir()) == []
    assert "cannot write the report" in capsys.readouterr().err


def test_an_existing_folder_that_is_not_a_report_is_never_replaced(fake_claims, tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    assert verify.__main__.main(["--only", "fake-pass", "--out", str(out)]) == 2
    assert (out / "thesis.tex").read_text() == "years of work"
    assert "refusing to replace" in capsys.readouterr().err
    assert _leftovers(tmp_path) == []


def test_failure_mid_write_keeps_the_old_report_and_leaves_no_temp_dir(
    fake_claims, tmp_path, monkeypatch
):
    out = tmp_path / "report"
    claims = [fake_claims["fake-pass"]]
    generate_report(claims, out=out, mode="smoke", executor_spec="serial")
    before = _snapshot(out)

    def broken_render(results: dict) -> str:  # results.json is already written at this point
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(verify.report.writer, "render_index", broken_render)
    with pytest.raises(ReportError, match="No space left"):  # an environment error: exit 2
        generate_report(claims, out=out, mode="smoke", seed=1, executor_spec="serial")
    assert _snapshot(out) == before
    assert _leftovers(tmp_path) == []


def test_failed_swap_restores_the_old_report(fake_claims, tmp_path, monkeypatch):
    out = tmp_path / "report"
    claims = [fake_claims["fake-pass"]]
    generate_report(claims, out=out, mode="smoke", executor_spec="serial")
    before = _snapshot(out)
    real_rename = os.rename
    calls = []

    def rename_failing_on_swap(src, dst):
        calls.append((Path(src).name, Path(dst).name))
        if ".partial-" in Path(src).name:
            raise OSError(5, "Input/output error")
        real_rename(src, dst)

    monkeypatch.setattr(verify.run.staging.os, "rename", rename_failing_on_swap)
    # the publish without renameat2 (not Linux, or a file system without it): rename aside, swap
    monkeypatch.setattr(verify.run.staging, "_renameat2", lambda *args: None)
    with pytest.raises(ReportError, match="Input/output error"):
        generate_report(claims, out=out, mode="smoke", seed=2, executor_spec="serial")
    assert len(calls) == 3  # aside, failed swap, restore
    assert _snapshot(out) == before
    assert _leftovers(tmp_path) == []


def test_a_second_run_replaces_the_previous_report(fake_claims, tmp_path):
    out = tmp_path / "report"
    claims = [fake_claims["fake-pass"]]
    generate_report(claims, out=out, mode="smoke", seed=1, executor_spec="serial")
    generate_report(claims, out=out, mode="smoke", seed=2, executor_spec="serial")
    assert json.loads((out / "results.json").read_text())["seed"] == 2
    assert _leftovers(tmp_path) == []


def test_attainment_and_planted_checks_never_set_the_claim_worst_ratio() -> None:
    from verify.claims.base import CheckResult, ClaimResult

    claim = ClaimResult("c", "t", "s")
    claim.checks = [
        CheckResult("b", "s", "", 10, True, 0.25),
        CheckResult("a", "s", "", 5, True, 1.0, kind="attainment"),
        CheckResult("p", "s", "", 3, True, None, kind="planted"),
    ]
    assert claim.worst_ratio == 0.25 and claim.cases == 10
    with pytest.raises(ValueError, match="kind"):
        CheckResult("x", "s", "", 1, True, 0.1, kind="evidence")


def test_an_integer_inequality_is_an_exact_check_and_its_plant_still_fails() -> None:
    """``degree_monotone`` compares two degrees: it holds or not. It reports kind ``exact`` and
    no ratio (never "bound, worst ratio 0"), and its planted degree table is still caught."""
    from verify.claims.efficiency import report_checks

    _, statement, latex, strategy, check, plant = next(
        p for p in report_checks.PROPERTIES if p[0] == "degree_monotone"
    )
    held = run_property("degree_monotone", strategy(None), check, max_examples=8, rng_seed=0)
    assert held.exact and held.passed
    result = CheckResult.from_outcome("degree_monotone", statement, latex, held, kind="exact")
    assert result.worst_ratio is None
    # the plant as a property: falsified, with an infinite (not a fractional) ratio
    broken = run_property("d", strategy(None), plant, max_examples=200, rng_seed=0)
    assert not broken.passed and broken.worst_ratio == float("inf")


def test_the_efficiency_guide_quotes_the_bound_the_checks_use() -> None:
    from verify.claims.efficiency import bounds
    from verify.claims.efficiency.guide import GUIDE, bound_text

    assert bound_text(bounds.OUTPUT_ERROR) in GUIDE.shows
    assert "‖V‖_max" not in GUIDE.shows  # the superseded 2ε/(1−ε)·‖V‖_max
    assert bound_text(bounds.OUTPUT_ERROR_LOOSE) not in GUIDE.shows
