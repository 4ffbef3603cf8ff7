"""Command line of the main job: ``python -m verify`` / ``prompt-tuning-verify``.

>>> from verify.run.cli import build_parser, mode_of
>>> args = build_parser().parse_args(["--smoke", "--only", "foundation", "--seed", "3"])
>>> (mode_of(args), args.only, args.seed)
('smoke', ['foundation'], 3)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

# nothing more here: run_cli installs the signal handlers, then imports the rest (a Ctrl-C in
# the first moments of the process is then a quiet exit 130, not a traceback from an import)
from verify.run.exit_codes import EXIT_CLAIM_ERROR, EXIT_OK, EXIT_USAGE
from verify.run.interrupts import Interrupted, exit_code_for_signal, handle_signals


def _executor_spec(value: str) -> str:
    from verify.run.executors import parse_executor_spec

    try:
        parse_executor_spec(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("executor: ")) from exc
    return value


def _int_at_least(minimum: int, maximum: int | None = None, why: str = "") -> Callable[[str], int]:
    """An argparse ``type`` accepting integers ``>= minimum`` (and ``<= maximum``)."""
    expected = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}{why}"

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < minimum or (maximum is not None and number > maximum):
            raise argparse.ArgumentTypeError(f"expected an integer {expected}, got {value!r}")
        return number

    return parse


def _out_path(value: str) -> Path:
    if "\0" in value:
        raise argparse.ArgumentTypeError(
            f"expected a folder path, got one with a NUL byte: {value!r}"
        )
    return Path(value)


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), without the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exit code 2 and one line on stderr for a bad option)."""
    from verify.run.executors import max_workers

    parser = _OneLineParser(
        prog="python -m verify",
        description=(
            "Run every claim of the prompt-tuning limits suite (Hypothesis properties and the "
            "sweeps behind the figures) and write a report folder: index.md, results.json, "
            "figures/*.png. Exit status: 0 all verified, 1 a claim falsified, 2 usage or "
            "environment error (bad option, unwritable --out, unusable executor), 3 a claim "
            "raised an error or the executor was lost mid-run, 130/143 stopped by "
            "SIGINT/SIGTERM (nothing published)."
        ),
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--smoke", action="store_true", help="tiny sizes for CI: the whole run in seconds"
    )
    size.add_argument(
        "--thorough", action="store_true", help="thousands of examples per property, big sweeps"
    )
    parser.add_argument(
        "--only", action="append", metavar="CLAIM", help="run only this claim (repeatable)"
    )
    parser.add_argument(
        "--out",
        type=_out_path,
        default=Path("report"),
        metavar="DIR",
        help="report folder, replaced atomically (default: report)",
    )
    parser.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        help="seed of every property and sweep (default 0)",
    )
    parser.add_argument(
        "--executor",
        type=_executor_spec,
        default="local",
        metavar="local|serial|dask://HOST:PORT",
        help="where sweeps run: local process pool (default), in-process, or a Dask scheduler",
    )
    parser.add_argument(
        "--workers",
        type=_int_at_least(1, max_workers(), f" (4 × the {max_workers() // 4} CPUs available)"),
        default=None,
        metavar="N",
        help="processes of the local pool (default: number of CPUs; at most 4 per CPU)",
    )
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    return parser


def mode_of(args: argparse.Namespace) -> str:
    """``smoke``, ``thorough`` or ``default`` from the parsed flags."""
    return "smoke" if args.smoke else "thorough" if args.thorough else "default"


@contextmanager
def private_hypothesis_home() -> Iterator[None]:
    """Keep Hypothesis's files (example database, constants cache) in a temporary folder removed
    afterwards, not in ``.hypothesis/`` of the current folder, unless the user asked for a place
    with ``HYPOTHESIS_STORAGE_DIRECTORY``."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield
        return
    import tempfile

    from hypothesis import configuration

    previous = getattr(configuration, "__hypothesis_home_directory", None)
    with tempfile.TemporaryDirectory(prefix="verify-hypothesis-") as home:
        configuration.set_hypothesis_home_dir(home)
        try:
            yield
        finally:
            configuration.set_hypothesis_home_dir(previous)


def run_cli(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the selected claims, print the summary; return the exit code.

    ``--only`` and ``--out`` are checked before any claim module is imported; SIGINT and SIGTERM
    stop the run cleanly from the first moment (one line on stderr, exit 130 or 143; nothing
    published, or, once the report is published, a line saying it was). ``argv=None`` (the
    program itself) leaves the signals ignored once the run is over, so a signal in the
    process's last moments cannot turn its exit status into a death by the signal.
    """
    with handle_signals(until_exit=argv is None):
        try:
            return _checked_run(argv)
        except Interrupted as exc:
            if exc.published is not None:
                print(f"{exc}: stopped after the report was published to {exc.published}",
                      file=sys.stderr)  # fmt: skip
            else:
                print(f"{exc}: stopped, workers ended, nothing published", file=sys.stderr)
            return exit_code_for_signal(exc.signum)


def _checked_run(argv: Sequence[str] | None) -> int:
    from verify.run.staging import ReportError, check_out

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line error / the help
        return int(exc.code or 0)
    from verify.claims import REGISTRY, claim_modules, load_all

    known = sorted({*claim_modules(), *REGISTRY})  # modules not imported yet, and claims so far
    unknown = [name for name in args.only or [] if name not in known]
    if unknown:
        print(
            f"error: unknown claim {', '.join(map(repr, unknown))}; known claims: "
            f"{', '.join(known)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not args.list:
        try:
            check_out(args.out)
        except ReportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    with private_hypothesis_home():
        return _run(args, load_all)


def _run(args: argparse.Namespace, load_all: Callable[..., dict]) -> int:
    from rich.console import Console

    from verify.report.writer import print_summary
    from verify.run.executors import ExecutorError
    from verify.run.interrupts import ExecutorLost
    from verify.run.runner import generate_report
    from verify.run.staging import ReportError

    registry = load_all(None if args.list or not args.only else list(dict.fromkeys(args.only)))
    if args.list:
        for claim in registry.values():
            print(f"{claim.name}: {claim.title}")
        return EXIT_OK
    selected = [c for c in registry.values() if not args.only or c.name in args.only]
    try:
        outcome = generate_report(
            selected,
            out=args.out,
            mode=mode_of(args),
            seed=args.seed,
            executor_spec=args.executor,
            workers=args.workers,
            console=Console(stderr=True, highlight=False),
        )
    except ExecutorLost as exc:
        names = [c.name for c in selected]
        unfinished = names[names.index(exc.claim) :] if exc.claim in names else names
        print(
            f"error: {exc}; claims not finished: {', '.join(unfinished)} (nothing published)",
            file=sys.stderr,
        )
        return EXIT_CLAIM_ERROR
    except (ReportError, ExecutorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print_summary(outcome.results, outcome.out, Console(highlight=False))
    return outcome.exit_code
