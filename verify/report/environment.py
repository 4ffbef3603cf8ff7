"""What the report records about the machine and the software it ran on.

>>> from verify.report.environment import environment
>>> info = environment()
>>> sorted(info)
['cpu_cores', 'cpu_model', 'packages', 'platform', 'python', 'threads']
>>> "numpy" in info["packages"]
True
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from reference._threads import pin_threads, thread_counts

# Packages whose versions change the results; optional ones are listed only when installed.
REQUIRED_PACKAGES = ("numpy", "sympy", "hypothesis", "mpmath", "matplotlib")
OPTIONAL_PACKAGES = ("torch", "performer-pytorch", "distributed")
#: BLAS, OpenMP and torch threads of the main job and its local pool workers: one, so timings
#: do not depend on what else the (shared) machine runs, and two workers use two cores
REPORT_THREADS = 1


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the results depend on (``"missing"`` for a required
    package that is not installed; optional packages appear only when installed).

    >>> from verify.report.environment import package_versions
    >>> versions = package_versions()
    >>> versions["numpy"] == __import__("numpy").__version__
    True
    """
    versions: dict[str, str] = {}
    for name in (*REQUIRED_PACKAGES, *OPTIONAL_PACKAGES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name in REQUIRED_PACKAGES:
                versions[name] = "missing"
    return versions


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`).

    >>> from verify.report.environment import cpu_model
    >>> isinstance(cpu_model(), str)
    True
    """
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one).

    >>> from verify.report.environment import cpu_cores
    >>> cpu_cores() >= 1
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pin_report_threads() -> dict[str, Any]:
    """Pin this process's BLAS/OpenMP/torch pools, and those of the processes it starts, to
    :data:`REPORT_THREADS` (:func:`reference._threads.pin_threads`); the counts in force.
    Dask workers run in their own processes and keep their own setting."""
    return pin_threads(REPORT_THREADS)


def environment() -> dict[str, Any]:
    """Python, platform, CPU model and core count, package versions and the thread counts in
    force (:func:`reference._threads.thread_counts`), as results.json stores them under
    ``"environment"``."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_cores": cpu_cores(),
        "packages": package_versions(),
        "threads": thread_counts(),
    }
