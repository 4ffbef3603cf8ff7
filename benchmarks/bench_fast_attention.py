"""asv benchmarks: exact vs certified polynomial attention across lengths and norm regimes.

``n = m`` from 2^10 to 2^17 at ``d = 8``, ``R ∈ {0.25, 1, 4, 9}`` (below, near and beyond the
crossover), ``eps = 1e-3``. ``exact`` is :func:`reference.attention` (in-place chunked numpy),
timed at R = 1 only (it does not depend on R). Exact attention is skipped above 2^16
(minutes per call) and the polynomial method at ``R = 9`` above 2^12 (rank 490314: it loses,
and the benchmark shows where).
``track_*`` values are computed once in ``setup_cache``: fitted log-log runtime exponents,
certified and measured errors, degrees and ranks. Peers (torch SDPA float32/float64) run when
torch is importable and are skipped otherwise.
"""

from __future__ import annotations

SIZES = [1 << e for e in range(10, 18)]
RADII = (0.25, 1.0, 4.0, 9.0)
EPS = 1e-3
EXACT_MAX = 1 << 16
R9_MAX = 1 << 11


class TimeAttention:
    params = (SIZES, RADII, ["exact", "polynomial"])
    param_names = (
        "n",
        "R",
        "method",
    )
    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0.0
    timeout = 900

    def setup(self, n: int, radius: float, method: str) -> None:
        if method == "exact" and radius != 1.0:
            raise NotImplementedError("exact attention does not depend on R: timed at R = 1")
        if method == "exact" and n > EXACT_MAX:
            raise NotImplementedError("exact attention above 2^16 takes minutes per call")
        if method == "polynomial" and radius >= 9 and n > R9_MAX:
            raise NotImplementedError("R = 9 polynomial above 2^11: minutes per call")
        from reference.polynomial_attention import plan
        from verify.efficiency_timing import DIM, regime_inputs

        self.q, self.k, self.v = regime_inputs(n, radius)
        plan(n, n, DIM, DIM, radius=radius, eps=EPS)  # fit outside the timing

    def time_attention(self, n: int, radius: float, method: str) -> None:
        from reference import attention
        from reference.polynomial_attention import fast_attention
        from verify.efficiency_timing import SCALE

        if method == "exact":
            attention(self.q, self.k, self.v, scale=SCALE)
        else:
            fast_attention(
                self.q,
                self.k,
                self.v,
                scale=SCALE,
                eps=EPS,
                R=radius,
                allow_slower=True,
                max_rank=1 << 20,
            )


class TimeTorchSDPA:
    params = ([1 << e for e in range(10, 17)], ["float32", "float64"])
    param_names = (
        "n",
        "dtype",
    )
    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0.0
    timeout = 900

    def setup(self, n: int, dtype: str) -> None:
        try:
            import torch
        except ImportError as exc:
            raise NotImplementedError("torch is not installed") from exc
        from verify.efficiency_timing import regime_inputs

        tt = {"float32": torch.float32, "float64": torch.float64}[dtype]
        self.args = [torch.from_numpy(a).to(tt)[None, None] for a in regime_inputs(n, 1.0)]
        self.sdpa = torch.nn.functional.scaled_dot_product_attention

    def time_sdpa(self, n: int, dtype: str) -> None:
        from verify.efficiency_timing import SCALE

        self.sdpa(*self.args, scale=SCALE)


class TrackScaling:
    """Fitted exponents and errors, computed once (seconds to a minute)."""

    timeout = 900

    def setup_cache(self) -> dict:
        from verify.efficiency_timing import (
            fitted_exponent,
            measured_error,
            time_exact,
            time_polynomial,
        )

        poly_sizes = [1 << e for e in range(12, 18)]
        exact_sizes = [1 << e for e in range(10, 14)]
        out = {"poly_exponent": {}, "error": {}, "bound": {}, "rank": {}}
        for radius in (0.25, 1.0, 4.0):
            times = [time_polynomial(n, radius) for n in poly_sizes]
            out["poly_exponent"][radius] = fitted_exponent(poly_sizes, times)
        out["exact_exponent"] = fitted_exponent(
            exact_sizes, [time_exact(n, 1.0) for n in exact_sizes]
        )
        for radius in RADII:
            err = measured_error(4096, radius, eps=EPS, rows=256)
            out["error"][radius] = err["error"] / err["v_max"]
            out["bound"][radius] = err["bound"] / err["v_max"]
            out["rank"][radius] = err["rank"]
        return out

    def track_poly_exponent_R1(self, cache: dict) -> float:
        return cache["poly_exponent"][1.0]

    def track_poly_exponent_R025(self, cache: dict) -> float:
        return cache["poly_exponent"][0.25]

    def track_poly_exponent_R4(self, cache: dict) -> float:
        return cache["poly_exponent"][4.0]

    def track_exact_exponent(self, cache: dict) -> float:
        return cache["exact_exponent"]

    def track_measured_error_over_vmax(self, cache: dict, radius: float) -> float:
        return cache["error"][radius]

    track_measured_error_over_vmax.params = RADII
    track_measured_error_over_vmax.param_names = ("R",)

    def track_certified_bound_over_vmax(self, cache: dict, radius: float) -> float:
        return cache["bound"][radius]

    track_certified_bound_over_vmax.params = RADII
    track_certified_bound_over_vmax.param_names = ("R",)

    def track_rank(self, cache: dict, radius: float) -> float:
        return cache["rank"][radius]

    track_rank.params = RADII
    track_rank.param_names = ("R",)


class TrackCertifiedVsRandomFeatures:
    """Error / ‖V‖_max at n = 2048 of the certified polynomial method and of performer-pytorch's
    FAVOR+ random features at the same feature count (skipped when performer is missing)."""

    params = (0.25, 1.0, 2.0, 4.0)
    param_names = ("R",)
    timeout = 600

    def setup(self, radius: float) -> None:
        try:
            import performer_pytorch  # noqa: F401
        except ImportError as exc:
            raise NotImplementedError("performer-pytorch is not installed") from exc
        from verify.efficiency_timing import measured_error

        self.err = measured_error(2048, radius)

    def track_polynomial_error_over_vmax(self, radius: float) -> float:
        return self.err["error"] / self.err["v_max"]

    def track_random_feature_error_over_vmax(self, radius: float) -> float:
        from verify.efficiency_timing import performer_error

        return performer_error(2048, radius, self.err["rank"])
