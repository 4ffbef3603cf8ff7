"""Runs into one ``--out``: a second live run is refused (exit 2, naming the owner's pid), a lock
left by a dead run is taken over, the lock is removed on exit, and publishing stays atomic when
many publishers race (``out`` always exists and is a complete report; no ``.old-*`` or staging
left)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import verify.__main__
import verify.run.staging as staging_module
from tests.main_job.cli_process import session_processes, staging_folders, start_verify, wait_for
from verify.run.out_lock import lock_path, out_locked
from verify.run.staging import TOOL, publish

SMOKE = ["--smoke", "--only", "foundation", "--executor", "serial"]
EXIT_BOUND = 10.0


def _previous_report(out: Path) -> str:
    out.mkdir(parents=True)
    text = json.dumps({"tool": TOOL, "marker": "the previous report"})
    (out / "results.json").write_text(text)
    return text


def test_a_run_into_a_locked_out_is_refused_at_once_naming_the_owner(tmp_path, capsys):
    out = tmp_path / "rep"
    before = _previous_report(out)
    with out_locked(out):
        start = time.monotonic()
        code = verify.__main__.main([*SMOKE, "--out", str(out)])
        elapsed = time.monotonic() - start
    err = capsys.readouterr().err.strip().splitlines()
    print(f"locked --out: exit {code} in {elapsed:.2f} s")
    assert code == 2 and len(err) == 1 and f"another run (pid {os.getpid()})" in err[0], err
    assert elapsed <= EXIT_BOUND
    assert (out / "results.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # our lock is gone too


def test_a_lock_left_by_a_dead_run_is_taken_over_and_removed(tmp_path, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    out = tmp_path / "rep"
    lock_path(out).write_text(f"{dead}\n")  # as left by a run killed with SIGKILL
    assert verify.__main__.main([*SMOKE, "--out", str(out)]) == 0
    assert (out / "results.json").is_file()
    assert not lock_path(out).exists()


def test_two_concurrent_cli_runs_into_one_out_the_second_is_refused(tmp_path):
    before = _previous_report(tmp_path / "rep")
    first = start_verify(["--only", "foundation", "--executor", "serial", "--out", "rep"], tmp_path)
    assert wait_for(lambda: staging_folders(tmp_path, "rep"), timeout=60)
    start = time.monotonic()
    second = start_verify([*SMOKE, "--out", "rep"], tmp_path)
    _, err = second.communicate(timeout=60)
    elapsed = time.monotonic() - start
    print(f"second run into a busy --out: exit {second.returncode} in {elapsed:.1f} s")
    assert second.returncode == 2 and elapsed <= EXIT_BOUND, (second.returncode, err)
    assert err.strip().splitlines() == [
        f"error: another run (pid {first.pid}) is writing the report to rep; wait for it to "
        "finish or choose another --out"
    ]
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=60)
    assert first.returncode == 143
    assert wait_for(lambda: not session_processes(first.pid), timeout=EXIT_BOUND)
    assert (tmp_path / "rep" / "results.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no lock, no staging


# ----------------------------------------------------------------------------- publish race
PUBLISHERS, PUBLISHES = 4, 60


def _publish_many(parent: str, worker: int, count: int, without_renameat2: bool = False) -> int:
    """``count`` publishes of complete reports into ``parent/rep``; returns the failures."""
    if without_renameat2:  # PLANT: the rename-aside publish, which leaves ``out`` missing a moment
        staging_module._renameat2_function = lambda: None
    failures = 0
    for i in range(count):
        staging = Path(parent) / f".rep.partial-{os.getpid()}-{worker:04x}{i:04x}"
        staging.mkdir()
        (staging / "results.json").write_text(json.dumps({"tool": TOOL, "by": [worker, i]}))
        try:
            publish(staging, Path(parent) / "rep")
        except OSError:
            failures += 1
    return failures


def _race(tmp_path: Path, without_renameat2: bool = False) -> tuple[int, list[float]]:
    """The publish failures and the moments ``out`` was missing while publishers raced."""
    out = tmp_path / "rep"
    _previous_report(out)
    missing = []  # moments at which ``out`` did not exist (never, if every swap is atomic)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if not out.is_dir():
                missing.append(time.monotonic())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    context = multiprocessing.get_context("spawn")
    with context.Pool(PUBLISHERS) as pool:
        jobs = [(str(tmp_path), w, PUBLISHES, without_renameat2) for w in range(PUBLISHERS)]
        failures = pool.starmap(_publish_many, jobs)
    stop.set()
    watcher.join()
    print(f"{PUBLISHERS * PUBLISHES} racing publishes: {sum(failures)} failed, "
          f"out missing {len(missing)} times")  # fmt: skip
    return sum(failures), missing


def test_publishing_is_atomic_under_a_race_of_many_publishers(tmp_path):
    failures, missing = _race(tmp_path)
    assert failures == 0 and missing == []
    out = tmp_path / "rep"
    assert json.loads((out / "results.json").read_text())["tool"] == TOOL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no .old-*, no staging


def test_planted_rename_aside_publish_is_caught_by_the_race_test(tmp_path):
    failures, missing = _race(tmp_path, without_renameat2=True)
    assert failures > 0 or missing  # ``out`` vanished (or a swap failed) under the race


def test_without_renameat2_publishing_renames_aside_and_cleans_up(tmp_path, monkeypatch):
    monkeypatch.setattr(staging_module, "_renameat2_function", lambda: None)
    out = tmp_path / "rep"
    _previous_report(out)
    staging = tmp_path / ".rep.partial-1-0a0b0c0d"
    staging.mkdir()
    (staging / "results.json").write_text("the new report")
    publish(staging, out)
    assert (out / "results.json").read_text() == "the new report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]
