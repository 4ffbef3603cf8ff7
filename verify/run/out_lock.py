"""One run at a time per report folder: a lock file ``.<out>.lock`` beside ``--out``.

The lock is an advisory ``flock`` on the file, which records the owner's pid for the message a
second run prints. The kernel releases a ``flock`` when its owner dies, however it dies, so a lock
file left by a killed run (``kill -9``, power loss) is simply taken over by the next run; the
owner removes the file when it is done. A second run into the same ``--out`` while the first is
alive is refused at once (:class:`verify.run.staging.ReportError`, exit 2), before it runs any
claim.

>>> import tempfile
>>> from pathlib import Path
>>> from verify.run.out_lock import lock_path, out_locked
>>> parent = Path(tempfile.mkdtemp())
>>> with out_locked(parent / "report") as path:
...     path.read_text().strip().isdigit()
True
>>> lock_path(parent / "report").exists()  # removed on exit
False
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class OutLocked(RuntimeError):
    """Another live run holds the lock of this ``--out`` (``owner``: its pid, if recorded)."""

    def __init__(self, out: Path, owner: int | None) -> None:
        who = f"another run (pid {owner})" if owner is not None else "another run"
        super().__init__(
            f"{who} is writing the report to {out}; wait for it to finish or choose another --out"
        )
        self.owner = owner


def lock_path(out: Path) -> Path:
    """The lock file of ``out``: ``.<name>.lock`` in the same folder."""
    out = Path(out)
    return out.parent / f".{out.name}.lock"


def _recorded_owner(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def live_owner(out: Path) -> int | None:
    """The pid recorded by the live run holding the lock of ``out``, without taking it or
    creating anything (``None`` when no live run holds it; ``-1`` when one does but recorded no
    pid). :func:`out_locked` is the real test; this one lets a run be refused before it starts.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from verify.run.out_lock import live_owner
    >>> live_owner(Path(tempfile.mkdtemp()) / "report") is None
    True
    """
    try:
        fd = os.open(lock_path(out), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = _recorded_owner(fd)
        return -1 if owner is None else owner
    finally:
        os.close(fd)  # closing drops a lock we may have taken
    return None


@contextmanager
def out_locked(out: Path) -> Iterator[Path]:
    """Hold the lock of ``out`` for the block (its parent folder must exist); raise
    :class:`OutLocked` at once if a live run holds it."""
    path = lock_path(out)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _recorded_owner(fd)
            os.close(fd)
            raise OutLocked(Path(out), owner) from None
        except BaseException:
            os.close(fd)
            raise
        # the previous owner may have removed the file between our open and our lock: then we
        # hold a lock on a file nobody else sees, and must lock the one now at ``path``
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        mine = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        try:
            os.unlink(path)  # while still holding the lock (a waiting run then re-checks)
        except OSError:
            pass
        os.close(fd)
