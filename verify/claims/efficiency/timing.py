"""Seeded inputs and in-process timing of exact vs polynomial attention (shared by the asv
benchmarks, the ``efficiency`` claim and the target measurements).

Timing rule: every number is a median of repeated wall-clock runs in one process, and speedups
are ratios of medians measured in the same run (the machine has two noisy cores). Run
``PYTHONPATH=. python -m verify.claims.efficiency.timing`` to measure the issue's targets.
"""

from __future__ import annotations

import math
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from reference import Transformer

from reference import attention
from reference.efficiency.fast_gradient import exact_key_value_grad, low_rank_key_value_grad
from reference.efficiency.planning import plan
from reference.efficiency.polynomial import fast_attention
from reference.efficiency.prompt_cache import ExactPromptCache, PolynomialPromptCache

DIM = 8  # key and value width of the sweeps (theory.md §5: d = 8)
SCALE = 1.0 / DIM  # Alman–Song scale; R = scale · max‖q‖ · max‖k‖


def regime_inputs(
    n: int, radius: float, *, m: int | None = None, dim: int = DIM, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``q (n, d)``, ``k (m, d)``, ``v (m, d)`` with every row norm ``0.999·√(R/scale)``, so the
    guaranteed logit radius is just inside ``R``.

    >>> import numpy as np
    >>> from verify.claims.efficiency.timing import SCALE, regime_inputs
    >>> q, k, v = regime_inputs(16, 1.0)
    >>> bool(SCALE * np.linalg.norm(q, axis=1).max() * np.linalg.norm(k, axis=1).max() <= 1.0)
    True
    """
    m = n if m is None else m
    rng = np.random.default_rng(seed)
    norm = 0.999 * math.sqrt(radius / SCALE)

    def rows(count: int) -> np.ndarray:
        x = rng.standard_normal((count, dim))  # (count, d)
        return x * (norm / np.linalg.norm(x, axis=1, keepdims=True))

    return rows(n), rows(m), rng.standard_normal((m, dim))


def sample_times(fn: Callable[[], Any], *, repeats: int = 3, budget: float = 30.0) -> list[float]:
    """Wall-clock seconds of ``fn()`` over up to ``repeats`` runs (fewer once they exceed
    ``budget`` seconds in all).

    >>> from verify.claims.efficiency.timing import sample_times
    >>> len(sample_times(lambda: None, repeats=4))
    4
    """
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if sum(times) > budget:
            break
    return times


def median_time(fn: Callable[[], Any], *, repeats: int = 3, budget: float = 30.0) -> float:
    """Median of :func:`sample_times`."""
    return statistics.median(sample_times(fn, repeats=repeats, budget=budget))


def fitted_exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of ``log t`` against ``log n``.

    >>> from verify.claims.efficiency.timing import fitted_exponent
    >>> round(fitted_exponent([1, 2, 4], [1.0, 4.0, 16.0]), 6)
    2.0
    """
    slope, _ = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(slope)


def exact_samples(n: int, radius: float, *, repeats: int = 3) -> list[float]:
    """Exact attention: :func:`reference.attention` (in-place chunked numpy), every run."""
    q, k, v = regime_inputs(n, radius)
    return sample_times(lambda: attention(q, k, v, scale=SCALE), repeats=repeats)


def time_exact(n: int, radius: float, *, repeats: int = 3) -> float:
    """Median of :func:`exact_samples`."""
    return statistics.median(exact_samples(n, radius, repeats=repeats))


def polynomial_samples(
    n: int, radius: float, *, eps: float = 1e-3, repeats: int = 3
) -> list[float]:
    """The polynomial method (fit outside the timed region), every run."""
    q, k, v = regime_inputs(n, radius)
    plan(n, n, DIM, DIM, radius=radius, eps=eps)  # fit outside the timed region (cached)

    def run() -> None:
        fast_attention(q, k, v, scale=SCALE, eps=eps, R=radius, allow_slower=True, max_rank=1 << 20)

    return sample_times(run, repeats=repeats)


def time_polynomial(n: int, radius: float, *, eps: float = 1e-3, repeats: int = 3) -> float:
    """Median of :func:`polynomial_samples`."""
    return statistics.median(polynomial_samples(n, radius, eps=eps, repeats=repeats))


def measured_error(
    n: int,
    radius: float,
    *,
    eps: float = 1e-3,
    rows: int = 512,
    attend: Callable[..., Any] = fast_attention,
) -> dict:
    """Measured max error on the first ``rows`` queries, the certified bound (the largest
    column bound), the worst per-column ratio error/bound, degree and rank (``attend`` is the
    implementation under test)."""
    q, k, v = regime_inputs(n, radius)
    res = attend(
        q[:rows], k, v, scale=SCALE, eps=eps, R=radius, allow_slower=True, max_rank=1 << 20
    )
    exact = attention(q[:rows], k, v, scale=SCALE)
    per_column = np.abs(res.output - exact).max(axis=0)  # (dv,)
    return {
        "error": float(per_column.max()),
        "bound": res.certified_bound,
        "error_over_bound": float(np.max(per_column / res.column_bounds)),
        "v_max": float(np.abs(v).max()),
        "degree": res.degree,
        "rank": res.rank,
    }


def prompt_setup(
    prompt_length: int, *, length: int = 16, batch: int = 8, seed: int = 0
) -> tuple[Transformer, np.ndarray, np.ndarray, float]:
    """A random model (``d = 8``, width 8, key/value width 8, no positional encoding), a prompt
    of ``prompt_length`` rows and a batch of inputs, with the radius they need."""
    from reference import Transformer
    from verify.claims.efficiency.strategies import needed_radius

    rng = np.random.default_rng(seed)
    model = Transformer.random(DIM, rng=rng, width=DIM, scale=SCALE, weight_scale=0.5)
    prompt = 0.5 * rng.standard_normal((prompt_length, DIM))  # (Lp, D)
    xs = rng.random((batch, length, DIM))  # (B, L, d)
    return model, prompt, xs, needed_radius(model, prompt, xs)


def time_prompt_inference(
    prompt_length: int, method: str, *, radius: float = 1.0, repeats: int = 5
) -> float:
    """Seconds per input sequence of cached inference (the cache is built outside the timing)."""
    model, prompt, xs, needed = prompt_setup(prompt_length)
    if needed > radius:
        raise ValueError(f"radius: the setup needs {needed:.4g} > {radius}")
    run: Callable[[], object]
    if method == "polynomial_cached":
        cache = PolynomialPromptCache.build(model, prompt, eps=1e-3, radius=radius)
        run = lambda: cache.forward(xs)  # noqa: E731
    elif method == "exact_cached":
        exact = ExactPromptCache.build(model, prompt)
        run = lambda: exact.forward(xs)  # noqa: E731
    else:
        raise ValueError(f"method: expected 'polynomial_cached' or 'exact_cached', got {method!r}")
    return median_time(run, repeats=repeats) / xs.shape[0]


def time_gradients(n: int, radius: float = 1.0, *, eps: float = 1e-3, repeats: int = 1) -> dict:
    q, k, v = regime_inputs(n, radius)
    g = np.random.default_rng(1).standard_normal(v.shape)  # (n, d)
    plan(n, n, DIM, DIM, radius=radius, eps=eps)
    fast = median_time(
        lambda: low_rank_key_value_grad(q, k, v, g, scale=SCALE, eps=eps, R=radius),
        repeats=repeats,
    )
    exact = median_time(lambda: exact_key_value_grad(q, k, v, g, scale=SCALE), repeats=repeats)
    return {"fast": fast, "exact": exact, "speedup": exact / fast}


def peak_memory_fast_attention(n: int, radius: float = 1.0, *, eps: float = 1e-3) -> dict:
    """Peak traced numpy memory (tracemalloc) of one fast attention call, inputs excluded."""
    q, k, v = regime_inputs(n, radius)
    plan(n, n, DIM, DIM, radius=radius, eps=eps)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    res = fast_attention(q, k, v, scale=SCALE, eps=eps, R=radius, allow_slower=True)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return {
        "peak_bytes": peak,
        "degree": res.degree,
        "rank": res.rank,
        "inputs_bytes": q.nbytes + k.nbytes + v.nbytes,
    }


def torch_available() -> bool:
    """Whether torch can be imported (the runtime figure then draws SDPA)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_sdpa_samples(
    n: int, radius: float, dtype: str, *, repeats: int = 3
) -> list[float] | None:
    """torch's ``scaled_dot_product_attention`` on CPU (default kernel), every run, or ``None``
    when torch is missing."""
    try:
        import torch
    except ImportError:
        return None
    q, k, v = regime_inputs(n, radius)
    tt = {"float32": torch.float32, "float64": torch.float64}[dtype]
    tq, tk, tv = (torch.from_numpy(a).to(tt)[None, None] for a in (q, k, v))
    sdpa = torch.nn.functional.scaled_dot_product_attention
    with torch.no_grad():
        sdpa(tq[:, :, :64], tk, tv, scale=SCALE)  # warm-up
        return sample_times(lambda: sdpa(tq, tk, tv, scale=SCALE), repeats=repeats)


def torch_sdpa_time(n: int, radius: float, dtype: str, *, repeats: int = 3) -> float | None:
    """Median of :func:`torch_sdpa_samples`, or ``None`` when torch is missing."""
    samples = torch_sdpa_samples(n, radius, dtype, repeats=repeats)
    return None if samples is None else statistics.median(samples)


def performer_error(n: int, radius: float, features: int, *, seed: int = 0) -> float | None:
    """Max error / ``‖V‖_max`` of performer-pytorch's FAVOR+ random features (``features``
    features) against exact attention at ``(n, R)``, or ``None`` when it is not installed."""
    try:
        import torch
        from performer_pytorch import FastAttention
    except ImportError:
        return None
    q, k, v = regime_inputs(n, radius, seed=seed)
    # performer computes softmax(q·k / √d); rescale so that equals softmax(SCALE · q·k)
    factor = math.sqrt(SCALE * math.sqrt(DIM))
    torch.manual_seed(seed)
    attn = FastAttention(dim_heads=DIM, nb_features=features, causal=False).double()
    tq, tk, tv = (torch.from_numpy(a)[None, None] for a in (q * factor, k * factor, v))
    with torch.no_grad():
        out = attn(tq, tk, tv)[0, 0].numpy()  # (n, d)
    exact = attention(q, k, v, scale=SCALE)
    return float(np.abs(out - exact).max() / np.abs(v).max())


def measure_targets() -> dict:  # pragma: no cover - a long measurement, run by hand
    """The issue's target measurements, in one process (minutes)."""
    out: dict[str, Any] = {}
    n16 = 1 << 16
    out["poly_2^16_R1"] = time_polynomial(n16, 1.0)
    out["exact_2^16"] = time_exact(n16, 1.0, repeats=3)
    out["speedup_2^16"] = out["exact_2^16"] / out["poly_2^16_R1"]
    out["exact_2^14"] = time_exact(1 << 14, 1.0, repeats=3)
    out["error_2^16_R1"] = measured_error(n16, 1.0)
    for dtype in ("float32", "float64"):
        out[f"torch_{dtype}_2^16"] = torch_sdpa_time(n16, 1.0, dtype, repeats=3)
    out["poly_vs_torch_float32_2^16"] = out["torch_float32_2^16"] / out["poly_2^16_R1"]
    out["exact_over_torch_float64_2^16"] = out["exact_2^16"] / out["torch_float64_2^16"]
    sizes = [1 << e for e in range(12, 18)]
    poly = [time_polynomial(n, 1.0) for n in sizes]
    out["poly_times"] = dict(zip(sizes, poly, strict=True))
    out["poly_exponent_2^12_2^17"] = fitted_exponent(sizes, poly)
    exact_sizes = [1 << e for e in range(10, 16)]
    exact = [time_exact(n, 1.0, repeats=3) for n in exact_sizes]
    out["exact_times"] = dict(zip(exact_sizes, exact, strict=True))
    out["exact_exponent_2^10_2^15"] = fitted_exponent(exact_sizes, exact)
    small = time_prompt_inference(1 << 8, "polynomial_cached")
    large = time_prompt_inference(1 << 16, "polynomial_cached")
    out["prompt_per_input_2^8"], out["prompt_per_input_2^16"] = small, large
    out["prompt_ratio_2^16_over_2^8"] = large / small
    out["prompt_exact_cached_2^16"] = time_prompt_inference(1 << 16, "exact_cached", repeats=3)
    out["gradient_2^15"] = time_gradients(1 << 15, repeats=3)
    out["peak_memory_2^17"] = peak_memory_fast_attention(1 << 17)
    for n in (1 << 10, 1 << 11):
        out[f"R9_poly_{n}"] = time_polynomial(n, 9.0, repeats=1)
        out[f"R9_exact_{n}"] = time_exact(n, 9.0, repeats=3)
    out["R9_plan"] = plan(1024, 1024, DIM, DIM, radius=9.0, eps=1e-3)[1:]
    for radius in (0.25, 1.0, 2.0, 4.0):
        err = measured_error(2048, radius)
        out[f"certified_vs_random_R{radius}"] = {
            "rank": err["rank"],
            "polynomial_error_over_vmax": err["error"] / err["v_max"],
            "certified_bound_over_vmax": err["bound"] / err["v_max"],
            "performer_error_over_vmax": performer_error(2048, radius, err["rank"]),
        }
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(measure_targets(), indent=1, default=str))
