"""Exact attention across sequence lengths (the baseline every speedup is a ratio against).

Run: ``asv run --python=same --quick --show-stderr --bench bench_attention``. Lengths above 2^14
are in :mod:`benchmarks.bench_slow`.
"""

from __future__ import annotations

import numpy as np
from asv_runner.benchmarks.mark import skip_benchmark_if

from benchmarks import torch_available
from reference import attention

D = 8
EXPONENT_SIZES = [1 << e for e in range(11, 15)]  # the one fitted exact-attention exponent


class ExactAttention:
    """softmax(q kᵀ / d) v with n = m = 2^k, d = 8, chunked over query rows."""

    params = [[1 << e for e in range(10, 15, 2)], ["float64", "float32"]]
    param_names = ["n", "dtype"]
    timeout = 300

    def setup(self, n: int, dtype: str) -> None:
        rng = np.random.default_rng(n)
        self.q = rng.standard_normal((n, D)).astype(dtype)  # (n, d)
        self.k = rng.standard_normal((n, D)).astype(dtype)  # (n, d)
        self.v = rng.standard_normal((n, D)).astype(dtype)  # (n, d)

    def time_exact_attention(self, n: int, dtype: str) -> None:
        attention(self.q, self.k, self.v, scale=1.0 / D)


class ExactAttentionScaling:
    """The fitted log-log exponent of exact-attention runtime in n over 2^11 … 2^14 (≈ 2 for
    quadratic cost; below 2 where fixed costs still matter). The only exact exponent of the
    suite: the polynomial exponents are in ``bench_fast_attention.TrackScaling``."""

    timeout = 300

    def setup_cache(self) -> float:
        from verify.claims.efficiency.timing import fitted_exponent, time_exact

        return fitted_exponent(EXPONENT_SIZES, [time_exact(n, 1.0) for n in EXPONENT_SIZES])

    def track_exact_runtime_exponent(self, exponent: float) -> float:
        return exponent

    track_exact_runtime_exponent.unit = "exponent"


class TrackThreads:
    """The thread counts the benchmark processes run with (``benchmarks.BENCH_THREADS``, set by
    ``reference._threads.pin_threads``), as the pools report them: recorded with every run, so a
    history step from a changed thread setting shows here, not only as a slower time."""

    def track_blas_threads(self) -> float:
        from reference._threads import thread_counts

        return thread_counts()["blas"] or 0

    track_blas_threads.unit = "threads"

    @skip_benchmark_if(not torch_available())
    def track_torch_threads(self) -> float:
        import torch

        return torch.get_num_threads()

    track_torch_threads.unit = "threads"
