"""Lipschitz targets ``f : [0,1]^{L×d} → [0,1]^{L×d}`` with their max-norm constants.

Each target is a small frozen dataclass (picklable, callable on one ``(L, d)`` array) carrying
``lipschitz``, the constant it is *claimed* to have, and ``tight`` (whether the constant is
attained as a local slope):

* :class:`ClippedAffine` — ``clip(A vec(X) + b, 0, 1)``; constant ``‖A‖_∞`` (max absolute row
  sum: the max-norm-induced norm; clipping is 1-Lipschitz), in general not tight.
* :class:`Sawtooth` — ``f(X)_{i,r} = z(C x_{σ(i,r)} + φ_{i,r})`` with the zig-zag
  ``z(s) = |s − 2 round(s/2)|`` (slopes ``±1``); constant ``C``, tight.
* :class:`TanhNetwork` — ``1/2 + tanh(W2 tanh(W1 vec(X) + b1) + b2)/2``; constant
  ``‖W2‖_∞ ‖W1‖_∞ / 2`` (product bound, ``tanh' <= 1``).

Strategies draw the sizes and a seed and build the arrays with a seeded generator.
:func:`with_constant` returns a copy claiming another constant (the planted violation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from hypothesis import strategies as st

from verify.claims.strategies import seeds


def zigzag(s: np.ndarray) -> np.ndarray:
    """``|s − 2 round(s/2)|``: 1-Lipschitz, values in ``[0, 1]``, slope ``±1`` everywhere.

    >>> import numpy as np
    >>> from verify.claims.universality.targets import zigzag
    >>> zigzag(np.array([0.25, 1.0, 1.5, 2.0])).tolist()
    [0.25, 1.0, 0.5, 0.0]
    """
    return np.abs(s - 2.0 * np.round(s / 2.0))


def induced_max_norm(a: np.ndarray) -> float:
    """``‖A‖_∞ = max_i Σ_j |A_ij|`` (the operator norm for ``‖·‖_max`` on vectors).

    >>> import numpy as np
    >>> from verify.claims.universality.targets import induced_max_norm
    >>> induced_max_norm(np.array([[1.0, -2.0], [0.5, 0.5]]))
    3.0
    """
    return float(np.abs(a).sum(axis=1).max())


@dataclass(frozen=True)
class ClippedAffine:
    """``clip(A vec(X) + b, 0, 1)`` reshaped to ``(L, d)``; ``A (dL, dL)``, ``b (dL,)``."""

    a: np.ndarray
    b: np.ndarray
    d: int
    L: int
    lipschitz: float
    kind: str = "clipped_affine"
    tight: bool = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = self.a @ np.asarray(x, dtype=np.float64).reshape(-1) + self.b  # (dL,)
        return np.clip(y, 0.0, 1.0).reshape(self.L, self.d)

    def __repr__(self) -> str:
        return f"ClippedAffine(d={self.d}, L={self.L}, lipschitz={self.lipschitz:.4g})"


@dataclass(frozen=True)
class Sawtooth:
    """``f(X)_{i,r} = z(C x_{σ(i,r)} + φ_{i,r})``; ``source (L, d)``: flat indices of ``vec(X)``."""

    slope: float
    source: np.ndarray
    phase: np.ndarray
    d: int
    L: int
    lipschitz: float
    kind: str = "sawtooth"
    tight: bool = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x, dtype=np.float64).reshape(-1)  # (dL,)
        return zigzag(self.slope * flat[self.source] + self.phase)  # (L, d)

    def __repr__(self) -> str:
        return f"Sawtooth(d={self.d}, L={self.L}, slope={self.slope}, lipschitz={self.lipschitz})"


@dataclass(frozen=True)
class TanhNetwork:
    """``1/2 + tanh(W2 tanh(W1 vec(X) + b1) + b2)/2``; ``W1 (H, dL)``, ``W2 (dL, H)``."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    d: int
    L: int
    lipschitz: float
    kind: str = "tanh_network"
    tight: bool = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        hidden = np.tanh(self.w1 @ np.asarray(x, dtype=np.float64).reshape(-1) + self.b1)  # (H,)
        return (0.5 + 0.5 * np.tanh(self.w2 @ hidden + self.b2)).reshape(self.L, self.d)

    def __repr__(self) -> str:
        hidden = self.w1.shape[0]
        return f"TanhNetwork(d={self.d}, L={self.L}, H={hidden}, lipschitz={self.lipschitz:.4g})"


LipschitzTarget = ClippedAffine | Sawtooth | TanhNetwork


def with_constant(target: LipschitzTarget, lipschitz: float) -> LipschitzTarget:
    """The same map claiming the constant ``lipschitz`` (e.g. a deliberately wrong one)."""
    return replace(target, lipschitz=float(lipschitz))


def make_clipped_affine(d: int, L: int, rng: np.random.Generator, scale: float) -> ClippedAffine:
    """Random ``A`` with ``‖A‖_∞ = scale`` (rows rescaled), ``b`` keeping values near ``[0, 1]``.

    >>> import numpy as np
    >>> from verify.claims.universality.targets import make_clipped_affine
    >>> round(make_clipped_affine(1, 2, np.random.default_rng(0), 0.5).lipschitz, 12)
    0.5
    """
    n = d * L
    a = rng.standard_normal((n, n))  # (dL, dL)
    a *= scale / np.abs(a).sum(axis=1, keepdims=True)
    b = 0.5 - a.sum(axis=1) / 2 + 0.2 * rng.standard_normal(n)  # (dL,)
    return ClippedAffine(a, b, d, L, induced_max_norm(a))


