"""Where sweeps run: a local process pool, in-process (serial), or a Dask cluster.

:func:`open_executor` is a context manager yielding a :class:`concurrent.futures.Executor`, so a
claim's sweep (``ctx.map(fn, items)``) runs unchanged on any of them. Specs:

* ``"local"`` — a :class:`~concurrent.futures.ProcessPoolExecutor` (``workers`` processes,
  default: the number of CPUs);
* ``"serial"`` — every task runs in the calling process, in order (debugging, tiny runs);
* ``"dask://HOST:PORT"`` — a :class:`distributed.Client` on ``tcp://HOST:PORT``; the workers
  must be able to import this project.

Failures are bounded in time and named: an endpoint that refuses, does not answer, or answers
anything but a Dask scheduler's handshake (an HTTP server, junk) raises :class:`ExecutorError`
within ``connect_timeout`` seconds (a raw-socket probe reads the scheduler's handshake before
``distributed`` is involved, whose own handshake read has no timeout). A scheduler lost mid-run,
or a local pool whose worker died, raises :class:`ExecutorLost` from ``map`` within
``lost_grace`` seconds. Local pool workers die with the main process
(:func:`verify.run.interrupts.worker_initializer`), and leaving :func:`open_executor` by an
exception (Ctrl-C, SIGTERM) terminates them instead of waiting for their tasks.

>>> from verify.run.executors import open_executor
>>> with open_executor("serial") as ex:
...     list(ex.map(abs, [-1, 2]))
[1, 2]
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import random
import re
import socket
import struct
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from verify.run.interrupts import ExecutorLost, stop_run, worker_initializer

DEFAULT_CONNECT_TIMEOUT = 3.0  # seconds to reach a Dask scheduler and read its handshake
DEFAULT_LOST_GRACE = 3.0  # seconds a Dask client may be disconnected before the run stops
DASK_SPEC = re.compile(r"^dask://(?P<host>[^:/\s]+):(?P<port>\d{1,5})$")
HANDSHAKE_MAX_BYTES = 1 << 16  # a scheduler's handshake is a small msgpack dict
HANDSHAKE_KEY = b"pickle-protocol"  # a key every distributed handshake carries
POLL_SECONDS = 0.25


class ExecutorError(RuntimeError):
    """The requested executor cannot be used (bad spec, missing package, unreachable cluster)."""


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
    return "dask", f"tcp://{match['host']}:{int(match['port'])}"


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
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers: expected an integer >= 1, got {workers!r}")
    if kind == "serial":
        yield SerialExecutor()
    elif kind == "local":
        with _local_pool(workers) as pool:
            yield pool
    else:
        assert address is not None  # parse_executor_spec gives every dask spec its address
        with _dask_client(address, connect_timeout) as client:
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


class DaskExecutor(Executor):
    """``submit``/``map`` on a :class:`distributed.Client`. A watcher thread stops the run with
    :class:`ExecutorLost` once the client has been disconnected for ``lost_grace`` seconds,
    whether or not a sweep is running (claims also compute in-process between sweeps)."""

    def __init__(self, client: Any, address: str, *, lost_grace: float) -> None:
        self.client, self.address, self.lost_grace = client, address, lost_grace
        self._closed = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="dask-watch", daemon=True)
        self._watcher.start()

    def _lost(self, why: str = "") -> ExecutorLost:
        return ExecutorLost(f"lost the Dask scheduler at {self.address}{why}")

    def _watch(self) -> None:
        down_since: float | None = None
        while not self._closed.wait(POLL_SECONDS):
            if self.client.status == "running":
                down_since = None
                continue
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since > self.lost_grace:
                stop_run(self._lost())
                return

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed.set()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if self.client.status != "running":
            raise self._lost(f" (client {self.client.status})")
        return self.client.submit(fn, *args, pure=False, **kwargs)

    def map(self, fn: Callable, *iterables: Iterable, **kwargs: Any) -> Iterator:
        futures = [self.submit(fn, *args) for args in zip(*iterables, strict=True)]
        try:
            return iter([self._result(future) for future in futures])
        finally:
            if self.client.status == "running":
                self.client.cancel([f for f in futures if not f.done()])

    def _result(self, future: Any) -> Any:
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except TimeoutError:
                continue
            except Exception as exc:
                cancelled = type(exc).__name__ in ("CancelledError", "FutureCancelledError")
                if cancelled or self.client.status != "running":
                    raise self._lost(f" ({type(exc).__name__})") from exc
                raise


def probe_dask_scheduler(address: str, timeout: float) -> None:
    """Read a Dask scheduler's handshake from ``tcp://HOST:PORT`` within ``timeout`` seconds.

    A scheduler speaks first: an 8-byte little-endian length, then a small msgpack dict. Raises
    :class:`ExecutorError` naming what was found instead (refused, silence, junk).

    >>> from verify.run.executors import probe_dask_scheduler
    >>> probe_dask_scheduler("tcp://127.0.0.1:1", 1.0)
    Traceback (most recent call last):
    ...
    verify.run.executors.ExecutorError: cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s (ConnectionRefusedError)
    """  # noqa: E501
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except OSError as exc:
        raise ExecutorError(
            f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
            f"({type(exc).__name__})"
        ) from exc
    with sock:
        try:
            head = _recv_exactly(sock, 8, deadline)
            (size,) = struct.unpack("<Q", head)
            if not 0 < size <= HANDSHAKE_MAX_BYTES:
                raise ExecutorError(
                    f"{address} is not a Dask scheduler: its first message announces "
                    f"{size} bytes (a handshake is a few hundred)"
                )
            body = _recv_exactly(sock, size, deadline)
        except TimeoutError as exc:
            raise ExecutorError(
                f"{address} is not a Dask scheduler: no handshake within {timeout:g} s "
                "(something listens there but does not speak Dask's protocol)"
            ) from exc
        except OSError as exc:
            raise ExecutorError(
                f"{address} is not a Dask scheduler: the connection failed during the handshake "
                f"({type(exc).__name__})"
            ) from exc
    if HANDSHAKE_KEY not in bytes(body):
        raise ExecutorError(f"{address} is not a Dask scheduler: its handshake is not Dask's")


def _recv_exactly(sock: socket.socket, size: int, deadline: float) -> bytes:
    chunks, remaining = [], size
    while remaining:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(min(remaining, 1 << 16))
        if not chunk:
            raise ConnectionResetError("closed by the peer")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


@contextmanager
def _dask_client(address: str, connect_timeout: float) -> Iterator[Any]:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ExecutorError(
            "the Dask executor needs the 'distributed' package "
            "(pip install 'prompt-tuning-limits[distributed]')"
        ) from exc
    _isolate_dask_randomness()
    probe_dask_scheduler(address, connect_timeout)
    with _quiet_loggers("distributed", "tornado", "asyncio"):
        client = _within(
            connect_timeout + 2.0,
            lambda: Client(address, timeout=connect_timeout, set_as_default=False),
            f"cannot connect to the Dask scheduler at {address}",
        )
        _isolate_dask_randomness()  # again: modules the client imported lazily
        try:
            yield client
        finally:
            try:
                client.close(timeout=2)
            except Exception:  # a lost scheduler: nothing left to disconnect from
                pass


@contextmanager
def _quiet_loggers(*prefixes: str) -> Iterator[None]:
    """Silence library loggers and their children (a lost scheduler makes ``distributed`` log
    reconnect attempts and tracebacks on stderr); the run reports the failure in one line."""
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in prefixes]
    loggers = [logging.getLogger(name) for name in {*prefixes, *names}]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _isolate_dask_randomness() -> None:
    """Give the loaded ``dask``/``distributed`` modules a private copy of the ``random`` module.

    They use the global ``random`` from the client's I/O thread (``dask.sizeof`` samples long
    lists, reconnects draw a backoff), which races with Hypothesis drawing examples in the main
    thread; Hypothesis then warns "Do not use the random module inside strategies". The copy has
    every function of ``random`` bound to its own generator, so the global state is untouched.
    """
    private = _private_random_module()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("dask", "distributed") and getattr(module, "random", None) is (
            random
        ):
            module.random = private  # type: ignore[attr-defined]  # its own global, seen above


@functools.cache
def _private_random_module() -> types.ModuleType:
    private = types.ModuleType("random", "the random module bound to a private generator")
    private.__dict__.update(random.__dict__)
    generator = random.Random()
    for name, value in random.__dict__.items():
        if getattr(value, "__self__", None) is random._inst:
            setattr(private, name, getattr(generator, name))
    return private


def _within(seconds: float, make: Callable[[], Any], what: str) -> Any:
    """``make()`` in a daemon thread with a hard deadline; any failure becomes ExecutorError."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = make()
        except BaseException as exc:  # MemoryError on junk frames, protocol errors, ...
            box["error"] = exc

    thread = threading.Thread(target=run, name="dask-connect", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise ExecutorError(f"{what}: no answer within {seconds:g} s")
    if "error" in box:
        exc = box["error"]
        raise ExecutorError(f"{what} ({type(exc).__name__}: {exc})".strip()) from exc
    return box["value"]
