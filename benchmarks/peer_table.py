"""The peer table of issue 18: certified polynomial attention against torch SDPA and exact numpy
attention, measured in one run on one thread, with the machine's compute-bound time.

Run ``python -m benchmarks.peer_table`` (``--help`` for the options). Inputs: ``d = d_v = 8``,
entries ``U[−1, 1]``, scale ``1/d``, ``ε = 1e-3``, ``n = m``. Every BLAS pool (threadpoolctl),
OpenMP and torch run one thread; the settings in effect are printed with the table. Each
repeat times every method once, in turn (alternating, so a change in the machine's load hits all
of them alike), and the table shows medians. The compute-bound time is the polynomial method's
operation count (:func:`reference.efficiency.planning.polynomial_cost`: the two GEMM passes and
the feature products) over the measured peak rate of a large square numpy GEMM on one thread.

This module is not an asv benchmark (no ``time_``/``track_``/``peakmem_`` names); torch is
imported inside the functions that use it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

DIM = 8
EPS = 1e-3
METHODS = ("polynomial", "torch_float32", "torch_float64", "numpy_exact")
GEMM_SIZES = (256, 512, 1536)


@contextmanager
def one_thread() -> Iterator[dict]:
    """Every BLAS/OpenMP pool (threadpoolctl, when installed) and torch on one thread; yields
    what is in effect."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    settings: dict = {}
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # the environment variables above still apply to fresh pools
        limits = None
    else:
        limits = threadpool_limits(limits=1)
        settings["threadpools"] = [
            f"{p['internal_api']} {p.get('version')}: {p['num_threads']} thread(s)"
            for p in threadpool_info()
        ]
    try:
        import torch
    except ImportError:
        settings["torch"] = "not installed"
    else:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        settings["torch"] = f"{torch.__version__}: {torch.get_num_threads()} thread(s)"
    try:
        yield settings
    finally:
        if "torch" in settings and not settings["torch"].startswith("not"):
            torch.set_num_threads(previous)
        if limits is not None:
            limits.unregister()


def peak_gemm_rate(dtype: type = np.float64, sizes: tuple[int, ...] = GEMM_SIZES) -> float:
    """FLOP/s of the best square numpy GEMM (``2·s³`` FLOPs, best of 5 per size ``s``; the
    small sizes run in cache, the large ones from memory).

    >>> from benchmarks.peer_table import peak_gemm_rate
    >>> peak_gemm_rate(sizes=(64,)) > 0
    True
    """
    best_rate = 0.0
    for size in sizes:
        a = np.random.default_rng(0).standard_normal((size, size)).astype(dtype)  # (s, s)
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - start)
        best_rate = max(best_rate, 2.0 * size**3 / best)
    return best_rate


