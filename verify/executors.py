"""Where sweeps run: a local process pool, in-process (serial), or a Dask cluster.

:func:`open_executor` is a context manager yielding a :class:`concurrent.futures.Executor`, so a
claim's sweep (``ctx.map(fn, items)``) runs unchanged on any of them. Specs:

* ``"local"`` — a :class:`~concurrent.futures.ProcessPoolExecutor` (``workers`` processes,
  default: the number of CPUs);
* ``"serial"`` — every task runs in the calling process, in order (debugging, tiny runs);
* ``"dask://HOST:PORT"`` — ``distributed.Client("tcp://HOST:PORT").get_executor()``; the workers
  must be able to import this project. An unreachable scheduler raises :class:`ExecutorError`
  after ``connect_timeout`` seconds.

>>> from verify.executors import open_executor
>>> with open_executor("serial") as ex:
...     list(ex.map(abs, [-1, 2]))
[1, 2]
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

DEFAULT_CONNECT_TIMEOUT = 3.0  # seconds to reach a Dask scheduler before giving up
DASK_SPEC = re.compile(r"^dask://(?P<host>[^:/\s]+):(?P<port>\d{1,5})$")


class ExecutorError(RuntimeError):
    """The requested executor cannot be used (bad spec, missing package, unreachable cluster)."""


class SerialExecutor(Executor):
    """Runs each submitted call immediately in the calling process.

    >>> from verify.executors import SerialExecutor
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

    >>> from verify.executors import parse_executor_spec
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
) -> Iterator[Executor]:
    """Yield an executor for ``spec`` and shut it down (or disconnect) afterwards.

    >>> from verify.executors import open_executor
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
        # forkserver: no fork of a process that runs threads (rich's refresh thread)
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            yield pool
    else:
        with _dask_client(address, connect_timeout) as client:
            yield client.get_executor()


@contextmanager
def _dask_client(address: str, connect_timeout: float) -> Iterator[Any]:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ExecutorError(
            "the Dask executor needs the 'distributed' package "
            "(pip install 'prompt-tuning-limits[distributed]')"
        ) from exc
    try:
        client = Client(address, timeout=connect_timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ExecutorError(
            f"cannot reach the Dask scheduler at {address} within {connect_timeout:g} s "
            f"({type(exc).__name__})"
        ) from exc
    try:
        yield client
    finally:
        client.close()
