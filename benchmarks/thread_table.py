"""Threads 1 vs 2 for the benchmarked calls, alternating in one process (docs/asv.md, "Threads").

``python -m benchmarks.thread_table 14 15 16`` prints, per call and size ``2^e``, the median
time with one BLAS/torch thread, with two threads and the library's small-product choice
(:func:`reference._threads.one_blas_thread_below`), and with two threads and the choice switched
off. The three settings alternate call by call, so a load that changes during the measurement
hits all three alike. Minutes (exact attention at 2^15 takes tens of seconds); exact attention
stops at 2^15, the exact gradient at 2^14.

This module defines no benchmark (asv imports every module of ``benchmarks/``).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

SETTINGS = ("1", "2", "2 without the choice")


def _once(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure(call: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median seconds of ``call`` per setting of :data:`SETTINGS`, alternating."""
    import torch
    from threadpoolctl import ThreadpoolController

    import reference._threads as threads

    controller, choice = ThreadpoolController(), threads.SMALL_PRODUCT_FLOPS
    call()  # warm-up
    samples: dict[str, list[float]] = {s: [] for s in SETTINGS}
    try:
        for _ in range(repeats):
            for setting in SETTINGS:
                count = 1 if setting == "1" else 2
                threads.SMALL_PRODUCT_FLOPS = 0 if "without" in setting else choice
                torch.set_num_threads(count)
                with controller.limit(limits=count, user_api="blas"):
                    samples[setting].append(_once(call))
    finally:
        threads.SMALL_PRODUCT_FLOPS = choice
        torch.set_num_threads(1)
    return {s: statistics.median(v) for s, v in samples.items()}


def calls(exponent: int) -> dict[str, tuple[Callable[[], Any], int]]:
    """The benchmarked calls at ``n = 2^exponent`` (d = 8, R = 1, ε = 1e-3), with repeats."""
    import numpy as np
    import torch

    from reference import attention, fast_attention
    from reference.efficiency.fast_gradient import exact_key_value_grad, low_rank_key_value_grad
    from reference.efficiency.planning import plan
    from reference.efficiency.prompt_cache import ExactPromptCache, PolynomialPromptCache
    from verify.claims.efficiency.timing import DIM, SCALE, prompt_setup, regime_inputs

    n = 1 << exponent
    q, k, v = regime_inputs(n, 1.0)
    g = np.random.default_rng(1).standard_normal(v.shape)  # (n, d)
    plan(n, n, DIM, DIM, radius=1.0, eps=1e-3)
    tq, tk, tv = (torch.from_numpy(a).float()[None, None] for a in (q, k, v))
    model, prompt, xs, _ = prompt_setup(n)
    poly_cache = PolynomialPromptCache.build(model, prompt, eps=1e-3, radius=1.0)
    exact_cache = ExactPromptCache.build(model, prompt)

    def sdpa() -> None:
        with torch.no_grad():
            torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, scale=SCALE)

    out: dict[str, tuple[Callable[[], Any], int]] = {
        "fast_attention": (
            lambda: fast_attention(q, k, v, scale=SCALE, eps=1e-3, R=1.0, allow_slower=True),
            5,
        ),
        "low_rank_key_value_grad": (
            lambda: low_rank_key_value_grad(q, k, v, g, scale=SCALE, eps=1e-3, R=1.0),
            3,
        ),
        "torch SDPA float32": (sdpa, 3 if exponent < 16 else 1),
        "PolynomialPromptCache.forward (Lp = n)": (lambda: poly_cache.forward(xs), 7),
        "ExactPromptCache.forward (Lp = n)": (lambda: exact_cache.forward(xs), 7),
    }
    if exponent <= 15:
        out["attention (exact)"] = (
            lambda: attention(q, k, v, scale=SCALE),
            3 if exponent < 15 else 1,
        )
    if exponent <= 14:
        out["exact_key_value_grad"] = (lambda: exact_key_value_grad(q, k, v, g, scale=SCALE), 1)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    exponents = [int(a) for a in (sys.argv[1:] if argv is None else argv)] or [14, 15, 16]
    print("| call | n | 1 thread | 2 threads, library's choice | 2 threads, no choice |")
    print("|---|---|---|---|---|")
    for exponent in exponents:
        for name, (call, repeats) in calls(exponent).items():
            med = measure(call, repeats)
            one = med["1"]
            cells = [f"{1e3 * one:.1f} ms"] + [
                f"{1e3 * med[s]:.1f} ms ({med[s] / one:.2f}×)" for s in SETTINGS[1:]
            ]
            print(f"| {name} | 2^{exponent} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
