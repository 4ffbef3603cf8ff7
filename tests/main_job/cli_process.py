"""Run ``python -m verify`` in its own session and watch its processes (for the CLI tests).

The run is started with ``start_new_session=True``, so every process it creates (the forkserver,
the resource tracker, pool workers) shares its session id; :func:`session_processes` lists the
ones still alive (zombies excluded).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_verify(args: list[str], cwd: Path) -> subprocess.Popen:
    """``python -m verify *args`` from ``cwd`` importing this checkout, in a new session."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "verify", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def session_processes(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def staging_folders(parent: Path, out_name: str) -> list[Path]:
    return sorted(parent.glob(f".{out_name}.partial-*"))
