"""The report's staging folder: next to ``--out``, owned by one process, swapped in atomically.

A run builds its report in ``.<out>.partial-<pid>-<token>`` beside the target and swaps it into
place only when it is complete (:func:`publish`: one atomic ``renameat2(RENAME_EXCHANGE)`` on
Linux, so ``out`` is at every instant the complete old or the complete new report). The owning
process id is part of the folder's name, so a later run can tell a folder of a live run from one
left by a run that was killed (``kill -9``, power loss): :func:`remove_stale_staging` deletes the
latter before a new run starts. A run holds the lock of its ``out``
(:mod:`verify.run.out_lock`) from staging to publishing: a second run into the same ``out`` is
refused. :func:`check_out` refuses, before anything runs, every ``out`` the publish would fail
on (a file, a non-report folder, an unwritable parent, ``.``/``..``, a NUL byte, a name too long
for the file system once the staging suffix is added).

>>> from verify.run.staging import parse_owner
>>> parse_owner(".report.partial-4242-1a2b3c4d", "report")
4242
>>> parse_owner(".report.partial-xyz", "report") is None
True
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
import re
import secrets
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from verify.run.out_lock import OutLocked, live_owner, out_locked

TOOL = "prompt-tuning-limits verify"
FIGURE_DIR = "figures"
LEGACY_STALE_SECONDS = 3600.0  # staging folders without an owner pid: stale after an hour
TOKEN_HEX = 8  # hex digits of a staging folder's random token
MIN_FREE_BYTES = 16 * 2**20  # a full report (figures, tables, docs copy) takes a few MiB
NAME_MAX = 255  # bytes of one path part on Linux file systems (a smaller limit is asked for)
REPORT_CONTENT_BYTES = 128  # the report's own files lie at most this far below its folder
AT_FDCWD, RENAME_NOREPLACE, RENAME_EXCHANGE = -100, 1, 2  # linux/fcntl.h, linux/fs.h


class ReportError(RuntimeError):
    """The report cannot be written where asked (one-line message, exit code 2)."""


def staging_prefix(out: Path) -> str:
    """The name prefix of every staging folder of ``out``: ``.<name>.partial-``."""
    return f".{Path(out).name}.partial-"


def parse_owner(folder_name: str, out_name: str) -> int | None:
    """The owner pid encoded in a staging folder's name, or ``None`` (not ours / legacy name)."""
    match = re.fullmatch(re.escape(f".{out_name}.partial-") + r"(\d+)-[0-9a-f]+", folder_name)
    return int(match[1]) if match else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a killed, not yet reaped process).

    >>> import os
    >>> from verify.run.staging import pid_alive
    >>> pid_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: existence is all we know
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def remove_stale_staging(out: Path) -> list[Path]:
    """Delete the staging folders of ``out`` whose owner process is dead; return them.

    Folders of live runs are kept. Folders with a name from before owner pids were recorded are
    removed once they are older than :data:`LEGACY_STALE_SECONDS`, and so are the backups
    ``.<out>.old-*`` a publish without ``renameat2`` leaves when it is killed halfway.
    """
    out = Path(out)
    parent = out.parent
    if not parent.is_dir():
        return []
    removed = []
    for backup in parent.glob(f".{out.name}.old-*"):
        if backup.is_dir() and not backup.is_symlink():
            try:
                stale = time.time() - backup.stat().st_mtime > LEGACY_STALE_SECONDS
            except OSError:
                continue
            if stale:
                shutil.rmtree(backup, ignore_errors=True)
                removed.append(backup)
    for folder in parent.glob(staging_prefix(out) + "*"):
        if not folder.is_dir() or folder.is_symlink():
            continue
        pid = parse_owner(folder.name, out.name)
        if pid is None:
            try:
                stale = time.time() - folder.stat().st_mtime > LEGACY_STALE_SECONDS
            except OSError:
                continue
        else:
            stale = pid != os.getpid() and not pid_alive(pid)
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _is_replaceable(out: Path) -> bool:
    """An existing ``out`` may be replaced only if it is empty or a previous report."""
    if not any(out.iterdir()):
        return True
    try:
        previous = json.loads((out / "results.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(previous, dict) and previous.get("tool") == TOOL


def check_out(out: Path) -> Path:
    """Refuse an ``out`` that cannot be written or must not be replaced, without writing anything.

    Raises :class:`ReportError` if ``out`` is a file, a folder that is not a report, or its
    nearest existing parent is not a writable folder.

    >>> from pathlib import Path
    >>> from verify.run.staging import check_out
    >>> check_out(Path("/proc/version/report"))
    Traceback (most recent call last):
    ...
    verify.run.staging.ReportError: cannot write the report to /proc/version/report: /proc/version is not a folder
    """  # noqa: E501
    out = Path(out)
    if "\0" in str(out):
        raise ReportError(f"cannot write the report to {str(out)!r}: the path contains a NUL byte")
    if out.name in ("", ".", ".."):
        raise ReportError(
            f"cannot write the report to {str(out)!r}: the path must end in a folder name, "
            f"not {out.name or str(out)!r} (the report replaces that folder; e.g. --out ./report)"
        )
    try:
        return _check_writable(out)
    except OSError as exc:  # a part too long for any file system, a permission on the way, ...
        raise ReportError(
            f"cannot write the report to {out}: {exc.strerror or exc}"
            f"{f' ({exc.filename})' if exc.filename else ''}"
        ) from exc


def _check_writable(out: Path) -> Path:
    _check_lengths(out)
    if out.exists() and not out.is_dir():
        raise ReportError(f"cannot write the report to {out}: it exists and is not a folder")
    if out.is_dir() and not _is_replaceable(out):
        raise ReportError(
            f"refusing to replace {out}: it exists and is not a report folder "
            "(no results.json written by this tool); choose another --out"
        )
    existing = next(p for p in [out.parent, *out.parent.parents] if p.exists())
    if not existing.is_dir():
        raise ReportError(f"cannot write the report to {out}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ReportError(f"cannot write the report to {out}: {existing} is not writable")
    _check_paths_fit(out, existing)
    _check_free_space(out, existing)
    owner = live_owner(out)
    if owner is not None:
        raise ReportError(str(OutLocked(out, None if owner < 0 else owner)))
    return out


def _check_free_space(out: Path, existing: Path) -> None:
    """Refuse a file system with less than :data:`MIN_FREE_BYTES` free (known before the run;
    a disk that fills up during the run is reported when the report is written)."""
    try:
        stat = os.statvfs(existing)
    except OSError:
        return  # cannot tell: writing will say
    free = stat.f_bavail * stat.f_frsize
    if free < MIN_FREE_BYTES:
        raise ReportError(
            f"cannot write the report to {out}: only {free / 2**20:.1f} MiB free on its file "
            f"system, the report needs up to {MIN_FREE_BYTES / 2**20:.0f} MiB"
        )


def _check_lengths(out: Path, name_max: int = NAME_MAX) -> None:
    """Every part of ``out``, and the staging folder's longer name, fit in ``name_max`` bytes
    (checked before any file system call, which would fail with ``ENAMETOOLONG``)."""
    staging_name = f"{staging_prefix(out)}{os.getpid()}-{'0' * TOKEN_HEX}"
    for part in [*out.parts, staging_name]:
        if len(os.fsencode(part)) > name_max:
            longest = name_max - (len(os.fsencode(staging_name)) - len(os.fsencode(out.name)))
            raise ReportError(
                f"cannot write the report to {str(out)[:60]}…: the name {part[:40]!r}… has "
                f"{len(os.fsencode(part))} bytes, over the file system's {name_max} "
                f"(the report folder's name may have at most {longest} bytes, leaving room for "
                "the staging folder's suffix)"
            )


def _check_paths_fit(out: Path, existing: Path) -> None:
    """The limits of the file system ``out`` will be on (its name and path lengths)."""
    name_max = _pathconf(existing, "PC_NAME_MAX", NAME_MAX)
    if name_max < NAME_MAX:
        _check_lengths(out, name_max)
    path_max = _pathconf(existing, "PC_PATH_MAX", 4096)
    staging_name = f"{staging_prefix(out)}{os.getpid()}-{'0' * TOKEN_HEX}"
    full = len(os.fsencode(os.path.abspath(out.parent / staging_name))) + REPORT_CONTENT_BYTES
    if full > path_max:
        raise ReportError(
            f"cannot write the report to {out}: its path is too long for the file system "
            f"({full} of at most {path_max} bytes with the report's own files)"
        )


def _pathconf(folder: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(folder, name))
    except (OSError, ValueError):
        return default


def prepare_staging(out: Path, lock: ExitStack | None = None) -> tuple[Path, list[Path]]:
    """Create the staging folder next to ``out``; return it and the parents created for it.

    The folder's name records this process's pid (see :func:`remove_stale_staging`). With
    ``lock``, the lock of ``out`` is taken (and entered on ``lock``) before stale folders are
    removed. Raises :class:`ReportError` if ``out`` is a file, a non-report folder, not writable,
    or locked by a live run.
    """
    out = check_out(Path(out))
    created: list[Path] = []
    try:
        missing = [p for p in [out.parent, *out.parent.parents] if not p.exists()]
        for parent in reversed(missing):
            parent.mkdir()
            created.append(parent)
        if lock is not None:
            lock.enter_context(out_locked(out))
        remove_stale_staging(out)
        staging = (
            out.parent / f"{staging_prefix(out)}{os.getpid()}-{secrets.token_hex(TOKEN_HEX // 2)}"
        )
        staging.mkdir()
        (staging / FIGURE_DIR).mkdir()
    except (OSError, OutLocked) as exc:
        if lock is not None:
            lock.close()
        _remove_created(created)
        if isinstance(exc, OutLocked):
            raise ReportError(str(exc)) from exc
        raise ReportError(
            f"cannot write the report to {out}: {exc.strerror or exc} ({exc.filename or out})"
        ) from exc
    return staging, created


def _remove_created(created: list[Path]) -> None:
    for parent in reversed(created):
        try:
            parent.rmdir()
        except OSError:
            break


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A staging folder for ``out``, removed on any exit (it is renamed away when published),
    with the lock of ``out`` held throughout."""
    with ExitStack() as lock:
        staging, created = prepare_staging(out, lock)
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            lock.close()
            _remove_created(created)
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # already renamed away on success


def publish(staging: Path, out: Path) -> None:
    """Swap the finished ``staging`` folder in as ``out`` (renames on one file system) and
    delete the previous report.

    On Linux the swap is one ``renameat2(RENAME_EXCHANGE)`` (or, when ``out`` does not exist, a
    ``renameat2(RENAME_NOREPLACE)``; if another publisher created it meanwhile the exchange is
    tried again), so ``out`` is at every instant either the complete old or the complete new
    report, also under concurrent publishers. Elsewhere (no ``renameat2``, or a file system
    without it) the previous report is renamed aside first and restored if the second rename
    fails.
    """
    for _ in range(8):  # each retry means another publisher won a race: a few suffice
        swapped = _renameat2(staging, out, RENAME_EXCHANGE)
        if swapped is None:
            break  # no renameat2 here
        if swapped:
            shutil.rmtree(staging, ignore_errors=True)  # now holds the previous report
            return
        if _renameat2(staging, out, RENAME_NOREPLACE):  # out did not exist
            return
    else:
        raise OSError(errno.EBUSY, "other publishers kept replacing the folder", str(out))
    _publish_with_backup(staging, out)


def _renameat2(source: Path, target: Path, flags: int) -> bool | None:
    """``renameat2(source, target, flags)``: True when done, False when the flag's condition
    failed (exchange: ``target`` missing; no-replace: ``target`` exists), None when the call is
    unavailable (not Linux, old libc, a file system without it); other errors raise."""
    function = _renameat2_function()
    if function is None:
        return None
    result = function(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(target), flags)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if (flags == RENAME_EXCHANGE and code == errno.ENOENT and Path(source).exists()) or (
        flags == RENAME_NOREPLACE and code in (errno.EEXIST, errno.ENOTEMPTY)
    ):
        return False
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return None
    raise OSError(code, os.strerror(code), str(target))


@functools.cache
def _renameat2_function() -> Any:
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


def _publish_with_backup(staging: Path, out: Path) -> None:
    if not out.exists():
        os.rename(staging, out)
        return
    backup = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(out, backup)
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(backup, out)
        raise
    shutil.rmtree(backup, ignore_errors=True)
