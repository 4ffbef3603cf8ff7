"""A throw-away Dask cluster in its own process, for the executor tests.

``python tests/main_job/dask_cluster.py`` starts a scheduler and one in-process worker (two threads)
on 127.0.0.1, prints ``dask://HOST:PORT`` on one line and serves until its stdin closes or it is
killed. Keeping the cluster out of the test process matters: an in-process scheduler and worker use
the global ``random`` module from their threads while Hypothesis draws in the main thread, which
Hypothesis reports as "Do not use the random module inside strategies".

``python tests/main_job/dask_cluster.py --no-worker`` starts the scheduler alone; then
:func:`dask_worker_process` adds one worker in a process of its own, which a test can kill.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def dask_cluster_process(*, worker: bool = True) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start the cluster process (without its in-process worker if ``worker`` is false); yield
    it and its ``dask://`` spec; stop it afterwards."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *([] if worker else ["--no-worker"])],
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


@contextmanager
def dask_worker_process(spec: str) -> Iterator[subprocess.Popen]:
    """One Dask worker (one thread, no nanny to restart it) in its own process, connected to the
    scheduler at ``spec``; yielded once it has registered, killed afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", spec.replace("dask://", "tcp://"),
         "--nthreads", "1", "--no-nanny", "--no-dashboard"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        text=True,
    )  # fmt: skip
    try:
        for line in proc.stderr:  # the worker logs to stderr; stop reading once it registered
            if "Registered to" in line:
                break
        else:
            raise RuntimeError("the Dask worker process exited before registering")
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep the pipe drained
        yield proc
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def read_handshake(spec: str, timeout: float = 5.0) -> bytes:
    """The first message a scheduler sends on a new connection (8-byte length, then the body)."""
    host, port = spec.removeprefix("dask://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        head = _read(sock, 8)
        return head + _read(sock, struct.unpack("<Q", head)[0])


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("closed by the peer")
        data += chunk
    return data


@contextmanager
def fake_scheduler(handshake: bytes) -> Iterator[str]:
    """A listener on 127.0.0.1 that greets every connection with a real scheduler's
    ``handshake``, then sends a malformed message and stays silent; yields its ``dask://`` spec."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop, connections = threading.Event(), []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            connections.append(conn)
            try:
                conn.sendall(handshake + struct.pack("<Q", 16) + bytes(16))  # 16 zero bytes
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"dask://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in connections:
            conn.close()
        server.close()


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=0 if "--no-worker" in sys.argv[1:] else 1,
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
