"""The slow grid points (minutes in total): discovered only with ``PTL_ASV_SLOW=1``.

``PTL_ASV_SLOW=1 asv run --python=same --bench bench_slow`` times exact attention at 2^15 and
2^16, polynomial attention at 2^17 (R ≤ 1), 2^16 (R = 4) and 2^12 (R = 9), and the exact and
low-rank key/value gradients at 2^15. Without the variable this module defines no benchmark, so
``asv run --python=same --quick`` stays quick (docs/asv.md).
"""

from __future__ import annotations

from benchmarks import SLOW_SUITE_ENABLED

EPS = 1e-3

if SLOW_SUITE_ENABLED:

    class SlowExactAttention:
        params = ([1 << 15, 1 << 16],)
        param_names = ("n",)
        number = 1
        repeat = (1, 3, 120.0)
        warmup_time = 0.0
        timeout = 1800

        def setup(self, n: int) -> None:
            from verify.efficiency_timing import regime_inputs

            self.q, self.k, self.v = regime_inputs(n, 1.0)

        def time_exact_attention(self, n: int) -> None:
            from reference import attention
            from verify.efficiency_timing import SCALE

            attention(self.q, self.k, self.v, scale=SCALE)

    class SlowPolynomialAttention:
        params = ([(1 << 17, 0.25), (1 << 17, 1.0), (1 << 16, 4.0), (1 << 12, 9.0)],)
        param_names = ("n, R",)
        number = 1
        repeat = (1, 3, 120.0)
        warmup_time = 0.0
        timeout = 1800

        def setup(self, point: tuple[int, float]) -> None:
            from reference.polynomial_attention import plan
            from verify.efficiency_timing import DIM, regime_inputs

            n, radius = point
            self.q, self.k, self.v = regime_inputs(n, radius)
            plan(n, n, DIM, DIM, radius=radius, eps=EPS)

        def time_polynomial_attention(self, point: tuple[int, float]) -> None:
            from reference import fast_attention
            from verify.efficiency_timing import SCALE

            fast_attention(
                self.q,
                self.k,
                self.v,
                scale=SCALE,
                eps=EPS,
                R=point[1],
                allow_slower=True,
                max_rank=1 << 20,
            )

    class SlowGradients:
        params = ([1 << 15], ["exact", "low_rank"])
        param_names = ("n", "method")
        number = 1
        repeat = (1, 3, 120.0)
        warmup_time = 0.0
        timeout = 1800

        def setup(self, n: int, method: str) -> None:
            import numpy as np

            from verify.efficiency_timing import regime_inputs

            self.q, self.k, self.v = regime_inputs(n, 1.0)
            self.g = np.random.default_rng(1).standard_normal(self.v.shape)  # (n, d)

        def time_key_value_grad(self, n: int, method: str) -> None:
            from reference.fast_gradient import exact_key_value_grad, low_rank_key_value_grad
            from verify.efficiency_timing import SCALE

            if method == "exact":
                exact_key_value_grad(self.q, self.k, self.v, self.g, scale=SCALE)
            else:
                low_rank_key_value_grad(self.q, self.k, self.v, self.g, scale=SCALE, eps=EPS, R=1.0)
