"""``python -m verify``: run the whole verification and write the report (see docs/report.md)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m verify`` and of the ``prompt-tuning-verify`` console script.

    >>> main(["--only", "no-such-claim"])  # one line on stderr, exit status 2
    2
    """
    from verify.run.cli import run_cli

    return run_cli(argv)


if __name__ == "__main__":
    sys.exit(main())
