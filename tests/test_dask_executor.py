"""Sweeps on a real Dask cluster (``distributed.LocalCluster``), and an unreachable scheduler."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

distributed = pytest.importorskip("distributed")

import verify.__main__  # noqa: E402
from verify.claims.base import ClaimContext  # noqa: E402
from verify.claims.foundation import sweep_point  # noqa: E402
from verify.executors import ExecutorError, open_executor  # noqa: E402


def _cube(x: int) -> int:
    return x**3


@pytest.fixture(scope="module")
def dask_spec() -> Iterator[str]:
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield cluster.scheduler_address.replace("tcp://", "dask://")
    finally:
        cluster.close()


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