def make_sawtooth(d: int, L: int, rng: np.random.Generator, slope: float) -> Sawtooth:
    """Each output coordinate a zig-zag of slope ``slope`` in one random input coordinate."""
    source = rng.integers(0, d * L, size=(L, d))  # (L, d)
    phase = np.round(rng.random((L, d)) * 64) / 32  # (L, d), dyadic phases in [0, 2]
    return Sawtooth(float(slope), source, phase, d, L, float(slope))


def make_tanh_network(
    d: int, L: int, rng: np.random.Generator, hidden: int, scale: float
) -> TanhNetwork:
    """Gaussian weights of std ``scale/√fan_in``; constant ``‖W2‖_∞ ‖W1‖_∞ / 2``."""
    n = d * L
    w1 = rng.standard_normal((hidden, n)) * scale / np.sqrt(n)  # (H, dL)
    w2 = rng.standard_normal((n, hidden)) * scale / np.sqrt(hidden)  # (dL, H)
    b1, b2 = 0.3 * rng.standard_normal(hidden), 0.3 * rng.standard_normal(n)
    constant = 0.5 * induced_max_norm(w2) * induced_max_norm(w1)
    return TanhNetwork(w1, b1, w2, b2, d, L, constant)


def tight_sawtooth(d: int, L: int, slope: float, K: int, Q: int) -> Sawtooth:
    """A sawtooth on which the universality bound is attained exactly at ``X = 0``.

    Built to reach the bound: its cases are an *attainment* family (tightness), never evidence
    that the bound holds (``verify.claims.universality.claim``, check kind ``attainment``).

    Every output coordinate is ``z(slope · x_{0,0} + φ)`` with ``φ = a/Q − slope/(2K)`` and
    ``a = ⌈Q slope/(2K)⌉``: on the first cell ``f`` rises with slope ``C``, its value at the cell
    center sits exactly on the level boundary ``a/Q`` (quantized up to ``(a + 1/2)/Q``), and
    ``|f(0) − (a + 1/2)/Q| = C/(2K) + 1/(2Q)``. Needs ``slope/K + 1/Q <= 1``; exact in floating
    point for dyadic ``slope``.

    >>> import numpy as np
    >>> from verify.claims.universality.targets import tight_sawtooth
    >>> f = tight_sawtooth(1, 1, 0.5, 4, 4)
    >>> float(f(np.zeros((1, 1)))[0, 0]), float(f(np.full((1, 1), 0.125))[0, 0])
    (0.1875, 0.25)
    """
    a = int(np.ceil(Q * slope / (2 * K)))
    phase = a / Q - slope / (2 * K)
    if slope / K + 1 / Q > 1:
        raise ValueError(f"slope: expected slope/K + 1/Q <= 1, got {slope}/{K} + 1/{Q}")
    source = np.zeros((L, d), dtype=np.int64)
    return Sawtooth(float(slope), source, np.full((L, d), phase), d, L, float(slope))


@st.composite
def lipschitz_targets(
    draw: st.DrawFn,
    d: int,
    L: int,
    *,
    kinds: tuple[str, ...] = ("clipped_affine", "sawtooth", "tanh_network"),
    max_constant: float = 2.0,
) -> LipschitzTarget:
    """A target of a drawn kind and size of constant, built from a drawn seed."""
    kind = draw(st.sampled_from(kinds))
    rng = np.random.default_rng(draw(seeds))
    if kind == "clipped_affine":
        # stay a hair below the budget: the recomputed row sums may round up by an ulp
        return make_clipped_affine(d, L, rng, draw(st.floats(0.05, max_constant * (1 - 1e-9))))
    if kind == "sawtooth":
        exponent = draw(st.integers(-4, int(np.floor(np.log2(max_constant)))))
        return make_sawtooth(d, L, rng, 2.0**exponent)
    target = make_tanh_network(d, L, rng, draw(st.integers(1, 6)), draw(st.floats(0.2, 2.0)))
    if target.lipschitz > max_constant:  # rescale the output layer to fit the budget
        factor = max_constant / target.lipschitz * (1 - 1e-9)
        target = replace(target, w2=target.w2 * factor, lipschitz=target.lipschitz * factor)
    return target


@st.composite
def unit_box_pairs(draw: st.DrawFn, d: int, L: int) -> tuple[np.ndarray, np.ndarray]:
    """Two inputs in ``[0,1]^{L×d}``: far apart, or close (distance ``10^{-k}``), from a seed."""
    rng = np.random.default_rng(draw(seeds))
    x = rng.random((L, d))  # (L, d)
    if draw(st.booleans()):
        return x, rng.random((L, d))
    step = 10.0 ** -draw(st.integers(1, 8))
    y = np.clip(x + step * rng.uniform(-1, 1, (L, d)), 0, 1)  # (L, d)
    return x, y
