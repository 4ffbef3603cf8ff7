"""asv benchmarks: certified polynomial attention across lengths and norm regimes, and its
speedups over exact attention and torch SDPA measured in one run.

``n = m`` from 2^10 to 2^16 at ``d = 8``, ``R ∈ {0.25, 1, 4}`` (below and near the crossover),
``eps = 1e-3``; ``R = 4`` up to 2^14 (the skipped cell shows as n/a). ``R = 9`` (rank 490314,
beyond the crossover: it loses, seconds per call) is timed in ``bench_slow``. Exact attention
is timed in ``bench_attention`` (it does not depend on R); the slow grid points are in
``bench_slow`` (``PTL_ASV_SLOW=1``). ``track_*`` values are computed once per class in
``setup_cache``: speedups as ratios of medians measured in the same process, fitted log-log
exponents, certified and measured errors, ranks. ``PeakMemPolynomialAttention`` is asv's peak
resident memory of a call; ``TrackWorkingMemory`` its traced working set beyond the output, in
feature blocks (flat in n: no ``(n, r)`` feature matrix). The one-thread table against torch
SDPA is ``python -m benchmarks.peer_table`` (not an asv benchmark).
"""

from __future__ import annotations

from asv_runner.benchmarks.mark import skip_benchmark_if, skip_for_params

from benchmarks import performer_available, torch_available

SIZES = [1 << e for e in range(10, 17, 2)]
RADII = [0.25, 1.0, 4.0]
R4_MAX = 1 << 14  # R = 4 at 2^16: seconds per call (bench_slow); R = 9 only in bench_slow
EPS = 1e-3
SPEEDUP_SIZES = [1 << 12, 1 << 14]
SPEEDUP_RADII = [0.25, 1.0, 4.0]
ERROR_N = 2048
ERROR_RADII = [0.25, 1.0, 2.0, 4.0]


def _run_polynomial(q, k, v, radius: float) -> None:
    from reference import fast_attention
    from verify.claims.efficiency.timing import SCALE

    fast_attention(q, k, v, scale=SCALE, eps=EPS, R=radius, allow_slower=True, max_rank=1 << 20)


class TimePolynomialAttention:
    params = (SIZES, RADII)
    param_names = ("n", "R")
    number = 1
    repeat = (1, 3, 30.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, n: int, radius: float) -> None:
        from reference.efficiency.planning import plan
        from verify.claims.efficiency.timing import DIM, regime_inputs

        self.q, self.k, self.v = regime_inputs(n, radius)
        plan(n, n, DIM, DIM, radius=radius, eps=EPS)  # fit outside the timing

    @skip_for_params([(n, 4.0) for n in SIZES if n > R4_MAX])
    def time_polynomial_attention(self, n: int, radius: float) -> None:
        _run_polynomial(self.q, self.k, self.v, radius)


class PeakMemPolynomialAttention:
    """asv's peak resident memory of one polynomial attention call at R = 1 (the process holds
    the inputs, the output and the blocked working set ``O(block·r + r·d_v)``): from 2^12 to
    2^16 it grows with the inputs and the output only."""

    params = [1 << 12, 1 << 14, 1 << 16]
    param_names = ("n",)
    timeout = 300

    def setup(self, n: int) -> None:
        from reference.efficiency.planning import plan
        from verify.claims.efficiency.timing import DIM, regime_inputs

        self.q, self.k, self.v = regime_inputs(n, 1.0)
        plan(n, n, DIM, DIM, radius=1.0, eps=EPS)

    def peakmem_polynomial_attention(self, n: int) -> None:
        _run_polynomial(self.q, self.k, self.v, 1.0)


class TrackWorkingMemory:
    """Peak traced numpy memory (tracemalloc) of one polynomial attention call at R = 1 beyond
    its output, over the bytes of one feature block ``r · rows`` (:func:`cache_block_rows`):
    the working set ``O(block·r + r·d_v)`` stays a few blocks whatever n (an implementation
    holding all ``(n, r)`` features would grow with n)."""

    params = [1 << 12, 1 << 14, 1 << 16]
    param_names = ("n",)
    timeout = 300

    def track_extra_memory_over_block(self, n: int) -> float:
        from reference.efficiency.polynomial import cache_block_rows
        from verify.claims.efficiency.timing import DIM, peak_memory_fast_attention, regime_inputs

        _run_polynomial(*regime_inputs(64, 1.0), 1.0)  # the monomial table, built once, untraced
        peak = peak_memory_fast_attention(n, 1.0, eps=EPS)
        block = 8 * peak["rank"] * cache_block_rows(peak["rank"])
        return (peak["peak_bytes"] - 8 * n * DIM) / block

    track_extra_memory_over_block.unit = "blocks"


class TimeTorchSDPA:
    """torch's ``scaled_dot_product_attention`` (default CPU kernel) at R = 1, n = 2^14 (every
    process that times it imports torch: one size keeps the quick run quick)."""

    params = ([1 << 14], ["float32", "float64"])
    param_names = ("n", "dtype")
    number = 1
    repeat = (1, 3, 30.0)
    warmup_time = 0.0
    timeout = 300

    def setup(self, n: int, dtype: str) -> None:
        import torch

        from verify.claims.efficiency.timing import regime_inputs

        tt = {"float32": torch.float32, "float64": torch.float64}[dtype]
        self.args = [torch.from_numpy(a).to(tt)[None, None] for a in regime_inputs(n, 1.0)]
        self.sdpa = torch.nn.functional.scaled_dot_product_attention

    @skip_benchmark_if(not torch_available())
    def time_sdpa(self, n: int, dtype: str) -> None:
        from verify.claims.efficiency.timing import SCALE

        self.sdpa(*self.args, scale=SCALE)


