"""Clean stops: SIGINT (Ctrl-C) and SIGTERM end a run the same way, and workers never outlive it.

* :func:`handle_signals` turns SIGINT and SIGTERM into :class:`Interrupted` in the main thread
  (a :class:`KeyboardInterrupt`, so every ``except Exception`` lets it through). A signal that
  arrives while Python runs a finalizer is printed as "Exception ignored" and lost; the handler
  therefore also records it, and :func:`checkpoint` (called between claims, on every progress
  message and before publishing) raises it again: a signal is never swallowed.
* :func:`in_claim` names the claim a stop happened in.
* Publishing is never cut in half: :func:`deferred_signals` holds SIGINT/SIGTERM back while the
  report is swapped in, and :func:`mark_published` records it, so a signal from then on says
  the report *was* published (:attr:`Interrupted.published`). ``handle_signals(until_exit=True)``
  (the command line) leaves SIGINT and SIGTERM ignored instead of restoring the default
  handlers: the run is over and its exit status stands, so a signal in the last moments of the
  process (while Python shuts down, when it no longer runs Python handlers) is never a death by
  the signal (−15) or a traceback.
* :func:`worker_initializer` runs in every process-pool worker: it ignores SIGINT (the parent
  decides when workers end), asks Linux to kill the worker when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``) and watches the main process's pid, exiting when it is gone.

>>> import signal
>>> from verify.run.interrupts import exit_code_for_signal
>>> exit_code_for_signal(signal.SIGINT), exit_code_for_signal(signal.SIGTERM)
(130, 143)
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_INTERVAL = 0.5  # seconds between checks that the main process is alive
HANDLED = (signal.SIGINT, signal.SIGTERM)


def exit_code_for_signal(signum: int) -> int:
    """The shell convention ``128 + signal number``: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + int(signum)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by ``signum``; ``claim`` names the claim that was running (or None).

    A :class:`KeyboardInterrupt`, so ``except Exception`` blocks (and Hypothesis, which would
    otherwise treat it as a failing example and shrink it) let it through at once.
    """

    def __init__(self, signum: int, claim: str | None = None) -> None:
        super().__init__(signum, claim)
        self.signum = int(signum)
        self.claim = claim
        self.published = _STATE.published  # the report folder, if it was published already

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    def __str__(self) -> str:
        where = f" during claim '{self.claim}'" if self.claim else ""
        return f"interrupted by {self.signal_name}{where}"


class ExecutorLost(Interrupted):
    """The executor went away mid-run (a Dask scheduler lost, a pool worker killed): the run
    stops like an interrupt, and ``claim`` names the claim that was running."""

    def __init__(self, message: str, claim: str | None = None) -> None:
        super().__init__(signal.SIGINT, claim)
        self.message = message
        self.args = (message, claim)

    def __str__(self) -> str:
        where = f" during claim '{self.claim}'" if self.claim else ""
        return f"{self.message}{where}"


class _State:
    received: int | None = None  # the first signal received in this run, if any
    lost: ExecutorLost | None = None  # set by a watcher thread when the executor went away
    installed: bool = False
    deferring: bool = False  # inside deferred_signals(): record signals, raise them afterwards
    published: str | None = None  # where this run published its report, once it did


_STATE = _State()


def _handler(signum: int, frame: Any) -> None:
    if _STATE.deferring:  # checkpoint() raises it when the deferring block ends
        if _STATE.lost is None:
            _STATE.received = _STATE.received or signum
        return
    if _STATE.lost is not None:  # raised on the main thread's behalf by stop_run()
        raise ExecutorLost(_STATE.lost.message)
    _STATE.received = signum
    raise Interrupted(signum)


def stop_run(lost: ExecutorLost) -> None:
    """From any thread: stop the run with ``lost`` (raised in the main thread at once when
    :func:`handle_signals` is active, else at the next :func:`checkpoint`)."""
    _STATE.lost = lost
    if _STATE.installed:
        _thread.interrupt_main(signal.SIGINT)


@contextmanager
def handle_signals(*, until_exit: bool = False) -> Iterator[None]:
    """Within the block SIGINT and SIGTERM raise :class:`Interrupted` (main thread only;
    elsewhere a no-op). The previous handlers are restored afterwards, or, with
    ``until_exit`` (a process that ends right after the block), the signals are left ignored
    (Python restores the default action of its own handlers when it shuts down, not of an
    ignored signal)."""
    if threading.current_thread() is not threading.main_thread() or _STATE.installed:
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in HANDLED}
    previous_hook = sys.unraisablehook

    def quiet_lost_interrupts(unraisable: Any) -> None:
        # an Interrupted raised inside a finalizer or gc callback cannot propagate: it is
        # recorded in _STATE and raised again at the next checkpoint, so say nothing here
        if not isinstance(unraisable.exc_value, Interrupted):
            previous_hook(unraisable)

    _STATE.received, _STATE.lost, _STATE.installed, _STATE.published = None, None, True, None
    sys.unraisablehook = quiet_lost_interrupts
    for sig in HANDLED:
        signal.signal(sig, _handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_IGN if until_exit else handler)
        sys.unraisablehook = previous_hook
        _STATE.received, _STATE.lost, _STATE.installed, _STATE.published = None, None, False, None


@contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGINT and SIGTERM recorded but not raised during the block, raised when it ends
    normally: an operation that must not be cut in half (publishing). (A flag, not a signal
    mask: the kernel may deliver a signal to any thread, and Python runs the handler in the
    main thread regardless.)"""
    outer = _STATE.deferring
    _STATE.deferring = True
    try:
        yield
    finally:
        _STATE.deferring = outer
    if not outer:
        checkpoint()  # a signal that came during the block


def mark_published(out: object) -> None:
    """Record that the report is published at ``out``: a later :class:`Interrupted` says so."""
    if _STATE.installed:
        _STATE.published = str(out)


def checkpoint() -> None:
    """Raise :class:`Interrupted` if a signal arrived (even one whose exception was lost), or
    :class:`ExecutorLost` if the executor went away."""
    if _STATE.lost is not None:
        raise ExecutorLost(_STATE.lost.message)
    if _STATE.received is not None:
        raise Interrupted(_STATE.received)


def checked(callback: Callable[[str], None]) -> Callable[[str], None]:
    """``callback`` preceded by a :func:`checkpoint` (used for the claims' progress messages)."""

    def call(message: str) -> None:
        checkpoint()
        callback(message)

    return call


@contextmanager
def in_claim(name: str) -> Iterator[None]:
    """Checkpoints around the block; an :class:`Interrupted` raised inside it is told the
    claim's name."""
    try:
        checkpoint()
        yield
        checkpoint()
    except KeyboardInterrupt as exc:
        if not isinstance(exc, Interrupted):  # a SIGINT outside handle_signals (library use)
            raise Interrupted(signal.SIGINT, name) from exc
        exc.claim = exc.claim or name
        raise


# ----------------------------------------------------------------------------- pool workers
def _set_parent_death_signal(signum: int) -> bool:
    """Linux: deliver ``signum`` to this process when its parent dies. False elsewhere."""
    import ctypes  # here: the command line imports this module before anything else

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_main(main_pid: int, interval: float) -> None:
    from verify.run.staging import pid_alive

    while pid_alive(main_pid):
        time.sleep(interval)
    os._exit(1)


def worker_initializer(main_pid: int) -> None:
    """Initializer of every local pool worker (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_parent_death_signal(signal.SIGKILL)
    threading.Thread(
        target=_watch_main, args=(main_pid, WATCH_INTERVAL), name="watch-main", daemon=True
    ).start()
