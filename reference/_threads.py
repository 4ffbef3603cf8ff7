"""Thread counts of the BLAS, OpenMP and torch pools: the library's choice for small products,
and the pinned setting of timed runs (the main job, the asv suite, the tests).

**The choice for small products.** A multi-threaded BLAS product pays a synchronization per
call; on a shared machine (a CI runner, this project's 2-core box) the second thread often waits
for a busy core, and a product of a few MFLOP then takes milliseconds instead of microseconds
(exact attention at n = m = 2^14 on the loaded 2-core machine: 27.7 s with two OpenBLAS
threads, 5.2 s with one; docs/asv.md, "Threads"). :func:`one_blas_thread_below` runs a block
of code with **one** BLAS thread when the largest single product in it has fewer than
:data:`SMALL_PRODUCT_FLOPS` floating-point operations, and leaves the pool alone otherwise
(large products gain from threads when a core is free). Setting and restoring costs about
10 µs (threadpoolctl's controller, created once), so products below
:data:`OPENBLAS_SINGLE_THREAD_FLOPS`, which OpenBLAS runs on one thread anyway, skip it. The
thread count is process-wide state: concurrent Python threads calling the library may see each
other's setting (a speed effect only, never a result).

**Pinning.** :func:`pin_threads` fixes every pool to ``count`` threads for the rest of the
process and for the processes it starts (environment variables), and :func:`thread_counts`
reports what is in force, as results.json and asv record it.

>>> from reference._threads import one_blas_thread_below, thread_counts
>>> with one_blas_thread_below(2 * 16 * 4112 * 8):
...     thread_counts()["blas"] in (1, None)
True
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

__all__ = [
    "OPENBLAS_SINGLE_THREAD_FLOPS",
    "SMALL_PRODUCT_FLOPS",
    "THREAD_ENV_VARS",
    "one_blas_thread_below",
    "pin_threads",
    "thread_counts",
]

#: Products with fewer FLOPs than this (per call) run on one BLAS thread (≈ 20–50 ms of one
#: core at the 20–50 GFLOP/s numpy reaches on one thread here: below it a lost synchronization
#: on a busy core costs as much as the second thread can save).
SMALL_PRODUCT_FLOPS = 1 << 30
#: OpenBLAS threads a GEMM only when ``M·N·K > 65536·4`` (interface/gemm.c, SMP_THRESHOLD_MIN ·
#: GEMM_MULTITHREAD_THRESHOLD), i.e. above ``2·262144`` FLOPs: below, there is nothing to limit.
OPENBLAS_SINGLE_THREAD_FLOPS = 2 * 65536 * 4
#: The variables every BLAS/OpenMP runtime reads at load time (set by :func:`pin_threads`).
THREAD_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@cache
def _blas_pools() -> Any:
    """threadpoolctl's controller of the BLAS libraries loaded now (numpy's BLAS is loaded with
    numpy, so once is enough; the scan costs ~0.4 ms)."""
    import numpy  # noqa: F401  (numpy's BLAS must be loaded before the scan)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


@contextmanager
def one_blas_thread_below(flops: float) -> Iterator[None]:
    """Run the block with one BLAS thread when its largest product has fewer than
    :data:`SMALL_PRODUCT_FLOPS` floating-point operations (``2·M·N·K`` for an
    ``(M, K) @ (K, N)`` product); otherwise, or when the pool has one thread already, leave it.

    >>> from reference._threads import SMALL_PRODUCT_FLOPS, one_blas_thread_below
    >>> with one_blas_thread_below(SMALL_PRODUCT_FLOPS // 2):
    ...     pass
    """
    if flops <= OPENBLAS_SINGLE_THREAD_FLOPS or flops >= SMALL_PRODUCT_FLOPS:
        yield
        return
    pools = _blas_pools()
    if all(lib.num_threads <= 1 for lib in pools.lib_controllers):
        yield
        return
    # threadpoolctl's limiter (about 10 µs with the cached controller): it restores the counts
    # and releases OpenBLAS's "controlling thread", so other Python threads can still set limits
    with pools.limit(limits=1):
        yield


def pin_threads(count: int = 1) -> dict[str, Any]:
    """Fix the BLAS, OpenMP and torch pools to ``count`` threads, for this process (the loaded
    libraries, through threadpoolctl; torch when it is imported already) and for the processes it
    starts and the libraries loaded later (:data:`THREAD_ENV_VARS`). Returns
    :func:`thread_counts`. torch is never imported here: imported later, it reads
    ``OMP_NUM_THREADS``.

    >>> from reference._threads import pin_threads
    >>> pin_threads(1)["blas"] in (1, None)
    True
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count: expected an integer >= 1, got {count!r}")
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(count)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=count)  # kept in force: the limiter is not used as a context
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(count)
    return thread_counts()


def thread_counts() -> dict[str, Any]:
    """The thread counts in force: ``blas`` and ``openmp`` (the largest pool of each loaded
    library kind, ``None`` when none is loaded), ``torch`` (``None`` unless torch is imported),
    and the :data:`THREAD_ENV_VARS` as set (``None`` when unset).

    >>> from reference._threads import thread_counts
    >>> sorted(thread_counts())
    ['blas', 'env', 'openmp', 'torch']
    """
    import numpy  # noqa: F401  (so numpy's BLAS is among the loaded libraries)
    from threadpoolctl import threadpool_info

    pools: dict[str, int] = {}
    for lib in threadpool_info():
        api = lib["user_api"]
        pools[api] = max(pools.get(api, 0), int(lib["num_threads"]))
    torch = sys.modules.get("torch")
    return {
        "blas": pools.get("blas"),
        "openmp": pools.get("openmp"),
        "torch": int(torch.get_num_threads()) if torch is not None else None,
        "env": {name: os.environ.get(name) for name in THREAD_ENV_VARS},
    }
