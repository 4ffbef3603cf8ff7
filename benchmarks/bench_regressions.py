"""asv benchmarks whose *increase* is the regression (asv reads every number as lower-is-better):
lost speed as polynomial time / baseline time, lost accuracy margin as measured error / certified
bound. ``asv compare`` and ``asv continuous`` flag them like slower times (docs/asv.md,
"Catching regressions").

* ``TrackTimeRatios``: polynomial time / exact time and polynomial time / torch SDPA float32
  time at n = 2^14, R = 1, medians of 3 measured in one process (one thread: ``benchmarks``);
  the inverse of ``bench_fast_attention.TrackSpeedup``'s speedups.
* ``TrackErrorOverBound``: the worst per-column measured error / certified bound of polynomial
  attention at n = 2048 (first 256 queries against exact attention), R ≤ 4: at most 1 while the
  certificate holds; a rise means the approximation lost margin against its own bound.
* ``TimeCPU``: process CPU time (asv's ``timer = time.process_time``) of polynomial attention
  (R = 1) and exact attention, 20 samples each. With one thread it equals the wall time on an
  idle machine, but it leaves out the time spent waiting for a core, so on a shared machine it is
  the time to compare between commits (docs/asv.md: it catches a 10 % slowdown where the wall
  time of the same runs does not).
"""

from __future__ import annotations

import time

from asv_runner.benchmarks.mark import skip_benchmark_if, skip_for_params

from benchmarks import torch_available

RATIO_N = 1 << 14
RATIO_RADIUS = 1.0
ERROR_N = 2048
ERROR_RADII = [0.25, 1.0, 2.0, 4.0]
EPS = 1e-3


class TrackTimeRatios:
    timeout = 300

    def setup_cache(self) -> dict:
        from verify.claims.efficiency.timing import time_exact, time_polynomial, torch_sdpa_time

        poly = time_polynomial(RATIO_N, RATIO_RADIUS)
        exact = time_exact(RATIO_N, RATIO_RADIUS)
        torch32 = torch_sdpa_time(RATIO_N, RATIO_RADIUS, "float32")
        return {"exact": poly / exact, "float32": None if torch32 is None else poly / torch32}

    def track_polynomial_over_exact_time(self, cache: dict) -> float:
        return cache["exact"]

    track_polynomial_over_exact_time.unit = "time ratio"

    @skip_benchmark_if(not torch_available())
    def track_polynomial_over_torch_float32_time(self, cache: dict) -> float:
        return cache["float32"]

    track_polynomial_over_torch_float32_time.unit = "time ratio"


class TrackErrorOverBound:
    params = ERROR_RADII
    param_names = ("R",)
    timeout = 300

    def setup_cache(self) -> dict:
        from verify.claims.efficiency.timing import measured_error

        return {r: measured_error(ERROR_N, r, eps=EPS, rows=256) for r in ERROR_RADII}

    def track_polynomial_error_over_bound(self, cache: dict, radius: float) -> float:
        return cache[radius]["error_over_bound"]

    track_polynomial_error_over_bound.unit = "error / bound"


class TimeCPU:
    params = ([1 << 12, 1 << 14, 1 << 16],)
    param_names = ("n",)
    timer = time.process_time
    number = 1
    repeat = (10, 20, 60.0)
    warmup_time = 0.0
    timeout = 600

    def setup(self, n: int) -> None:
        from reference.efficiency.planning import plan
        from verify.claims.efficiency.timing import DIM, regime_inputs

        self.q, self.k, self.v = regime_inputs(n, RATIO_RADIUS)
        plan(n, n, DIM, DIM, radius=RATIO_RADIUS, eps=EPS)  # fit outside the timing

    def time_polynomial_attention_cpu(self, n: int) -> None:
        from reference import fast_attention
        from verify.claims.efficiency.timing import SCALE

        fast_attention(
            self.q, self.k, self.v, scale=SCALE, eps=EPS, R=RATIO_RADIUS, allow_slower=True
        )

    @skip_for_params([(1 << 14,), (1 << 16,)])  # seconds per call: 2^12 only
    def time_exact_attention_cpu(self, n: int) -> None:
        from reference import attention
        from verify.claims.efficiency.timing import SCALE

        attention(self.q, self.k, self.v, scale=SCALE)
