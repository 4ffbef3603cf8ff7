"""Screenshot a report's index.html in headless Chromium:
``python -m verify.report.screenshot report/``.

A documented manual check (docs/report.md, "Looking at the HTML report"), never part of CI:
it exits 0 with a one-line "skipped" message when no Chromium is installed. Chromium runs
offline (no background networking, no component updates, no sync, a throw-away profile), so
the screenshot shows exactly what a reader without network sees.

>>> from verify.report.screenshot import chromium_command
>>> command = chromium_command("chromium", "/r/index.html", "/r/shot.png", 1280, 4000)
>>> "--headless" in command and command[-1] == "file:///r/index.html"
True
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
OFFLINE_FLAGS = (
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """The first Chromium-like browser on PATH, or ``None``."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def chromium_command(
    browser: str, page: str | Path, png: str | Path, width: int, height: int, profile: str = ""
) -> list[str]:
    """The headless Chromium command line that writes ``png`` from ``page``."""
    flags = [*OFFLINE_FLAGS, f"--screenshot={png}", f"--window-size={width},{height}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to run its sandbox as root
    if profile:
        flags.append(f"--user-data-dir={profile}")
    return [browser, *flags, Path(page).resolve().as_uri()]


def screenshot(
    report: Path, png: Path, *, width: int = 1280, height: int = 6000, timeout: float = 120
) -> Path | None:
    """Write a ``width`` × ``height`` screenshot of ``report/index.html`` to ``png``; ``None``
    when no Chromium is installed. Raises ``FileNotFoundError`` without an index.html and
    ``RuntimeError`` when Chromium writes no image."""
    page = Path(report) / "index.html"
    if not page.is_file():
        raise FileNotFoundError(f"report: no index.html in {report} (run python -m verify first)")
    browser = find_chromium()
    if browser is None:
        return None
    with tempfile.TemporaryDirectory(prefix="verify-chromium-") as profile:
        command = chromium_command(browser, page, png.resolve(), width, height, profile)
        subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"{browser} wrote no screenshot to {png}")
    return png


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.report.screenshot", description=__doc__)
    parser.add_argument("report", type=Path, help="report folder holding index.html")
    parser.add_argument("--out", type=Path, help="PNG to write (default: REPORT/screenshot.png)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=6000, help="page height captured")
    args = parser.parse_args(argv)
    png = args.out or args.report / "screenshot.png"
    try:
        written = screenshot(args.report, png, width=args.width, height=args.height)
    except (FileNotFoundError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if written is None:
        print(f"skipped: no Chromium on PATH (looked for {', '.join(BROWSERS)})")
        return 0
    print(f"screenshot written to {written}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
