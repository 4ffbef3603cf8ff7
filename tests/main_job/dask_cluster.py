"""A throw-away Dask cluster in its own process, for the executor tests.

``python tests/main_job/dask_cluster.py`` starts a scheduler and one in-process worker (two threads)
on 127.0.0.1, prints ``dask://HOST:PORT`` on one line and serves until its stdin closes or it is
killed. Keeping the cluster out of the test process matters: an in-process scheduler and worker use
the global ``random`` module from their threads while Hypothesis draws in the main thread, which
Hypothesis reports as "Do not use the random module inside strategies".
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def dask_cluster_process() -> Iterator[tuple[subprocess.Popen, str]]:
    """Start the cluster process; yield it and its ``dask://`` spec; stop it afterwards."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        text=True,
    )
    try:
        spec = proc.stdout.readline().strip()
        if not spec.startswith("dask://"):
            raise RuntimeError(f"the Dask cluster process did not start (printed {spec!r})")
        yield proc, spec
    finally:
        proc.kill()
        proc.communicate(timeout=10)  # reaps it and closes its pipes


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    print(cluster.scheduler_address.replace("tcp://", "dask://"), flush=True)
    sys.stdin.read()  # serve until the test closes our stdin (or kills us)
    cluster.close()


if __name__ == "__main__":
    main()
