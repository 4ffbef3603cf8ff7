"""The report's staging folder: next to ``--out``, owned by one process, swapped in atomically.

A run builds its report in ``.<out>.partial-<pid>-<token>`` beside the target and renames it into
place only when it is complete (:func:`publish`). The owning process id is part of the folder's
name, so a later run can tell a folder of a live run from one left by a run that was killed
(``kill -9``, power loss): :func:`remove_stale_staging` deletes the latter before a new run starts.

>>> from verify.run.staging import parse_owner
>>> parse_owner(".report.partial-4242-1a2b3c4d", "report")
4242
>>> parse_owner(".report.partial-xyz", "report") is None
True
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TOOL = "prompt-tuning-limits verify"
FIGURE_DIR = "figures"
LEGACY_STALE_SECONDS = 3600.0  # staging folders without an owner pid: stale after an hour


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
    removed once they are older than :data:`LEGACY_STALE_SECONDS`.
    """
    out = Path(out)
    parent = out.parent
    if not parent.is_dir():
        return []
    removed = []
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
    return out


def prepare_staging(out: Path) -> tuple[Path, list[Path]]:
    """Create the staging folder next to ``out``; return it and the parents created for it.

    The folder's name records this process's pid (see :func:`remove_stale_staging`). Raises
    :class:`ReportError` if ``out`` is a file, a non-report folder, or not writable.
    """
    out = check_out(Path(out))
    created: list[Path] = []
    try:
        missing = [p for p in [out.parent, *out.parent.parents] if not p.exists()]
        for parent in reversed(missing):
            parent.mkdir()
            created.append(parent)
        remove_stale_staging(out)
        staging = out.parent / f"{staging_prefix(out)}{os.getpid()}-{secrets.token_hex(4)}"
        staging.mkdir()
        (staging / FIGURE_DIR).mkdir()
    except OSError as exc:
        _remove_created(created)
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
    """A staging folder for ``out``, removed on any exit (it is renamed away when published)."""
    staging, created = prepare_staging(out)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_created(created)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # already renamed away on success


def publish(staging: Path, out: Path) -> None:
    """Swap the finished ``staging`` folder in as ``out`` (renames on one file system).

    The previous report is renamed aside first and restored if the second rename fails, so
    ``out`` is always either the complete old or the complete new report.
    """
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
