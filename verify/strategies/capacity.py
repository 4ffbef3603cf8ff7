"""Strategies for the capacity properties: prompt-box pairs, packing families, permutations.

Sizes, radii and a seed are drawn; arrays are built with ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from reference import Transformer
from verify.bounds import capacity as cap
from verify.strategies import draw_random_model, seeds
from verify.strategies.universality import FLOAT64_SIGNIFICAND_BITS


@dataclass(frozen=True)
class PromptPairCase:
    """A random model, two prompts in ``[-radius, radius]^{Lp×D}`` and inputs in ``[0,1]``."""

    model: Transformer
    radius: float
    prompt: np.ndarray  # (Lp, D)
    other: np.ndarray  # (Lp, D)
    xs: np.ndarray  # (B, L, d)
    seed: int

    def __repr__(self) -> str:
        return (
            f"PromptPairCase(d={self.model.d}, D={self.model.width}, Lp={self.prompt.shape[0]}, "
            f"L={self.xs.shape[1]}, radius={self.radius}, seed={self.seed})"
        )


@st.composite
def prompt_pair_cases(draw: st.DrawFn, *, max_d: int = 3, max_length: int = 4) -> PromptPairCase:
    """Two prompts at a drawn distance (``1e-6`` to the box diameter) in a drawn box."""
    d = draw(st.integers(1, max_d))
    width = d + draw(st.integers(0, 2))
    length = draw(st.integers(1, max_length))
    lp = draw(st.integers(1, 6))
    radius = draw(st.sampled_from([0.1, 1.0, 3.0]))
    step = draw(st.sampled_from([1e-6, 1e-3, 1e-1, 1.0]))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    model = draw_random_model(
        draw,
        rng,
        d=d,
        width=width,
        max_length=max_length if draw(st.booleans()) else None,
        weight_scale=draw(st.sampled_from([0.5, 1.0, 2.0])),
    )
    prompt = rng.uniform(-radius, radius, (lp, width))  # (Lp, D)
    other = np.clip(prompt + step * radius * rng.choice([-1.0, 1.0], (lp, width)), -radius, radius)
    xs = rng.random((3, length, d))  # (B, L, d)
    return PromptPairCase(model, radius, prompt, other, xs, seed)


@dataclass(frozen=True)
class PackingCase:
    """Parameters of the packing family, two sign patterns and two inputs."""

    eps: float
    lipschitz: float
    d: int
    L: int
    signs: np.ndarray  # (m,)*(L d) + (L, d)
    other_signs: np.ndarray  # differs from signs in one entry
    x: np.ndarray  # (L, d)
    y: np.ndarray  # (L, d)
    seed: int

    def __repr__(self) -> str:
        return (
            f"PackingCase(eps={self.eps}, C={self.lipschitz}, d={self.d}, L={self.L}, "
            f"seed={self.seed})"
        )


@st.composite
def packing_cases(draw: st.DrawFn) -> PackingCase:
    """``d L <= 3``, at most 4 centres per axis; ``y`` near ``x`` or anywhere."""
    d, length = draw(st.sampled_from([(1, 1), (1, 2), (2, 1), (1, 3), (3, 1)]))
    lipschitz = draw(st.sampled_from([0.5, 1.0, 2.0, 3.0]))
    m = draw(st.integers(1, 4))
    largest = min(float(cap.packing_max_eps), float(cap.packing_one_centre_max_eps_fn(lipschitz)))
    eps = largest / m * draw(st.sampled_from([1.0, 0.9]))
    m = int(cap.packing_centres_per_axis_fn(eps, lipschitz))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    shape = (m,) * (d * length) + (length, d)
    signs = rng.choice([-1, 1], size=shape)
    other = signs.copy()
    flip = tuple(int(rng.integers(0, s)) for s in shape)
    other[flip] = -other[flip]
    x = rng.random((length, d))  # (L, d)
    near = draw(st.booleans())
    y = np.clip(x + (rng.uniform(-1, 1, (length, d)) * (eps / lipschitz if near else 1)), 0, 1)
    return PackingCase(eps, lipschitz, d, length, signs, other, x, y, seed)


@dataclass(frozen=True)
class PermutationCase:
    """A model without positional encoding, a prompt, one sequence and a permutation."""

    model: Transformer
    prompt: np.ndarray  # (Lp, D)
    x: np.ndarray  # (L, d)
    permutation: np.ndarray  # (L,)
    seed: int

    def __repr__(self) -> str:
        return f"PermutationCase(d={self.model.d}, L={self.x.shape[0]}, seed={self.seed})"


@st.composite
def permutation_cases(draw: st.DrawFn, *, positional: bool = False) -> PermutationCase:
    """Random model (optionally WITH positions: the planted violation), prompt, permutation."""
    d = draw(st.integers(1, 3))
    width = d + draw(st.integers(0, 2))
    length = draw(st.integers(2, 5))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    model = Transformer.random(
        d,
        rng=rng,
        width=width,
        ffn_in_layers=draw(st.integers(0, 2)),
        ffn_out_layers=draw(st.integers(0, 2)),
        max_length=length if positional else None,
    )
    prompt = rng.standard_normal((draw(st.integers(0, 6)), width)) * 2  # (Lp, D)
    x = rng.random((length, d))  # (L, d)
    perm = rng.permutation(length)  # (L,)
    if np.array_equal(perm, np.arange(length)):
        perm = np.roll(perm, 1)  # never the identity
    return PermutationCase(model, prompt, x, perm, seed)


@dataclass(frozen=True)
class ShiftTarget:
    """``f(X)_{l,r} = clip(1/2 + w_{l,r} (X_{l+1 mod L, r} − 1/2), 0, 1)`` with ``|w| <= C``:
    ``C``-Lipschitz in the max norm, and each output token depends on another token (a context).

    >>> import numpy as np
    >>> from verify.strategies.capacity import ShiftTarget
    >>> f = ShiftTarget(d=1, L=2, lipschitz=1.0, seed=0)
    >>> f(np.array([[0.5], [0.5]])).tolist()
    [[0.5], [0.5]]
    """

    d: int
    L: int
    lipschitz: float
    seed: int = 0

    def weights(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        return rng.uniform(-self.lipschitz, self.lipschitz, (self.L, self.d))  # (L, d)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        shifted = np.roll(np.asarray(x, dtype=np.float64), -1, axis=-2)  # (..., L, d)
        return np.clip(0.5 + self.weights() * (shifted - 0.5), 0.0, 1.0)


@dataclass(frozen=True)
class ConstructionCase:
    """One construction to compare with the bounds (built in the worker, from these numbers)."""

    d: int
    L: int
    eps: float
    lipschitz: float
    seed: int = 0
    backend: str = "float64"
    probe: bool = True


@dataclass(frozen=True)
class MemorizerCase:
    """``N`` distinct sequences of grid-cell centres (spacing ``separation``) with targets from a
    :class:`ShiftTarget`: a token-separated dataset from a ``C``-Lipschitz map."""

    n_sequences: int
    d: int
    L: int
    eps: float
    separation: float
    lipschitz: float = 1.0
    seed: int = 0

    def dataset(self) -> tuple[np.ndarray, np.ndarray]:
        """``(xs, ys)`` of shape ``(N, L, d)``, built from ``seed``."""
        cells = round(1 / self.separation)
        rng = np.random.default_rng(self.seed)
        total = cells ** (self.d * self.L)
        if self.n_sequences > total:
            raise ValueError(
                f"n_sequences: expected at most {total} distinct grid sequences, "
                f"got {self.n_sequences}"
            )
        picks = rng.choice(total, size=self.n_sequences, replace=False)  # (N,)
        digits = (picks[:, None] // cells ** np.arange(self.d * self.L)) % cells  # (N, L d)
        xs = ((digits + 0.5) / cells).reshape(self.n_sequences, self.L, self.d)  # (N, L, d)
        return xs, ShiftTarget(self.d, self.L, self.lipschitz, self.seed)(xs)


@st.composite
def construction_cases(draw: st.DrawFn) -> ConstructionCase:
    """Small float64 universality constructions (``d L <= 2``, ``eps`` in ``{1/4, 1/8}``) whose
    needed precision fits float64 and whose prompt has at most 64 rows (fast)."""
    from reference.construction import precision_needed
    from reference.universality import grid_sizes

    d, length = draw(st.sampled_from([(1, 1), (1, 2), (2, 1)]))
    eps = draw(st.sampled_from([0.25, 0.125]))
    lipschitz = draw(
        st.sampled_from([0.5, 1.0, 2.0]).filter(
            lambda c: (
                precision_needed(d, length, *grid_sizes(eps, c)) <= FLOAT64_SIGNIFICAND_BITS
                and length * grid_sizes(eps, c)[0] ** d <= 64
            )
        )
    )
    return ConstructionCase(d, length, eps, lipschitz, seed=draw(st.integers(0, 2**16)))