def uniform_inputs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``q, k, v`` ``(n, 8)`` with entries ``U[−1, 1]``."""
    rng = np.random.default_rng(seed)
    q, k, v = (rng.uniform(-1.0, 1.0, (n, DIM)) for _ in range(3))  # (n, d) each
    return q, k, v


def method_calls(n: int, methods: tuple[str, ...]) -> dict[str, Callable[[], Any]]:
    """One zero-argument call per method on the inputs of size ``n`` (the fit is made once,
    outside the timing, by a first call)."""
    from reference import attention, fast_attention

    q, k, v = uniform_inputs(n)
    scale = 1.0 / DIM
    calls: dict[str, Callable[[], Any]] = {}
    if "polynomial" in methods:
        calls["polynomial"] = lambda: fast_attention(q, k, v, scale=scale, eps=EPS)
    if "numpy_exact" in methods:
        calls["numpy_exact"] = lambda: attention(q, k, v, scale=scale)
    torch_methods = [m for m in methods if m.startswith("torch_")]
    if torch_methods:
        import torch

        sdpa = torch.nn.functional.scaled_dot_product_attention
        for name in torch_methods:
            dtype = {"torch_float32": torch.float32, "torch_float64": torch.float64}[name]
            args = [torch.from_numpy(a).to(dtype)[None, None] for a in (q, k, v)]  # (1, 1, n, d)
            calls[name] = lambda args=args: sdpa(*args, scale=scale)
    return calls


def measure(
    exponents: list[int], repeats: int, exact_max: int, torch_max: int
) -> tuple[dict[int, dict[str, list[float]]], dict[int, int]]:
    """Seconds per call ``{n: {method: [one per repeat]}}``, repeats alternating over the
    methods (numpy exact only up to ``2^exact_max``, torch up to ``2^torch_max``), and the
    polynomial method's rank at each ``n``."""
    samples: dict[int, dict[str, list[float]]] = {}
    ranks: dict[int, int] = {}
    for e in exponents:
        n = 1 << e
        methods = tuple(
            m
            for m in METHODS
            if not (m == "numpy_exact" and e > exact_max)
            and not (m.startswith("torch_") and e > torch_max)
        )
        calls = method_calls(n, methods)
        ranks[n] = calls["polynomial"]().rank  # the fit, outside the timing
        for warm_up in method_calls(1 << 10, methods).values():
            warm_up()  # each kernel once at a small size
        samples[n] = {name: [] for name in calls}
        for _ in range(repeats):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                samples[n][name].append(time.perf_counter() - start)
    return samples, ranks


def compute_bound(n: int, rank: int, rate: float) -> tuple[float, float]:
    """The polynomial method's operation count at ``n = m``, ``d = d_v = 8`` and ``rank``
    (:func:`reference.efficiency.planning.polynomial_cost`) and its time at ``rate`` FLOP/s.

    >>> from benchmarks.peer_table import compute_bound
    >>> round(compute_bound(1 << 15, 495, 50e9)[0] / 1e9, 4)  # GFLOP: (n + m)·r·(2(d_v + 1) + 2)
    0.6488
    """
    from reference.efficiency.planning import polynomial_cost

    flops = polynomial_cost(n, n, rank, DIM)
    return flops, flops / rate


def block_limits(n: int, rank: int, repeats: int = 50) -> dict[str, float]:
    """The measured cost of the blocked method's parts on one cache-sized block (best of
    ``repeats``): building its features (elements/s), the key product ``(r, b) @ (b, d_v + 1)``
    and the query product ``(b, r) @ (r, d_v + 1)`` in the chunks the passes use (FLOP/s), and
    the time they add up to at
    ``n = m`` (both passes, every block; the rest of the call is not in it).

    >>> from benchmarks.peer_table import block_limits
    >>> sorted(block_limits(256, 45, repeats=2))
    ['blocked_floor_s', 'feature_rate', 'key_gemm_rate', 'query_gemm_rate', 'rows']
    """
    from reference.efficiency.features import BlockFeatures, _chunks, monomial_table
    from reference.efficiency.polynomial import cache_block_rows

    degree = next(g for g in range(64) if monomial_table(DIM, g).rank == rank)
    rows = min(n, cache_block_rows(rank))
    blocks = BlockFeatures(monomial_table(DIM, degree), rows)
    x, v1 = uniform_inputs(rows)[:2]  # (b, d) rows; (b, d) values, widened to d_v + 1 below
    v1 = np.hstack([v1, np.ones((rows, 1))])  # (b, d_v+1)
    weights = np.random.default_rng(1).random((rank, DIM + 1))  # (r, d_v+1)
    key_out, query_out = np.empty((rank, DIM + 1)), np.empty((rows, DIM + 1))

    def best(call: Callable[[], Any]) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return min(times)

    features = blocks.of(x, 0.35)  # (r, b)
    key_chunks, query_chunks = _chunks(rank, rows * (DIM + 1)), _chunks(rows, rank * (DIM + 1))

    def key() -> None:  # the products as the key and query passes split them
        for lo, hi in key_chunks:
            np.matmul(features[lo:hi], v1, out=key_out[lo:hi])

    def query() -> None:
        for lo, hi in query_chunks:
            np.matmul(features[:, lo:hi].T, weights, out=query_out[lo:hi])

    t_feat = best(lambda: blocks.of(x, 0.35))
    t_key, t_query = best(key), best(query)
    flops = 2.0 * rank * rows * (DIM + 1)
    return {
        "rows": rows,
        "feature_rate": rank * rows / t_feat,
        "key_gemm_rate": flops / t_key,
        "query_gemm_rate": flops / t_query,
        "blocked_floor_s": n / rows * (2 * t_feat + t_key + t_query),
    }


