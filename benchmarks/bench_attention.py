"""Exact attention across sequence lengths (the baseline every speedup is a ratio against).

Run: ``asv run --python=same --quick --show-stderr --bench bench_attention``.
"""

from __future__ import annotations

import numpy as np

from reference import attention

D = 8


class ExactAttention:
    """softmax(q kᵀ / d) v with n = m = 2^k, d = 8, chunked over query rows (float64)."""

    params = [[2**k for k in range(8, 15, 2)], ["float64", "float32"]]
    param_names = ["n", "dtype"]
    timeout = 600

    def setup(self, n: int, dtype: str) -> None:
        rng = np.random.default_rng(n)
        self.q = rng.standard_normal((n, D)).astype(dtype)  # (n, d)
        self.k = rng.standard_normal((n, D)).astype(dtype)  # (n, d)
        self.v = rng.standard_normal((n, D)).astype(dtype)  # (n, d)

    def time_exact_attention(self, n: int, dtype: str) -> None:
        attention(self.q, self.k, self.v, scale=1.0 / D)


class ExactAttentionScaling:
    """Fitted log-log exponent of exact-attention runtime in n (≈ 2 for quadratic cost)."""

    timeout = 600

    def setup_cache(self) -> dict[str, float]:
        import time

        lengths = [2**k for k in range(9, 13)]
        times = []
        rng = np.random.default_rng(0)
        for n in lengths:
            q, k, v = (rng.standard_normal((n, D)) for _ in range(3))
            best = np.inf
            for _ in range(3):
                t0 = time.perf_counter()
                attention(q, k, v, scale=1.0 / D)
                best = min(best, time.perf_counter() - t0)
            times.append(best)
        slope = np.polyfit(np.log(lengths), np.log(times), 1)[0]
        return {"exponent": float(slope)}

    def track_exact_runtime_exponent(self, cache: dict[str, float]) -> float:
        return cache["exponent"]

    track_exact_runtime_exponent.unit = "exponent"
