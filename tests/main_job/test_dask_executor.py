"""Sweeps on a real Dask cluster (in its own process), and every way an executor can fail:
refused, silent or non-Dask listener, junk answers, a scheduler lost mid-run."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

distributed = pytest.importorskip("distributed")

import verify.__main__  # noqa: E402
from tests.main_job.cli_process import session_processes, staging_folders, start_verify, wait_for  # noqa: E402
from tests.main_job.dask_cluster import dask_cluster_process  # noqa: E402
from verify.claims.base import ClaimContext  # noqa: E402
from verify.claims.foundation.claim import sweep_point  # noqa: E402
from verify.run.executors import ExecutorError, open_executor  # noqa: E402

EXIT_BOUND = 10.0  # seconds: every executor failure ends the run within this


def _cube(x: int) -> int:
    return x**3


@pytest.fixture(scope="module")
def dask_spec() -> Iterator[str]:
    with dask_cluster_process() as (_, spec):
        yield spec


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_executor_maps_on_the_cluster(dask_spec):
    with open_executor(dask_spec) as executor:
        assert list(executor.map(_cube, range(5))) == [0, 1, 8, 27, 64]


def test_a_claim_sweep_runs_unchanged_on_dask(dask_spec, tmp_path):
    items = [(1.0, 4, 11), (10.0, 16, 12)]
    with open_executor(dask_spec) as executor:
        ctx = ClaimContext(figure_dir=tmp_path, executor=executor)
        rows = ctx.map(sweep_point, items)
    assert rows == [sweep_point(item) for item in items]  # same numbers as in-process
    assert all(row["pattern_error"] <= 1e-12 for row in rows)


def test_cli_smoke_run_on_dask(dask_spec, tmp_path, capsys):
    out = tmp_path / "report"
    code = verify.__main__.main(
        ["--smoke", "--only", "foundation", "--executor", dask_spec, "--out", str(out)]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["executor"] == dask_spec and results["status"] == "passed"


def test_unreachable_scheduler_fails_fast_with_one_clear_line(tmp_path, capsys):
    spec = f"dask://127.0.0.1:{_free_port()}"
    start = time.perf_counter()
    with pytest.raises(ExecutorError, match="cannot reach the Dask scheduler"):
        with open_executor(spec, connect_timeout=1.0):
            pass
    assert time.perf_counter() - start < 10

    out = tmp_path / "report"
    argv = ["--only", "foundation", "--executor", spec, "--out", str(out)]
    assert verify.__main__.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the Dask scheduler" in err[0]
    assert list(tmp_path.iterdir()) == []


@contextmanager
def _listener(serve) -> Iterator[str]:
    """A TCP listener on 127.0.0.1 running ``serve(connection)`` per connection; yields its spec."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                serve(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"dask://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        server.close()


def _junk(conn: socket.socket) -> None:
    conn.sendall(b"\xff" * 64)  # announces a 16 EiB message


@pytest.fixture
def http_spec() -> Iterator[str]:
    """A real HTTP server (``python -m http.server``'s handler) on a free port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"dask://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("listener", "message"),
    [("http", "is not a Dask scheduler: no handshake"), ("junk", "its first message announces")],
)  # fmt: skip
def test_a_listener_that_is_not_dask_fails_within_10_s_with_one_line(
    listener, message, request, tmp_path, capsys
):
    def run(spec: str) -> None:
        out = tmp_path / "report"
        start = time.monotonic()
        code = verify.__main__.main(["--smoke", "--only", "foundation", "--executor", spec,
                                     "--out", str(out)])  # fmt: skip
        assert code == 2 and time.monotonic() - start <= EXIT_BOUND
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        assert list(tmp_path.iterdir()) == []

    if listener == "http":
        run(request.getfixturevalue("http_spec"))
    else:
        with _listener(_junk) as spec:
            run(spec)


def test_a_scheduler_lost_mid_run_is_exit_3_naming_the_unfinished_claims(tmp_path):
    with dask_cluster_process() as (cluster, spec):
        proc = start_verify(["--only", "foundation", "--executor", spec, "--out", "rep"], tmp_path)
        assert wait_for(lambda: staging_folders(tmp_path, "rep"), timeout=60)
        time.sleep(1.5)  # connected, inside the claim
        cluster.kill()
        start = time.monotonic()
        _, err = proc.communicate(timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode == 3 and elapsed <= EXIT_BOUND, (proc.returncode, elapsed, err)
    last = err.strip().splitlines()[-1]
    assert "lost the Dask scheduler" in last and "claims not finished: foundation" in last
    assert "Traceback" not in err
    assert wait_for(lambda: not session_processes(proc.pid), timeout=EXIT_BOUND)
    assert list(tmp_path.iterdir()) == []
