"""``python -m verify``: run the whole verification and write the report (see docs/report.md)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from types import FrameType


def _quiet_stop(signum: int, frame: FrameType | None) -> None:
    """Until the main job installs its own handlers: stop with 128 + the signal's number and no
    traceback (nothing has been written yet)."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m verify`` and of the ``prompt-tuning-verify`` console script.

    A SIGINT or SIGTERM while the job is still importing exits 130 or 143 quietly; the job's own
    handlers (:mod:`verify.run.interrupts`) take over before any work.

    >>> main(["--only", "no-such-claim"])  # one line on stderr, exit status 2
    2
    """
    previous = {sig: signal.signal(sig, _quiet_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        from verify.run.cli import run_cli
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return run_cli(argv)


if __name__ == "__main__":
    sys.exit(main())
