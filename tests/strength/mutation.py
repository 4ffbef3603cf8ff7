"""Mutation testing with the project's own corpus of plausible bugs (``mutants.toml``).

Each mutant is one replacement in one file of ``reference/`` (a bug a careful person could
write: a dropped factor, a wrong axis, ``<`` for ``<=``, a bias correction with the wrong β). The
runner copies the project to a temporary folder once, checks that the chosen tests pass there
unmutated, then applies one mutant at a time and runs them: the mutant is **killed** when pytest
fails (or runs past the timeout, reported as a hang), **survives** when it passes. A mutant
listed with ``equivalent = "reason"`` is not run: it changes no result (the reason says why).

    python -m tests.strength.mutation                 # the whole corpus (about 20-40 min)
    python -m tests.strength.mutation --list          # the corpus, one line per mutant
    python -m tests.strength.mutation --only ID ...   # some mutants
    python -m tests.strength.mutation --json out.json # also write the results

Tests run with one BLAS thread and Hypothesis's derandomized ``ci`` profile, so a run is
repeatable. The tests of a mutant are its ``tests`` field, else those of its room
(:data:`ROOM_TESTS`) and the docstring examples. docs/mutation.md has the kill rates; mutmut
(syntactic mutants, ``mutmut run``) is documented there too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).with_name("mutants.toml")
DOCSTRINGS = "tests/conventions/test_docstring_examples.py"
#: the tests that guard each room of ``reference/`` (a mutant may name its own instead)
ROOM_TESTS = {
    "reference/model/": [
        "tests/foundation",
        "tests/capacity",
        "verify/claims/foundation",
        "verify/claims/capacity",
    ],
    "reference/efficiency/": ["tests/efficiency", "verify/claims/efficiency"],
    "reference/constructions/": [
        "tests/universality",
        "verify/claims/universality",
        "tests/capacity",
    ],
}
DEFAULT_TIMEOUT = 900.0  # seconds per mutant; beyond it the mutant counts as killed (a hang)


@dataclass(frozen=True)
class Mutant:
    """One plausible bug: ``old`` (occurring exactly once in ``file``) replaced by ``new``."""

    id: str
    file: str
    old: str
    new: str
    bug: str
    tests: tuple[str, ...] = ()
    equivalent: str = ""

    @property
    def module(self) -> str:
        return self.file.removesuffix(".py").replace("/", ".")

    def test_paths(self) -> list[str]:
        if self.tests:
            return list(self.tests)
        for room, paths in ROOM_TESTS.items():
            if self.file.startswith(room):
                return [*paths, DOCSTRINGS]
        raise ValueError(f"{self.id}: no tests for {self.file}; give the mutant a tests field")


@dataclass(frozen=True)
class Outcome:
    id: str
    module: str
    status: str  # killed | survived | hang | equivalent
    seconds: float
    detail: str = ""


def load_corpus(path: Path = CORPUS) -> list[Mutant]:
    """The mutants of ``path``; raises ``ValueError`` naming the entry for a malformed one.

    >>> from tests.strength.mutation import load_corpus
    >>> corpus = load_corpus()
    >>> len({m.id for m in corpus}) == len(corpus) > 20
    True
    """
    entries = tomllib.loads(path.read_text())["mutant"]
    corpus = []
    for i, entry in enumerate(entries):
        missing = {"id", "file", "old", "new", "bug"} - set(entry)
        if missing:
            raise ValueError(f"mutant {i} ({entry.get('id', '?')}): missing {sorted(missing)}")
        corpus.append(Mutant(**{**entry, "tests": tuple(entry.get("tests", ()))}))
    return corpus


def occurrences(mutant: Mutant, root: Path = ROOT) -> int:
    """How often the mutant's ``old`` text occurs in its file under ``root`` (must be 1)."""
    return (root / mutant.file).read_text().count(mutant.old)


def copy_project(dest: Path) -> None:
    """The tracked and untracked, not ignored files of the project, copied to ``dest``."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def run_tests(copy: Path, paths: Sequence[str], timeout: float) -> tuple[str, str]:
    """``("passed" | "failed" | "hang", last line of pytest's output)`` in the copy."""
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("CI", None)  # the profile is chosen explicitly below
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-profile=ci",
        *paths,
    ]
    try:
        run = subprocess.run(
            command, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return "hang", f"no result after {timeout:.0f} s"
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    return ("passed" if run.returncode == 0 else "failed"), (lines[-1] if lines else "")


def run_corpus(corpus: Sequence[Mutant], timeout: float = DEFAULT_TIMEOUT) -> list[Outcome]:
    """Apply each mutant to a fresh copy of its file and run its tests (see the module doc)."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        copy = Path(tmp)
        copy_project(copy)
        baselines: dict[tuple[str, ...], str] = {}
        for mutant in corpus:
            if mutant.equivalent:
                outcomes.append(
                    Outcome(mutant.id, mutant.module, "equivalent", 0.0, mutant.equivalent)
                )
                continue
            paths = tuple(mutant.test_paths())
            if paths not in baselines:
                status, line = run_tests(copy, paths, timeout)
                if status != "passed":
                    raise SystemExit(f"the unmutated tests {paths} do not pass: {line}")
                baselines[paths] = line
            target = copy / mutant.file
            original = target.read_text()
            if original.count(mutant.old) != 1:
                found = original.count(mutant.old)
                raise SystemExit(
                    f"{mutant.id}: `old` occurs {found} times in {mutant.file} (expected once): "
                    "update tests/strength/mutants.toml"
                )
            target.write_text(original.replace(mutant.old, mutant.new))
            start = time.monotonic()
            try:
                status, line = run_tests(copy, paths, timeout)
            finally:
                target.write_text(original)
            verdict = {"failed": "killed", "passed": "survived", "hang": "hang"}[status]
            outcomes.append(
                Outcome(mutant.id, mutant.module, verdict, time.monotonic() - start, line)
            )
            print(f"{verdict:>9}  {mutant.id}  ({outcomes[-1].seconds:.0f} s)  {line}", flush=True)
    return outcomes


def kill_table(outcomes: Sequence[Outcome]) -> str:
    """Per module: mutants run, killed (hangs included), survived, equivalent, kill rate."""
    rows = [
        "| module | run | killed | survived | equivalent | kill rate |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for module in sorted({o.module for o in outcomes}):
        mine = [o for o in outcomes if o.module == module]
        killed = sum(o.status in ("killed", "hang") for o in mine)
        survived = sum(o.status == "survived" for o in mine)
        run = killed + survived
        rate = f"{killed / run:.0%}" if run else "—"
        equivalent = len(mine) - run
        rows.append(f"| `{module}` | {run} | {killed} | {survived} | {equivalent} | {rate} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.strength.mutation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--list", action="store_true", help="list the corpus and exit")
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    parser.add_argument("--json", type=Path, help="also write the outcomes to this file")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds each")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    if args.list:
        for m in corpus:
            print(
                f"{m.id}  {m.file}  {m.bug}"
                + (f"  [equivalent: {m.equivalent}]" * bool(m.equivalent))
            )
        return 0
    if args.only:
        unknown = sorted(set(args.only) - {m.id for m in corpus})
        if unknown:
            print(f"--only: unknown mutant ids {unknown} (see --list)", file=sys.stderr)
            return 2
        corpus = [m for m in corpus if m.id in args.only]
    outcomes = run_corpus(corpus, timeout=args.timeout)
    print(kill_table(outcomes))
    survivors = [o.id for o in outcomes if o.status == "survived"]
    print(f"survivors: {', '.join(survivors) or 'none'}")
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main())
