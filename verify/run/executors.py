"""Where sweeps run: a local process pool, in-process (serial), or a Dask cluster.

:func:`open_executor` is a context manager yielding a :class:`concurrent.futures.Executor`, so a
claim's sweep (``ctx.map(fn, items)``) runs unchanged on any of them. Specs:

* ``"local"`` — a :class:`~concurrent.futures.ProcessPoolExecutor` (``workers`` processes,
  default: the number of CPUs);
* ``"serial"`` — every task runs in the calling process, in order (debugging, tiny runs);
* ``"dask://HOST:PORT"`` — a :class:`distributed.Client` on ``tcp://HOST:PORT``; the workers
  must be able to import this project (:mod:`verify.run.dask_executor`).

Failures are bounded in time and named: an endpoint that refuses, does not answer, or answers
anything but a Dask scheduler's handshake (an HTTP server, junk) raises :class:`ExecutorError`
within ``connect_timeout`` seconds (a raw-socket probe reads the scheduler's handshake before
``distributed`` is involved, whose own handshake read has no timeout). A scheduler lost mid-run,
a Dask cluster left without workers while tasks are pending, or a local pool whose worker died
raises :class:`ExecutorLost` within ``lost_grace`` seconds. Local pool workers die with the main
process (:func:`verify.run.interrupts.worker_initializer`), and leaving :func:`open_executor` by
an exception (Ctrl-C, SIGTERM) terminates them instead of waiting for their tasks.

>>> from verify.run.executors import open_executor
>>> with open_executor("serial") as ex:
...     list(ex.map(abs, [-1, 2]))
[1, 2]
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from verify.run.dask_executor import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_LOST_GRACE,
    DaskExecutor,
    ExecutorError,
    dask_client,
)
from verify.run.interrupts import ExecutorLost, worker_initializer

__all__ = [  # ExecutorError is re-exported: it is part of open_executor's interface
    "ExecutorError",
    "LocalPool",
    "SerialExecutor",
    "is_host_name",
    "max_workers",
    "open_executor",
    "parse_executor_spec",
]

DASK_SPEC = re.compile(r"^dask://(?P<host>[^:/\s]+):(?P<port>\d{1,5})$")
HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")  # one dot-separated part (RFC 1123)
HOST_MAX_CHARS = 253
WORKERS_PER_CPU = 4  # --workers may ask for at most this many processes per available CPU


class SerialExecutor(Executor):
    """Runs each submitted call immediately in the calling process.

    >>> from verify.run.executors import SerialExecutor
    >>> SerialExecutor().submit(pow, 2, 5).result()
    32
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered through the future, as a pool would
            future.set_exception(exc)
        return future


def max_workers() -> int:
    """The most local pool processes a run may ask for: 4 per CPU this process may use (more
    only adds processes waiting for a core, each with its own copy of the libraries).

    >>> from verify.run.executors import max_workers
    >>> max_workers() % 4, max_workers() >= 4
    (0, True)
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return WORKERS_PER_CPU * max(1, cpus)


def parse_executor_spec(spec: str) -> tuple[str, str | None]:
    """Split a spec into ``(kind, address)``: ``("local", None)``, ``("serial", None)`` or
    ``("dask", "tcp://HOST:PORT")``; raise ``ValueError`` for anything else.

    >>> from verify.run.executors import parse_executor_spec
    >>> parse_executor_spec("dask://127.0.0.1:8786")
    ('dask', 'tcp://127.0.0.1:8786')
    """
    if not isinstance(spec, str):
        raise TypeError(f"executor: expected a string, got {type(spec).__name__}")
    if spec in ("local", "serial"):
        return spec, None
    match = DASK_SPEC.match(spec)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ValueError(
            f"executor: expected 'local', 'serial' or 'dask://HOST:PORT', got {spec!r}"
        )
    host = match["host"]
    if not is_host_name(host):
        raise ValueError(
            f"executor: expected a host name or IPv4 address in 'dask://HOST:PORT' (dot-separated "
            f"parts of 1 to 63 letters, digits or '-', at most {HOST_MAX_CHARS} characters), "
            f"got {host!r}"
        )
    return "dask", f"tcp://{host}:{int(match['port'])}"


def is_host_name(host: str) -> bool:
    """Whether ``host`` is a well-formed host name or IPv4 address (checked before any lookup,
    which would raise ``UnicodeError`` for an empty part such as ``a..b``).

    >>> from verify.run.executors import is_host_name
    >>> is_host_name("scheduler.example"), is_host_name("127.0.0.1"), is_host_name("a..b")
    (True, True, False)
    """
    name = host.removesuffix(".")  # a fully qualified name may end with a dot
    return len(name) <= HOST_MAX_CHARS and all(HOST_LABEL.match(p) for p in name.split("."))


@contextmanager
def open_executor(
    spec: str = "local",
    *,
    workers: int | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    lost_grace: float = DEFAULT_LOST_GRACE,
) -> Iterator[Executor]:
    """Yield an executor for ``spec`` and shut it down (or disconnect) afterwards.

    >>> from verify.run.executors import open_executor
    >>> with open_executor("local", workers=1) as ex:
    ...     list(ex.map(abs, [-3]))
    [3]
    """
    kind, address = parse_executor_spec(spec)
    most = max_workers()
    if workers is not None and (
        not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= most
    ):
        raise ValueError(f"workers: expected an integer from 1 to {most}, got {workers!r}")
    if kind == "serial":
        yield SerialExecutor()
    elif kind == "local":
        with _local_pool(workers) as pool:
            yield pool
    else:
        assert address is not None  # parse_executor_spec gives every dask spec its address
        with dask_client(address, connect_timeout) as client:
            executor = DaskExecutor(client, address, lost_grace=lost_grace)
            try:
                yield executor
            finally:
                executor.shutdown()


class LocalPool(ProcessPoolExecutor):
    """A process pool whose ``map`` reports a dead worker as :class:`ExecutorLost`."""

    def map(self, fn: Callable, *iterables: Iterable, **kwargs: Any) -> Iterator:
        try:
            return iter(list(super().map(fn, *iterables, **kwargs)))
        except BrokenExecutor as exc:
            raise ExecutorLost(f"the local process pool broke: {exc}") from exc

    def terminate(self) -> None:
        """Stop now: cancel pending tasks and end every worker (no waiting for running tasks)."""
        processes = list((getattr(self, "_processes", None) or {}).values())
        self.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + 2.0
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)


@contextmanager
def _local_pool(workers: int | None) -> Iterator[LocalPool]:
    # forkserver: no fork of a process that runs threads (rich's refresh thread)
    context = multiprocessing.get_context("forkserver")
    pool = LocalPool(
        max_workers=workers,
        mp_context=context,
        initializer=worker_initializer,
        initargs=(os.getpid(),),
    )
    try:
        # start the workers now, while claims run in-process (``_max_workers``: the pool's
        # resolved worker count, private and not in the stubs)
        for _ in range(pool._max_workers):  # type: ignore[attr-defined]
            pool.submit(int)
        yield pool
    except BaseException:
        pool.terminate()
        raise
    pool.shutdown(wait=True)