class TrackSpeedup:
    """Speedups of polynomial attention at n = 2^12, 2^14 and each R: exact time / polynomial
    time, and torch SDPA time / polynomial time (float32 and float64, when torch is
    installed). Every time is a median of 3 runs, all measured in one process (``setup_cache``):
    the exact and torch times once per n (their cost does not depend on R), the polynomial time
    once per (n, R). asv flags *increases* as regressions; for a speedup a drop is the
    regression (docs/asv.md)."""

    params = (SPEEDUP_SIZES, SPEEDUP_RADII)
    param_names = ("n", "R")
    timeout = 300

    def setup_cache(self) -> dict:
        from verify.claims.efficiency.timing import time_exact, time_polynomial, torch_sdpa_time

        out: dict = {}
        for n in SPEEDUP_SIZES:
            baselines = {
                "exact": time_exact(n, 1.0),
                "float32": torch_sdpa_time(n, 1.0, "float32"),
                "float64": torch_sdpa_time(n, 1.0, "float64"),
            }
            for radius in SPEEDUP_RADII:
                poly = time_polynomial(n, radius)
                out[f"{n} {radius}"] = {
                    name: (seconds / poly if seconds is not None else None)
                    for name, seconds in baselines.items()
                }
        return out

    def track_exact_over_polynomial(self, cache: dict, n: int, radius: float) -> float:
        return cache[f"{n} {radius}"]["exact"]

    track_exact_over_polynomial.unit = "speedup"

    @skip_benchmark_if(not torch_available())
    def track_torch_float32_over_polynomial(self, cache: dict, n: int, radius: float) -> float:
        return cache[f"{n} {radius}"]["float32"]

    track_torch_float32_over_polynomial.unit = "speedup"

    @skip_benchmark_if(not torch_available())
    def track_torch_float64_over_polynomial(self, cache: dict, n: int, radius: float) -> float:
        return cache[f"{n} {radius}"]["float64"]

    track_torch_float64_over_polynomial.unit = "speedup"


class TrackScaling:
    """Fitted log-log runtime exponents of polynomial attention (medians of 3 per size): over
    2^12 … 2^16 for R = 0.25 and 1, over 2^11 … 2^13 for R = 4 (seconds per call beyond)."""

    timeout = 300

    def setup_cache(self) -> dict:
        from verify.claims.efficiency.timing import fitted_exponent, time_polynomial

        ranges = {0.25: range(12, 17), 1.0: range(12, 17), 4.0: range(11, 14)}
        out = {}
        for radius, exponents in ranges.items():
            sizes = [1 << e for e in exponents]
            out[radius] = fitted_exponent(sizes, [time_polynomial(n, radius) for n in sizes])
        return out

    def track_poly_exponent_R025(self, cache: dict) -> float:
        return cache[0.25]

    def track_poly_exponent_R1(self, cache: dict) -> float:
        return cache[1.0]

    def track_poly_exponent_R4(self, cache: dict) -> float:
        return cache[4.0]

    track_poly_exponent_R025.unit = track_poly_exponent_R1.unit = "exponent"
    track_poly_exponent_R4.unit = "exponent"


class TrackCertifiedError:
    """Measured error, certified bound (both / ‖V‖_max) and rank of polynomial attention at
    n = 2048 (first 256 queries against exact attention), R ≤ 4; needs numpy only."""

    params = ERROR_RADII
    param_names = ("R",)
    timeout = 300

    def setup_cache(self) -> dict:
        from verify.claims.efficiency.timing import measured_error

        return {
            radius: measured_error(ERROR_N, radius, eps=EPS, rows=256) for radius in ERROR_RADII
        }

    def track_polynomial_error_over_vmax(self, cache: dict, radius: float) -> float:
        return cache[radius]["error"] / cache[radius]["v_max"]

    def track_certified_bound_over_vmax(self, cache: dict, radius: float) -> float:
        return cache[radius]["bound"] / cache[radius]["v_max"]

    def track_rank(self, cache: dict, radius: float) -> float:
        return cache[radius]["rank"]

    track_rank.unit = "features"


class TrackRandomFeatures:
    """Error / ‖V‖_max at n = 2048 of performer-pytorch's FAVOR+ random features with as many
    features as the certified method's rank (skipped when performer-pytorch is missing)."""

    params = ERROR_RADII
    param_names = ("R",)
    timeout = 300

    @skip_benchmark_if(not performer_available())
    def track_random_feature_error_over_vmax(self, radius: float) -> float:
        from reference.efficiency.planning import plan
        from verify.claims.efficiency.timing import DIM, performer_error

        rank = plan(ERROR_N, ERROR_N, DIM, DIM, radius=radius, eps=EPS)[1]
        return performer_error(ERROR_N, radius, rank)
