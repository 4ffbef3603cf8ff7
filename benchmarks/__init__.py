"""asv benchmarks (``asv run --python=same --quick``: the quick suite, about three minutes on 2
cores), every process pinned to one BLAS/OpenMP/torch thread (:data:`BENCH_THREADS`).

The slow grid points (exact attention and exact gradients at ``n ≥ 2^15``, polynomial attention
at ``n = 2^17`` and ``R = 9`` beyond ``2^11``) live in :mod:`benchmarks.bench_slow`, which asv
discovers only when ``PTL_ASV_SLOW=1`` is set (docs/asv.md).
"""

from __future__ import annotations

import os
from importlib.util import find_spec

from reference._threads import pin_threads

SLOW_SUITE_ENABLED = os.environ.get("PTL_ASV_SLOW") == "1"
#: BLAS/OpenMP/torch threads of every benchmark process (asv imports this package first in each):
#: one, so a time does not depend on what else the shared machine runs. Recorded in the results
#: by ``bench_attention.TrackThreads``.
BENCH_THREADS = 1
pin_threads(BENCH_THREADS)


def torch_available() -> bool:
    """Whether torch is installed (the SDPA peer benchmarks are skipped, not failed, without
    it). Looked up without importing: every benchmark process imports this module."""
    return find_spec("torch") is not None


def performer_available() -> bool:
    """Whether performer-pytorch is installed (the random-feature comparison needs it)."""
    return find_spec("performer_pytorch") is not None