def _milliseconds(med: dict[str, float], name: str) -> str:
    return f"{1e3 * med[name]:.1f} ms" if name in med else "—"


def table(samples: dict[int, dict[str, list[float]]], ranks: dict[int, int], rate: float) -> str:
    """The markdown table of medians (ms), the speedups against torch float32 and the
    compute-bound time (``ranks``: the polynomial method's rank at each ``n``)."""
    head = (
        "| n | polynomial | torch f32 | torch f64 | numpy exact | poly vs torch f32 "
        "| compute bound | poly / bound |"
    )
    lines = [head, "|" + "---|" * 8]
    for n, by_method in samples.items():
        med = {name: statistics.median(times) for name, times in by_method.items()}
        flops, bound = compute_bound(n, ranks[n], rate)
        ratio = (
            f"{med['torch_float32'] / med['polynomial']:.1f}×" if "torch_float32" in med else "—"
        )
        cells = [_milliseconds(med, name) for name in METHODS]
        lines.append(
            f"| 2^{n.bit_length() - 1} | {' | '.join(cells)} | {ratio} "
            f"| {1e3 * bound:.1f} ms ({flops / 1e9:.2f} GFLOP, r = {ranks[n]}) "
            f"| {med['polynomial'] / bound:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Measure and print the table; returns the raw samples and settings (also written to
    ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer_table", description=__doc__)
    parser.add_argument("--exponents", type=int, nargs="+", default=[14, 15, 16])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exact-max", type=int, default=16, help="numpy exact up to 2^this")
    parser.add_argument("--torch-max", type=int, default=16, help="torch SDPA up to 2^this")
    parser.add_argument("--json", default="", help="write the samples to this file")
    args = parser.parse_args(argv)
    with one_thread() as settings:
        rate64 = peak_gemm_rate(np.float64)
        rate32 = peak_gemm_rate(np.float32)
        samples, ranks = measure(args.exponents, args.repeats, args.exact_max, args.torch_max)
        rate64_after = peak_gemm_rate(np.float64)
        text = table(samples, ranks, max(rate64, rate64_after))
        limits = {n: block_limits(n, ranks[n]) for n in samples}
    print(text)
    print(
        f"\npeak numpy GEMM, 1 thread (best of {GEMM_SIZES}²): float64 {rate64 / 1e9:.1f} GFLOP/s "
        f"before, {rate64_after / 1e9:.1f} after the table; float32 {rate32 / 1e9:.1f} GFLOP/s"
    )
    for n, lim in limits.items():
        print(
            f"2^{n.bit_length() - 1}: one block of {lim['rows']} rows (best of 50): features "
            f"{lim['feature_rate'] / 1e9:.2f} G elements/s, key GEMM "
            f"{lim['key_gemm_rate'] / 1e9:.1f} GFLOP/s, query GEMM "
            f"{lim['query_gemm_rate'] / 1e9:.1f} GFLOP/s; their sum over the blocks "
            f"{1e3 * lim['blocked_floor_s']:.1f} ms"
        )
    print(f"medians of {args.repeats} alternating repeats; threads: {settings}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    out = {
        "samples": {str(n): s for n, s in samples.items()},
        "ranks": {str(n): r for n, r in ranks.items()},
        "gemm_rate_float64": [rate64, rate64_after],
        "gemm_rate_float32": rate32,
        "threads": settings,
        "block_limits": {str(n): lim for n, lim in limits.items()},
    }
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
    return out


if __name__ == "__main__":
    main()
