"""Hypothesis strategies for the universality and memorization properties.

Sizes are drawn so that the float64 construction fits its precision (``T log2 Q + 6 <= 53``,
:data:`FLOAT64_SIGNIFICAND_BITS`) and stays small; targets come with their constants
(:mod:`verify.claims.universality.targets`); inputs and datasets are built from a drawn seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from verify.claims.strategies import seeds
from verify.claims.universality.bounds import (
    GUARD_BITS,
    band_eta_fn,
    cells_per_axis_fn,
    levels_fn,
    precision_needed_fn,
)
from verify.claims.universality.targets import (
    LipschitzTarget,
    Sawtooth,
    lipschitz_targets,
    tight_sawtooth,
)

#: Significand bits of float64 (the stored bits and the implicit leading one): 53.
FLOAT64_SIGNIFICAND_BITS = int(np.finfo(np.float64).nmant) + 1

#: ``(d, L) -> (largest log2 K, largest log2 Q)`` kept for float64 property runs (``d L <= 4``).
FLOAT64_SIZES: dict[tuple[int, int], tuple[int, int]] = {
    (1, 1): (5, 5),
    (1, 2): (3, 3),
    (1, 3): (2, 2),
    (1, 4): (1, 3),
    (2, 1): (3, 4),
    (2, 2): (2, 2),
    (3, 1): (2, 3),
    (4, 1): (1, 3),
}
#: The whole-cube check's sizes per decoder (those of :data:`FLOAT64_SIZES` the wide and
#: shallow models build within the dense budget with ``FFN_out`` width ``<= 20000``).
WHOLE_CUBE_SIZES: dict[str, dict[tuple[int, int], tuple[int, int]]] = {
    "deep": FLOAT64_SIZES,
    "wide": {**FLOAT64_SIZES, (1, 2): (2, 2), (1, 3): (1, 2), (1, 4): (1, 1), (2, 2): (1, 2)},
    "shallow": {**FLOAT64_SIZES, (1, 2): (2, 3), (1, 3): (1, 2), (1, 4): (1, 1), (2, 2): (1, 2)},
}
#: Uniform samples of the cube per drawn target in the whole-cube check.
CUBE_SAMPLES = 1024


@dataclass(frozen=True)
class UniversalCase:
    """A target, the accuracy to build for, and input sequences ``xs (B, L, d)``."""

    target: LipschitzTarget
    d: int
    L: int
    eps: float
    xs: np.ndarray
    seed: int

    def __repr__(self) -> str:
        return (
            f"UniversalCase({self.target!r}, eps={self.eps}, B={self.xs.shape[0]}, "
            f"seed={self.seed})"
        )


def edge_biased_inputs(rng: np.random.Generator, batch: int, L: int, d: int, K: int) -> np.ndarray:
    """``(batch, L, d)`` inputs: half uniform, half within ``10^{-k}/K`` of a cell edge."""
    xs = rng.random((batch, L, d))  # (B, L, d)
    half = batch // 2
    cells = rng.integers(0, K, size=(half, L, d))
    near = 10.0 ** -rng.integers(1, 7, size=(half, L, d)) / K
    side = rng.integers(0, 2, size=(half, L, d))
    xs[:half] = np.clip((cells + side) / K + np.where(side == 1, -near, near), 0, 1)
    return xs


@st.composite
def universal_cases(
    draw: st.DrawFn,
    *,
    sizes: dict[tuple[int, int], tuple[int, int]] | None = None,
    batch: int = 16,
    kinds: tuple[str, ...] = ("clipped_affine", "sawtooth", "tanh_network"),
    inputs: str = "edge",
) -> UniversalCase:
    """A float64-sized case: ``(d, L)``, ``ε = 2^{-q}``, a target whose ``K`` stays in budget.

    ``inputs``: ``"edge"`` (half of the ``batch`` inputs near cell edges,
    :func:`edge_biased_inputs`) or ``"uniform"`` (uniform over the cube, band included)."""
    if inputs not in ("edge", "uniform"):
        raise ValueError(f"inputs: expected 'edge' or 'uniform', got {inputs!r}")
    sizes = FLOAT64_SIZES if sizes is None else sizes
    d, L = draw(st.sampled_from(sorted(sizes)))
    k_max, q_max = sizes[(d, L)]
    q = draw(st.integers(1, q_max))
    eps = 2.0**-q
    k_top = draw(st.integers(1, k_max))
    target = draw(lipschitz_targets(d, L, kinds=kinds, max_constant=2.0**k_top * eps))
    K = int(cells_per_axis_fn(eps, target.lipschitz))
    eta = float(band_eta_fn(eps, d, L, K))
    assert precision_needed_fn(d, L, K, int(levels_fn(eps)), eta) <= FLOAT64_SIGNIFICAND_BITS
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    if inputs == "uniform":
        xs = rng.random((batch, L, d))  # (B, L, d)
    else:
        xs = edge_biased_inputs(rng, batch, L, d, K)  # (B, L, d)
    return UniversalCase(target, d, L, eps, xs, seed)


@dataclass(frozen=True)
class TightCase:
    """The tight sawtooth of :func:`tight_sawtooth` and one input ``offset`` from ``X = 0``."""

    d: int
    L: int
    slope: float
    K: int
    Q: int
    offset: float

    @property
    def eps(self) -> float:
        return 1.0 / self.Q

    def target(self) -> Sawtooth:
        return tight_sawtooth(self.d, self.L, self.slope, self.K, self.Q)

    def x(self) -> np.ndarray:
        return np.full((self.L, self.d), self.offset)  # (L, d)


@st.composite
def tight_cases(draw: st.DrawFn) -> TightCase:
    """Tight sawtooth cases; the input approaches the attaining point as ``offset → 0``."""
    d, L = draw(st.sampled_from([(1, 1), (1, 2), (2, 1), (2, 2)]))
    q = draw(st.integers(2, {(1, 1): 5, (2, 1): 5, (1, 2): 3, (2, 2): 2}[(d, L)]))
    Q = 2**q
    K = Q * 2 ** draw(st.integers(-1, 0))  # slope = K/Q ∈ {1/2, 1}
    offset = 2.0 ** -draw(st.integers(q + 1, 40))
    return TightCase(d, L, K / Q, K, Q, offset)


@dataclass(frozen=True)
class MemorizationCase:
    """A token-separated dataset on the grid of ``K = 1/separation`` cells, and ``eps``."""

    xs: np.ndarray  # (N, L, d)
    ys: np.ndarray  # (N, L, d)
    separation: float
    eps: float
    seed: int

    def __repr__(self) -> str:
        n, length, d = self.xs.shape
        return (
            f"MemorizationCase(N={n}, L={length}, d={d}, separation={self.separation}, "
            f"eps={self.eps}, seed={self.seed})"
        )


def grid_dataset(
    rng: np.random.Generator, n: int, L: int, d: int, K: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct sequences of tokens ``(cell + o)/K`` (one dyadic offset ``o`` per
    coordinate, shared by all tokens: distinct tokens differ by ``>= 1/K``), uniform targets."""
    kd = K**d
    ids = rng.choice(kd**L, size=n, replace=False)  # (n,)
    cells = (ids[:, None] // kd ** np.arange(L)) % kd  # (n, L)
    coords = (cells[..., None] // K ** np.arange(d)) % K  # (n, L, d)
    offset = rng.integers(8, 56, size=d) / 64  # (d,), dyadic, away from the cell edges
    return (coords + offset) / K, rng.random((n, L, d))


@st.composite
def memorization_cases(
    draw: st.DrawFn,
    *,
    max_n: int = 64,
    shapes: tuple[tuple[int, int], ...] = ((1, 1), (1, 2), (1, 3), (2, 1), (2, 2)),
) -> MemorizationCase:
    """Datasets with ``d L <= 4`` that fit float64 at the drawn ``eps``; ``shapes``: ``(d, L)``."""
    d, L = draw(st.sampled_from(shapes))
    k = draw(st.integers(1, {1: 4, 2: 3, 3: 2}[L] if d == 1 else 2))
    K = 2**k
    q_max = min(6, (FLOAT64_SIGNIFICAND_BITS - int(GUARD_BITS)) // K ** (d * (L - 1)))
    q = draw(st.integers(1, q_max))
    n = draw(st.integers(1, min(max_n, K ** (d * L))))
    seed = draw(seeds)
    xs, ys = grid_dataset(np.random.default_rng(seed), n, L, d, K)
    return MemorizationCase(xs, ys, 1.0 / K, 2.0**-q, seed)
