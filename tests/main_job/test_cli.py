"""The command line: options, unknown claims, unwritable output, the smoke run end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import verify.__main__
from tests.main_job.cli_process import (
    ROOT,
    session_processes,
    staging_folders,
    start_verify,
    wait_for,
)
from verify.claims import claim_modules, load_all
from verify.claims.base import REGISTRY, CheckResult, ClaimContext, ClaimResult, register
from verify.run.executors import open_executor
from verify.run.interrupts import ExecutorLost
from verify.run.runner import EXIT_OK
from verify.run.staging import parse_owner


def test_unknown_claim_is_one_clear_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "report"
    assert verify.__main__.main(["--only", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "unknown claim 'nope'" in err and "foundation" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [["--smoke", "--thorough"], ["--executor", "dask://nohost"], ["--workers", "0"],
     ["--seed", "-1"]],
)  # fmt: skip
def test_bad_options_exit_2(argv, capsys):
    assert verify.__main__.main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_list_names_every_claim(capsys):
    assert verify.__main__.main(["--list"]) == 0
    assert "foundation:" in capsys.readouterr().out


def test_output_under_a_file_is_unwritable_exit_2_nothing_left(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    code = verify.__main__.main(["--only", "foundation", "--out", str(blocker / "sub" / "report")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot write the report" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_smoke_foundation_end_to_end_on_the_local_pool(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HYPOTHESIS_STORAGE_DIRECTORY", raising=False)
    out = tmp_path / "nested" / "report"
    code = verify.__main__.main(
        ["--smoke", "--only", "foundation", "--out", str(out), "--workers", "2"]
    )
    assert code == EXIT_OK
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nested"]  # no .hypothesis/ here
    results = json.loads((out / "results.json").read_text())
    entry = results["claims"]["foundation"]
    assert results["mode"] == "smoke" and entry["status"] == "passed"
    assert entry["cases"] > 0 and 0 <= entry["worst_ratio"] <= 1
    assert {c["name"] for c in entry["checks"]} >= {
        "relative pattern invariance", "bias-only effect", "gradient vs finite differences",
    }  # fmt: skip
    for figure in entry["figures"]:
        assert (out / figure["path"]).read_bytes()[:4] == b"\x89PNG"
    assert "foundation" in capsys.readouterr().out


# ----------------------------------------------------------------------------- stopping a run
# A default-mode foundation run takes well over 10 s, so a signal sent once its pool worker is up
# always lands mid-run. Each test checks exit code, time to exit, leftover processes and staging.
SLOW_RUN = ["--only", "foundation", "--workers", "1", "--out", "rep"]
EXIT_BOUND = 10.0  # seconds from the signal to the end of the run (and of its processes)


def _started_mid_run(tmp_path):
    proc = start_verify(SLOW_RUN, tmp_path)
    up = wait_for(lambda: len(session_processes(proc.pid)) >= 4, timeout=60)  # + tracker, server
    assert up and staging_folders(tmp_path, "rep"), "the run never reached its pool workers"
    time.sleep(1.0)  # the pool starts its workers just before the first claim: let it begin
    return proc


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_run_stops_cleanly_within_10_s(tmp_path, signum, code):
    proc = _started_mid_run(tmp_path)
    proc.send_signal(signum)
    start = time.monotonic()
    _, err = proc.communicate(timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode == code and elapsed <= EXIT_BOUND
    name = signal.Signals(signum).name
    assert f"interrupted by {name} during claim 'foundation'" in err.splitlines()[-1]
    assert "Traceback" not in err and "Exception ignored" not in err
    assert wait_for(lambda: not session_processes(proc.pid), timeout=EXIT_BOUND - elapsed)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no staging, nothing published


def test_sigkill_mid_run_workers_die_and_next_run_removes_the_staging(tmp_path):
    proc = _started_mid_run(tmp_path)
    stale = staging_folders(tmp_path, "rep")
    assert [parse_owner(p.name, "rep") for p in stale] == [proc.pid]
    proc.kill()
    proc.communicate(timeout=60)
    assert wait_for(lambda: not session_processes(proc.pid), timeout=EXIT_BOUND)
    assert staging_folders(tmp_path, "rep") == stale  # SIGKILL: nothing could clean up
    live = tmp_path / f".rep.partial-{os.getpid()}-0a0b0c0d"  # a live run's folder: kept
    live.mkdir()
    argv = ["--smoke", "--only", "foundation", "--executor", "serial"]
    argv += ["--out", str(tmp_path / "rep")]
    code = verify.__main__.main(argv)
    assert code == EXIT_OK
    assert staging_folders(tmp_path, "rep") == [live]


def test_only_and_out_are_checked_before_any_claim_module_is_imported(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    for argv in (["--only", "nope"], ["--out", str(blocker)]):
        code = (
            "import sys, verify.__main__ as m; code = m.main(sys.argv[1:]); "
            "loaded = [n for n in sys.modules if n.startswith('verify.claims.') "
            "and n != 'verify.claims.base']; "
            "print(loaded); sys.exit(code)"
        )
        run = subprocess.run(
            [sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT
        )
        assert run.returncode == 2 and run.stdout.strip() == "[]", (argv, run.stdout)
        assert len(run.stderr.strip().splitlines()) == 1


def test_each_claim_module_registers_the_claim_of_its_name():
    assert sorted(load_all()) == sorted(claim_modules())


def _swallowing_claim(ctx: ClaimContext) -> ClaimResult:
    """A claim that catches the KeyboardInterrupt of a SIGINT (as a finalizer would lose it)."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)
    except KeyboardInterrupt:
        pass  # swallowed: the run must still stop
    check = CheckResult("c", "s", "x", 1, True, 0.5, kind="bound")
    return ClaimResult(name="swallow", title="t", statement="s", checks=[check])


def test_planted_swallowed_sigint_still_stops_the_run_and_never_publishes(tmp_path, capsys):
    register("swallow", "a claim that swallows Ctrl-C", order=999)(_swallowing_claim)
    try:
        out = tmp_path / "rep"
        argv = ["--only", "swallow", "--executor", "serial", "--out", str(out)]
        assert verify.__main__.main(argv) == 130
    finally:
        REGISTRY.pop("swallow", None)
    err = capsys.readouterr().err.strip().splitlines()
    assert "interrupted by SIGINT during claim 'swallow'" in err[-1]
    assert list(tmp_path.iterdir()) == []  # no report, no staging
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_a_pool_worker_killed_mid_sweep_stops_the_run_as_executor_lost():
    with pytest.raises(ExecutorLost, match="the local process pool broke"):
        with open_executor("local", workers=1) as pool:
            pool.map(os._exit, [3])  # the worker dies as if OOM-killed
