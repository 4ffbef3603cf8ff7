"""Progress of a report run on stderr: rich's live display on a terminal, one plain line per
claim started and finished (with elapsed time) otherwise (CI logs, ``nohup``, a pipe).

>>> import io
>>> from rich.console import Console
>>> from verify.run.progress import claim_progress
>>> log = io.StringIO()
>>> with claim_progress(Console(file=log), total=1) as progress:
...     progress.start("foundation")
...     progress.step("sweep")
...     progress.finish("foundation", "passed", 2.0)
>>> print(log.getvalue(), end="")  # doctest: +ELLIPSIS
[1/1] foundation: started (elapsed ... s)
[1/1] foundation: passed in 2.0 s (elapsed ... s)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class ClaimProgress(Protocol):
    """What the runner reports: a claim starts, reports steps, finishes with a status."""

    def start(self, name: str) -> None: ...

    def step(self, message: str) -> None: ...

    def finish(self, name: str, status: str, seconds: float) -> None: ...


class PlainProgress:
    """One flushed line per claim started and finished; steps are not printed."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total, self.done = console, total, 0
        self.began = time.perf_counter()

    def _line(self, text: str) -> None:
        elapsed = time.perf_counter() - self.began
        print(f"[{self.done + 1}/{self.total}] {text} (elapsed {elapsed:.1f} s)",
              file=self.console.file, flush=True)  # fmt: skip

    def start(self, name: str) -> None:
        self._line(f"{name}: started")

    def step(self, message: str) -> None:
        """Steps stay off a log: one line per claim start and finish."""

    def finish(self, name: str, status: str, seconds: float) -> None:
        self._line(f"{name}: {status} in {seconds:.1f} s")
        self.done += 1


class LiveProgress:
    """rich's progress bar: the claim, its current step, claims done, elapsed time."""

    COLUMNS = (
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[claim]}[/bold] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} claims"),
        TimeElapsedColumn(),
    )

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.task = progress.add_task("", total=total, claim="")

    def start(self, name: str) -> None:
        self.progress.update(self.task, claim=name, description="starting")

    def step(self, message: str) -> None:
        self.progress.update(self.task, description=message)

    def finish(self, name: str, status: str, seconds: float) -> None:
        self.progress.update(self.task, advance=1, description=f"{status} ({seconds:.1f} s)")


@contextmanager
def claim_progress(console: Console, total: int) -> Iterator[ClaimProgress]:
    """The live display when ``console`` is a terminal, plain lines otherwise."""
    if not console.is_terminal:
        yield PlainProgress(console, total)
        return
    with Progress(*LiveProgress.COLUMNS, console=console, transient=False) as progress:
        yield LiveProgress(progress, total)
