"""Benchmark history that works offline: record commits under one machine and one environment
name, and draw the history from ``.asv/results`` with matplotlib (no browser, no CDN).

::

    python -m benchmarks.history machine              # register ptl-bench with CPU/RAM/OS
    python -m benchmarks.history record HEAD~5 HEAD   # benchmark these commits' trees
    python -m benchmarks.history plot                 # → .asv/history.png

``record`` exports each commit's tree with ``git archive`` into a temporary folder (the working
tree and git's state are never touched), and runs asv there on the current interpreter through
the fixed launcher ``~/.ptl-bench/python`` (``-E existing:…``, so every commit lands in the one
environment series ``existing-py_<home>_.ptl-bench_python``), with ``ASV_PYTHONPATH`` pointing at
the exported tree (the commit's own ``reference``/``verify``/``benchmarks`` shadow the editable
install) and one BLAS/OpenMP/torch thread. Results go to this checkout's ``.asv/results``,
filed under the commit's hash. ``plot`` draws one panel per benchmark (``module.Class.method``),
commits in commit-date order on x, one line per parameter combination, the median with the
interquartile range asv recorded (a bar: a ``--quick`` run has a single sample and no spread).

This module defines no benchmark (asv imports every module of ``benchmarks/``): nothing here is
named ``time_``/``track_``/``peakmem_``/``mem_``, and matplotlib and asv load only when called.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MACHINE = "ptl-bench"
LAUNCHER = Path.home() / ".ptl-bench" / "python"
RESULTS = ROOT / ".asv" / "results"
FIGURE = ROOT / ".asv" / "history.png"
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def machine_info() -> dict[str, str]:
    """What the machine entry records: asv's own defaults (``platform.uname``, asv's CPU and
    memory probes) under the fixed name :data:`MACHINE`.

    >>> from benchmarks.history import machine_info
    >>> sorted(machine_info())
    ['arch', 'cpu', 'machine', 'num_cpu', 'os', 'ram']
    """
    from asv.machine import Machine

    return {**Machine.get_defaults(), "machine": MACHINE}


def register_machine() -> dict[str, str]:
    """Store :func:`machine_info` in ``~/.asv-machine.json``. (``asv machine --machine ptl-bench
    --yes`` stores only the fields that differ from the defaults — here just the name — so the
    CPU, RAM and OS would be missing from every result's ``machine.json``.)"""
    from asv.machine import MachineCollection

    info = machine_info()
    MachineCollection.save(MACHINE, info)
    return info


def ensure_launcher(python: str = sys.executable) -> Path:
    """``~/.ptl-bench/python``: a shell script that runs ``python`` (re-pointed on every call, so
    a recreated venv keeps the environment name)."""
    LAUNCHER.parent.mkdir(parents=True, exist_ok=True)
    LAUNCHER.write_text(f'#!/bin/sh\nexec {python} "$@"\n')
    LAUNCHER.chmod(0o755)
    return LAUNCHER


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def record(
    commit: str,
    *,
    bench: str | None = None,
    quick: bool = False,
    repo: Path = ROOT,
    append: bool = False,
) -> Path:
    """Benchmark ``commit``'s tree (exported, never checked out) and file the results under its
    hash in ``repo``'s ``.asv/results``; returns the results folder. ``bench`` is asv's
    ``--bench`` regular expression; ``repo`` another clone (e.g. a throwaway one in /tmp);
    ``append`` adds the samples to the commit's earlier ones (asv's ``--append-samples``)."""
    repo = Path(repo).resolve()
    results = repo / ".asv" / "results"
    full = _git(repo, "rev-parse", "--verify", f"{commit}^{{commit}}")
    tree = Path(tempfile.mkdtemp(prefix=f"ptl-asv-{full[:8]}-"))
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", full], cwd=repo, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        config = json.loads((ROOT / "asv.conf.json").read_text())
        config.update(
            repo=str(repo),
            benchmark_dir=str(tree / "benchmarks"),
            results_dir=str(results),
            html_dir=str(repo / ".asv" / "html"),
            env_dir=str(repo / ".asv" / "env"),
        )
        (tree / "asv.conf.json").write_text(json.dumps(config, indent=1))
        env = {**os.environ, "ASV_PYTHONPATH": str(tree), **dict.fromkeys(THREAD_VARS, "1")}
        command = ["asv", "run", "--config", str(tree / "asv.conf.json")]
        command += ["-E", f"existing:{ensure_launcher()}", "--machine", MACHINE]
        command += ["--set-commit-hash", full, "--show-stderr"]
        command += (["--quick"] if quick else []) + (["--bench", bench] if bench else [])
        command += ["--append-samples"] if append else []
        subprocess.run(command, cwd=tree, env=env, check=True)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return results / MACHINE


def load_history(results: Path = RESULTS, machine: str = MACHINE) -> dict[str, Any]:
    """``{benchmark: {"params": [...], "commits": [(date, hash, values, q25, q75)]}}`` from
    asv's result files of ``machine`` (every environment; commits sorted by commit date)."""
    from asv.results import iter_results_for_machine

    history: dict[str, Any] = {}
    runs = sorted(iter_results_for_machine(str(results), machine), key=lambda r: r.date or 0)
    for run in runs:
        for key in run.get_all_result_keys():
            params = run.get_result_params(key)
            values = run.get_result_value(key, params)
            stats = run.get_result_stats(key, params)
            if not params:
                values, stats = [values], [stats]
            q25 = [s.get("q_25") if s else None for s in stats]
            q75 = [s.get("q_75") if s else None for s in stats]
            entry = history.setdefault(key, {"params": params, "commits": []})
            entry["commits"].append((run.date, run.commit_hash, values, q25, q75))
    return history


def _labels(params: list[list[str]]) -> list[str]:
    import itertools

    if not params:
        return [""]
    # asv stores parameter values as their repr ("'float64'"): shown without the quotes
    return [", ".join(v.strip("'") for v in combo) for combo in itertools.product(*params)]


def plot(history: dict[str, Any], out: Path = FIGURE) -> Path:
    """One panel per benchmark: commits (short hash, commit-date order) on x, one line per
    parameter combination, the median with its interquartile range as a bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(history)
    if not names:
        raise ValueError(f"history: no asv results for machine {MACHINE!r} under {RESULTS}")
    commits = sorted({(d or 0, h) for e in history.values() for d, h, *_ in e["commits"]})
    position = {h: i for i, (_, h) in enumerate(commits)}
    cols = 3
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.1 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        entry = history[name]
        for index, label in enumerate(_labels(entry["params"])):
            xs, ys, lo, hi = [], [], [], []
            for _, commit, values, q25, q75 in entry["commits"]:
                value = values[index] if index < len(values) else None
                if value is None or not math.isfinite(value):
                    continue
                xs.append(position[commit])
                ys.append(value)
                lo.append(value - (q25[index] if q25[index] is not None else value))
                hi.append((q75[index] if q75[index] is not None else value) - value)
            if xs:
                ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", ms=3, capsize=2, label=label)
        timed = name.rsplit(".", 1)[-1].startswith(("time_", "peakmem_", "mem_"))
        if timed:
            ax.set_yscale("log")
        ax.set_title(name.removeprefix("bench_"), fontsize=8)
        ax.set_ylabel(
            "seconds" if "time_" in name else "bytes" if "mem_" in name else "value", fontsize=7
        )
        ax.set_xticks(range(len(commits)), [h[:7] for _, h in commits], fontsize=6, rotation=30)
        ax.tick_params(axis="y", labelsize=6)
        if entry["params"]:
            ax.legend(fontsize=5, ncol=2, loc="best", framealpha=0.6)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle(f"asv history on {MACHINE}: median and interquartile range per commit")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.history", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("machine", help="register the machine ptl-bench with CPU, RAM and OS")
    rec = sub.add_parser("record", help="benchmark commits (exported trees) into .asv/results")
    rec.add_argument("commits", nargs="+")
    rec.add_argument("--bench", help="asv's --bench regular expression")
    rec.add_argument("--quick", action="store_true", help="one sample per benchmark (no spread)")
    rec.add_argument("--repo", type=Path, default=ROOT, help="the clone to record (default: this)")
    rec.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="record the commits in alternation this many times, pooling the samples (a load "
        "that changes during the recording then hits every commit alike)",
    )
    fig = sub.add_parser("plot", help="draw the history from .asv/results")
    fig.add_argument("--out", type=Path, default=FIGURE)
    args = parser.parse_args(argv)
    if args.command == "machine":
        print(json.dumps(register_machine(), indent=1))
    elif args.command == "record":
        for round_ in range(args.rounds):
            for commit in args.commits:
                more = round_ > 0
                record(commit, bench=args.bench, quick=args.quick, repo=args.repo, append=more)
    else:
        print(plot(load_history(), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
