"""The slow grid points (minutes in total): discovered only with ``PTL_ASV_SLOW=1``.

``PTL_ASV_SLOW=1 asv run --python=same --bench bench_slow`` times exact attention at 2^15 and
2^16, polynomial attention at 2^17 (R ≤ 1), 2^16 (R = 4) and 2^10, 2^12 (R = 9), and the exact and
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
            from verify.claims.efficiency.timing import regime_inputs

            self.q, self.k, self.v = regime_inputs(n, 1.0)

        def time_exact_attention(self, n: int) -> None:
            from reference import attention
            from verify.claims.efficiency.timing import SCALE

            attention(self.q, self.k, self.v, scale=SCALE)

    # the quick suite's classes, under private names so asv does not discover them twice
    from benchmarks.bench_fast_attention import TimePolynomialAttention as _TimePolynomial
    from benchmarks.bench_fast_attention import _run_polynomial
    from benchmarks.bench_prompt_cache import TimeGradients as _TimeGradients

    class SlowPolynomialAttention(_TimePolynomial):
        params = (
            [(1 << 17, 0.25), (1 << 17, 1.0), (1 << 16, 4.0), (1 << 10, 9.0), (1 << 12, 9.0)],
        )
        param_names = ("n, R",)
        repeat = (1, 3, 120.0)
        timeout = 1800

        def setup(self, point: tuple[int, float]) -> None:
            super().setup(*point)

        def time_polynomial_attention(self, point: tuple[int, float]) -> None:
            _run_polynomial(self.q, self.k, self.v, point[1])

    class SlowGradients(_TimeGradients):
        params = ([1 << 15], ["exact", "low_rank"])
        repeat = (1, 3, 120.0)
        timeout = 1800
