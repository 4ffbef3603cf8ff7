"""The Dask executor: a :class:`distributed.Client` reached within seconds, watched while it runs.

:func:`dask_client` probes the endpoint with a raw socket first (a scheduler speaks first: an
8-byte little-endian length, then a small msgpack dict), so a refusing, silent or non-Dask
endpoint is an :class:`ExecutorError` within ``connect_timeout`` seconds (``distributed``'s own
handshake read has no timeout), and a client that cannot start gives up its I/O loop at once.
:class:`DaskExecutor` stops the run with :class:`verify.run.interrupts.ExecutorLost` when the
scheduler is lost, or when the cluster has no worker while tasks are pending, for
``lost_grace`` seconds (see :func:`probe_dask_scheduler` for an example).
"""

from __future__ import annotations

import functools
import gc
import logging
import random
import socket
import struct
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any

from verify.run.interrupts import ExecutorLost, stop_run

DEFAULT_CONNECT_TIMEOUT = 3.0  # seconds to reach a Dask scheduler and read its handshake
DEFAULT_LOST_GRACE = 3.0  # seconds without scheduler (or without workers, tasks pending)
HANDSHAKE_MAX_BYTES = 1 << 16  # a scheduler's handshake is a small msgpack dict
HANDSHAKE_KEY = b"pickle-protocol"  # a key every distributed handshake carries
POLL_SECONDS = 0.25


class ExecutorError(RuntimeError):
    """The requested executor cannot be used (bad spec, missing package, unreachable cluster)."""


class DaskExecutor(Executor):
    """``submit``/``map`` on a :class:`distributed.Client`. A watcher thread stops the run with
    :class:`ExecutorLost` once the client has been disconnected for ``lost_grace`` seconds,
    whether or not a sweep is running (claims also compute in-process between sweeps), or once
    the cluster has had no worker for ``lost_grace`` seconds while tasks are pending (the
    scheduler would hold them forever)."""

    def __init__(self, client: Any, address: str, *, lost_grace: float) -> None:
        self.client, self.address, self.lost_grace = client, address, lost_grace
        self._closed = threading.Event()
        self._pending: set[Any] = set()  # submitted futures not done yet
        self._pending_lock = threading.Lock()
        self._verdict: ExecutorLost | None = None  # set by the watcher when it stops the run
        self._watcher = threading.Thread(target=self._watch, name="dask-watch", daemon=True)
        self._watcher.start()

    def _lost(self, why: str = "") -> ExecutorLost:
        return ExecutorLost(f"lost the Dask scheduler at {self.address}{why}")

    def _no_workers(self) -> ExecutorLost:
        return ExecutorLost(
            f"the Dask cluster at {self.address} has had no workers for {self.lost_grace:g} s "
            f"with {self.pending_count()} tasks pending"
        )

    def pending_count(self) -> int:
        """How many submitted tasks have not finished."""
        with self._pending_lock:
            return len(self._pending)

    def _worker_count(self) -> int | None:
        """The scheduler's current worker count (``None`` when it cannot be asked)."""
        try:
            return int(self.client.scheduler_info(n_workers=0)["n_workers"])
        except Exception:  # disconnected meanwhile: the status check handles it
            return None

    def _watch(self) -> None:
        down_since: float | None = None
        idle_since: float | None = None  # since when no worker while tasks are pending
        while not self._closed.wait(POLL_SECONDS):
            now = time.monotonic()
            if self.client.status != "running":
                idle_since = None
                down_since = down_since or now
                if now - down_since > self.lost_grace:
                    self._stop(self._lost())
                    return
                continue
            down_since = None
            if not self.pending_count() or self._worker_count() != 0:
                idle_since = None
                continue
            idle_since = idle_since or now
            if now - idle_since > self.lost_grace:
                self._stop(self._no_workers())
                return

    def _stop(self, verdict: ExecutorLost) -> None:
        self._verdict = verdict
        stop_run(verdict)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed.set()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if self.client.status != "running":
            raise self._lost(f" (client {self.client.status})")
        future = self.client.submit(fn, *args, pure=False, **kwargs)
        with self._pending_lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Any) -> None:
        with self._pending_lock:
            self._pending.discard(future)

    def map(self, fn: Callable, *iterables: Iterable, **kwargs: Any) -> Iterator:
        futures = [self.submit(fn, *args) for args in zip(*iterables, strict=True)]
        try:
            return iter([self._result(future) for future in futures])
        finally:
            unfinished = [f for f in futures if not f.done()]
            with self._pending_lock:
                self._pending.difference_update(unfinished)
            if unfinished and self.client.status == "running":
                self.client.cancel(unfinished)

    def _result(self, future: Any) -> Any:
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except TimeoutError:
                if self._verdict is not None:  # also where no signal handler relays it
                    raise ExecutorLost(self._verdict.message) from None
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

    >>> from verify.run.dask_executor import probe_dask_scheduler
    >>> probe_dask_scheduler("tcp://127.0.0.1:1", 1.0)
    Traceback (most recent call last):
    ...
    verify.run.dask_executor.ExecutorError: cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 1 s (ConnectionRefusedError)
    """  # noqa: E501
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a host name IDNA cannot encode
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
def dask_client(address: str, connect_timeout: float) -> Iterator[Any]:
    """A connected :class:`distributed.Client` (see the module docstring), closed afterwards."""
    try:
        Client = _abandoning_client_class()
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


@functools.cache
def _abandoning_client_class() -> type:
    """:class:`distributed.Client` that gives up its I/O loop at once when it cannot start.

    A client whose start fails (an endpoint that sends a Dask handshake and then junk) is
    otherwise closed later by the garbage collector, which waits ``2 × timeout`` seconds for a
    scheduler that will never answer and prints a traceback ("Exception ignored in
    Client.__del__") while the run exits.
    """
    from distributed import Client

    class AbandoningClient(Client):
        def start(self, **kwargs: Any) -> None:
            try:
                super().start(**kwargs)
            except BaseException:
                self.status = "closed"  # close() (and __del__) has nothing left to wait for
                try:
                    self._loop_runner.stop()
                except Exception:  # the loop never started: nothing to stop
                    pass
                raise

    return AbandoningClient


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
        exc = box.pop("error")
        message = f"{what} ({type(exc).__name__}: {exc})".strip()
        # free the failed attempt (its traceback holds a half-open connection) now, while the
        # caller still silences the library's "Closing dangling stream" warning: not chained
        del exc
        gc.collect()
        raise ExecutorError(message)
    return box["value"]
