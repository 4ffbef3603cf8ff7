"""asv benchmarks: prompt-tuning inference per input with a prompt cache, Lp = 2^8, 2^12, 2^16.

``exact_cached`` keeps the prompt's keys and values (``O(L·(Lp+L)·d)`` per input);
``polynomial_cached`` keeps ``ψ(K_P)ᵀ[V_P, 1]`` (``O(L·r·d)`` per input, independent of Lp).
The caches are built in ``setup``; the timing is one batch of 8 inputs of length 16. ``peakmem_*``
are asv's peak resident memory of the benchmark process (everything it holds, inputs included).
"""

from __future__ import annotations

PROMPT_LENGTHS = [1 << e for e in range(8, 17, 4)]
RADIUS = 1.0  # the logit radius the polynomial cache is declared with
EPS = 1e-3


class TimePromptInference:
    params = (PROMPT_LENGTHS, ["exact_cached", "polynomial_cached", "uncached"])
    param_names = (
        "Lp",
        "method",
    )
    timeout = 600

    def setup(self, lp: int, method: str) -> None:
        from reference import prompt_forward
        from reference.efficiency.prompt_cache import ExactPromptCache, PolynomialPromptCache
        from verify.claims.efficiency.timing import prompt_setup

        model, prompt, self.xs, needed = prompt_setup(lp)
        if method == "polynomial_cached":
            if needed > RADIUS:
                raise ValueError(  # a broken setup, not a skip: fail loudly
                    f"the inputs need a logit radius {needed:.4g} > the declared R = {RADIUS}"
                )
            self.run = PolynomialPromptCache.build(model, prompt, eps=EPS, radius=RADIUS).forward
        elif method == "exact_cached":
            self.run = ExactPromptCache.build(model, prompt).forward
        else:
            self.run = lambda xs: prompt_forward(model, prompt, xs)

    def time_batch_of_8(self, lp: int, method: str) -> None:
        self.run(self.xs)

    def peakmem_batch_of_8(self, lp: int, method: str) -> None:
        """Peak resident memory of the process (asv: interpreter, model, prompt, cache and
        inputs included) after one batch: the cache's own size shows as the difference
        between methods at one Lp, its growth in Lp along each method's line."""
        self.run(self.xs)


class TimeGradients:
    """Key/value gradients of attention, exact (chunked) vs low-rank, R = 1, n = m = 2^10, 2^12,
    2^14 (2^15 is in ``bench_slow``)."""

    params = ([1 << e for e in range(10, 15, 2)], ["exact", "low_rank"])
    param_names = (
        "n",
        "method",
    )
    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0.0
    timeout = 900

    def setup(self, n: int, method: str) -> None:
        import numpy as np

        from reference.efficiency.planning import plan
        from verify.claims.efficiency.timing import DIM, regime_inputs

        self.q, self.k, self.v = regime_inputs(n, 1.0)
        self.g = np.random.default_rng(1).standard_normal(self.v.shape)
        plan(n, n, DIM, DIM, radius=1.0, eps=1e-3)

    def time_key_value_grad(self, n: int, method: str) -> None:
        from reference.efficiency.fast_gradient import exact_key_value_grad, low_rank_key_value_grad
        from verify.claims.efficiency.timing import SCALE

        if method == "exact":
            exact_key_value_grad(self.q, self.k, self.v, self.g, scale=SCALE)
        else:
            low_rank_key_value_grad(self.q, self.k, self.v, self.g, scale=SCALE, eps=1e-3, R=1.0)

    def peakmem_key_value_grad(self, n: int, method: str) -> None:
        """Peak resident memory of the process after one gradient (inputs and interpreter
        included, as asv measures it): exact is chunked, low-rank holds ``O(n·r)`` features."""
        self.time_key_value_grad(n, method)


class TrackPromptCache:
    timeout = 600

    def setup_cache(self) -> dict:
        from verify.claims.efficiency.timing import time_prompt_inference

        small = time_prompt_inference(1 << 8, "polynomial_cached")
        large = time_prompt_inference(1 << 16, "polynomial_cached")
        return {"ratio": large / small}

    def track_per_input_time_ratio_Lp65536_over_Lp256(self, cache: dict) -> float:
        return cache["ratio"]
