"""Dask faults that used to hang or linger: the only worker dies, a server fakes the handshake.

Each test measures the time to the end of the run and checks its exit code and last line.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("distributed")

from tests.main_job.cli_process import (
    ROOT,
    session_processes,
    staging_folders,
    start_verify,
    wait_for,
)
from tests.main_job.dask_cluster import (
    dask_cluster_process,
    dask_worker_process,
    fake_scheduler,
    read_handshake,
)
from verify.run.executors import ExecutorError, open_executor
from verify.run.interrupts import ExecutorLost

EXIT_BOUND = 10.0  # seconds from the fault to the end of the run
GRACE = 1.0  # lost_grace of the in-process tests


def _slow_square(x: int) -> int:
    time.sleep(2.0)
    return x * x


def test_the_only_worker_dying_mid_map_is_executor_lost_within_seconds():
    with dask_cluster_process(worker=False) as (_, spec), dask_worker_process(spec) as worker:
        with open_executor(spec, lost_grace=GRACE) as executor:
            assert list(executor.map(abs, [-2])) == [2]  # the worker serves
            threading.Timer(0.5, worker.kill).start()
            start = time.monotonic()
            with pytest.raises(ExecutorLost, match="has had no workers for 1 s with 4 tasks"):
                executor.map(_slow_square, range(4))
            elapsed = time.monotonic() - start
    assert elapsed <= EXIT_BOUND, elapsed


def test_no_workers_while_idle_is_not_a_fault():
    with dask_cluster_process(worker=False) as (_, spec):
        with open_executor(spec, lost_grace=GRACE) as executor:
            time.sleep(3 * GRACE)  # no task pending: nothing is waiting for a worker
            assert executor.pending_count() == 0
            with dask_worker_process(spec):
                assert list(executor.map(abs, [-5, 6])) == [5, 6]


def test_cli_run_whose_only_worker_dies_exits_3_naming_the_unfinished_claims(tmp_path):
    with dask_cluster_process(worker=False) as (_, spec), dask_worker_process(spec) as worker:
        argv = ["--smoke", "--only", "foundation", "--executor", spec, "--out", "rep"]
        proc = start_verify(argv, tmp_path)
        assert wait_for(lambda: staging_folders(tmp_path, "rep"), timeout=60)
        time.sleep(1.0)  # connected, inside the claim
        worker.kill()
        start = time.monotonic()
        _, err = proc.communicate(timeout=120)
        elapsed = time.monotonic() - start
    print(f"only worker killed: exit {proc.returncode} in {elapsed:.1f} s after the kill")
    # the smoke claim computes in-process for a few seconds before its sweep needs a worker
    assert proc.returncode == 3 and elapsed <= 30.0, (proc.returncode, elapsed, err)
    last = err.strip().splitlines()[-1]
    assert "has had no workers for 3 s" in last and "claims not finished: foundation" in last
    assert "Traceback" not in err
    assert wait_for(lambda: not session_processes(proc.pid), timeout=EXIT_BOUND)
    assert list(tmp_path.iterdir()) == []


def test_a_fake_handshake_fails_in_seconds_with_one_line_and_exits_promptly(tmp_path):
    with dask_cluster_process() as (_, real_spec):
        handshake = read_handshake(real_spec)
    with fake_scheduler(handshake) as spec:
        start = time.monotonic()
        with pytest.raises(ExecutorError, match="cannot connect to the Dask scheduler"):
            with open_executor(spec, connect_timeout=1.0):
                pass
        assert time.monotonic() - start <= EXIT_BOUND
        start = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "verify", "--smoke", "--only", "foundation",
             "--executor", spec, "--out", str(tmp_path / "rep")],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
        elapsed = time.monotonic() - start
    print(f"fake handshake: exit {run.returncode} in {elapsed:.1f} s (process start to exit)")
    assert run.returncode == 2 and elapsed <= EXIT_BOUND, (run.returncode, elapsed, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect to the Dask scheduler" in lines[0], lines
    assert list(tmp_path.iterdir()) == []
