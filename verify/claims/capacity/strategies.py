"""Strategies for the capacity properties: prompt-box pairs, packing families, permutations.

Sizes, radii and a seed are drawn; arrays are built with ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from reference import Transformer
from verify.claims.capacity import bounds as cap
from verify.claims.capacity.packing import packing_centres, packing_member
from verify.claims.strategies import draw_random_model, seeds
from verify.claims.universality.strategies import FLOAT64_SIGNIFICAND_BITS


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
    return prompt_pair_around(model, radius, step, lp, length, rng, seed)


def prompt_pair_around(
    model: Transformer,
    radius: float,
    step: float,
    lp: int,
    length: int,
    rng: np.random.Generator,
    seed: int,
) -> PromptPairCase:
    """A prompt in the box, another ``step · radius`` away (clipped to the box), inputs."""
    width, d = model.width, model.d
    prompt = rng.uniform(-radius, radius, (lp, width))  # (Lp, D)
    other = np.clip(prompt + step * radius * rng.choice([-1.0, 1.0], (lp, width)), -radius, radius)
    xs = rng.random((3, length, d))  # (B, L, d)
    return PromptPairCase(model, radius, prompt, other, xs, seed)


def seeded_prompt_pair(seed: int) -> PromptPairCase:
    """One prompt pair with sizes drawn from ``seed`` by numpy (no Hypothesis: for planted
    violations, which then need no shrinking).

    >>> from verify.claims.capacity.strategies import seeded_prompt_pair
    >>> seeded_prompt_pair(0).prompt.shape == seeded_prompt_pair(0).other.shape
    True
    """
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    width = d + int(rng.integers(0, 3))
    model = Transformer.random(d, rng=rng, width=width)
    lp, length = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    return prompt_pair_around(model, 1.0, 1e-3, lp, length, rng, seed)


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
    layers = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    return permutation_case(d, width, length, layers, draw(st.integers(0, 6)), seed, positional)


def permutation_case(
    d: int,
    width: int,
    length: int,
    layers: tuple[int, int],
    lp: int,
    seed: int,
    positional: bool,
) -> PermutationCase:
    """The case of :func:`permutation_cases` for given sizes (``layers``: FFN_in, FFN_out).

    >>> from verify.claims.capacity.strategies import permutation_case
    >>> permutation_case(1, 2, 3, (0, 0), 2, 0, False).permutation.shape
    (3,)
    """
    rng = np.random.default_rng(seed)
    model = Transformer.random(
        d,
        rng=rng,
        width=width,
        ffn_in_layers=layers[0],
        ffn_out_layers=layers[1],
        max_length=length if positional else None,
    )
    prompt = rng.standard_normal((lp, width)) * 2  # (Lp, D)
    x = rng.random((length, d))  # (L, d)
    perm = rng.permutation(length)  # (L,)
    if np.array_equal(perm, np.arange(length)):
        perm = np.roll(perm, 1)  # never the identity
    return PermutationCase(model, prompt, x, perm, seed)


@dataclass(frozen=True)
class PackingTarget:
    """A member ``f_σ`` of the packing family (docs/capacity.md, Lemma 2) with per-axis centre
    coordinates ``centres`` and signs drawn from ``seed``; picklable, for the constructions.

    ``centres`` default to the cell-centre placement on the ``K``-grid of a construction
    (:func:`cell_centre_packing`), which keeps every centre off the construction's boundary band.

    >>> import numpy as np
    >>> from verify.claims.capacity.strategies import PackingTarget
    >>> f = PackingTarget(d=1, L=1, eps=0.125, lipschitz=1.0, centres=(0.0625, 0.5625))
    >>> f.centre_sequences()[:, 0, 0].tolist(), np.abs(f(f.centre_sequences()) - 0.5).max()
    ([0.0625, 0.5625], np.float64(0.25))
    """

    d: int
    L: int
    eps: float
    lipschitz: float
    centres: tuple[float, ...]
    seed: int = 0

    def signs(self) -> np.ndarray:
        """``±1`` of shape ``(m,) * (L d) + (L, d)``, from ``seed``."""
        rng = np.random.default_rng(self.seed)
        m = len(self.centres)
        return rng.choice([-1, 1], size=(m,) * (self.d * self.L) + (self.L, self.d))

    def centre_sequences(self) -> np.ndarray:
        """All ``m^{dL}`` sequences of centres: shape ``(m^{dL}, L, d)``."""
        axis = np.asarray(self.centres, dtype=np.float64)  # (m,)
        grids = np.meshgrid(*([axis] * (self.d * self.L)), indexing="ij")
        flat = np.stack([g.ravel() for g in grids], axis=-1)  # (m^{dL}, L d)
        return flat.reshape(-1, self.L, self.d)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return packing_member(
            x,
            self.signs(),
            eps=self.eps,
            lipschitz=self.lipschitz,
            centres=np.asarray(self.centres, dtype=np.float64),
        )


def cell_centre_packing(eps: float, lipschitz: float, k: int) -> tuple[float, ...]:
    """Packing centres at every ``r``-th cell centre ``(j + 1/2)/K`` of a ``K``-grid,
    ``r = ceil(4 eps K / C)`` (from
    :data:`verify.claims.capacity.bounds.cell_centre_packing_stride`).

    >>> from verify.claims.capacity.strategies import cell_centre_packing
    >>> cell_centre_packing(0.125, 1.0, 8)
    (0.0625, 0.5625)
    """
    stride = int(cap.cell_centre_packing_stride_fn(eps, lipschitz, k))
    count = int(cap.cell_centre_packing_per_axis_fn(eps, lipschitz, k))
    return tuple((stride * j + 0.5) / k for j in range(count))


def unit_grid_packing(eps: float, lipschitz: float) -> tuple[float, ...]:
    """The default packing centres ``(j + 1/2)/m``, ``m = floor(C/(4 eps))`` (on cell
    boundaries of a power-of-two grid when ``m`` is: the premise fails there).

    >>> from verify.claims.capacity.strategies import unit_grid_packing
    >>> unit_grid_packing(0.125, 1.0)
    (0.25, 0.75)
    """
    return tuple(float(c) for c in packing_centres(eps=eps, lipschitz=lipschitz))


@dataclass(frozen=True)
class ConstructionCase:
    """One construction to compare with the bounds (built in the worker, from these numbers).

    ``centres``: ``"cells"`` (packing centres at cell centres of the construction's grid: the
    covering theorem's premise can hold) or ``"unit"`` (the default packing grid ``(j+1/2)/m``,
    on the boundary band: the premise fails, the case is shown and not counted).
    """

    d: int
    L: int
    eps: float
    lipschitz: float
    seed: int = 0
    backend: str = "float64"
    probe: bool = True
    centres: str = "cells"
    precision_bits: int | None = None


@dataclass(frozen=True)
class MemorizerCase:
    """``N`` distinct sequences of grid-cell centres (spacing ``separation``) with two-level
    targets ``1/2 ± 2 eps`` (signs from ``seed``): one of the ``2^{N L d}`` labelings of the
    dataset token bound's premise."""

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
        signs = rng.choice([-1.0, 1.0], size=xs.shape)  # (N, L, d)
        return xs, 0.5 + signs * float(cap.bump_height_fn(self.eps))


@st.composite
def construction_cases(draw: st.DrawFn) -> ConstructionCase:
    """Small float64 universality constructions (``d L <= 2``, ``eps`` in ``{1/4, 1/8}``) with at
    least one packing centre per axis, whose needed precision fits float64 and whose prompt has
    at most 64 rows (fast)."""
    from reference.constructions.sizes import band_width, precision_needed
    from reference.constructions.universality import grid_sizes

    def bits(d: int, length: int, eps: float, c: float) -> int:
        """The construction's precision with its default band (the band term included)."""
        k, q = grid_sizes(eps, c)
        return precision_needed(d, length, k, q, band_width(eps, d, length, k))

    d, length = draw(st.sampled_from([(1, 1), (1, 2), (2, 1)]))
    eps = draw(st.sampled_from([0.25, 0.125]))
    lipschitz = draw(
        st.sampled_from([0.5, 1.0, 2.0]).filter(
            lambda c: (
                eps <= float(cap.packing_one_centre_max_eps_fn(c))
                and bits(d, length, eps, c) <= FLOAT64_SIGNIFICAND_BITS
                and length * grid_sizes(eps, c)[0] ** d <= 64
            )
        )
    )
    return ConstructionCase(d, length, eps, lipschitz, seed=draw(st.integers(0, 2**16)))


__all__ = [
    "ConstructionCase",
    "MemorizerCase",
    "PackingCase",
    "PackingTarget",
    "PermutationCase",
    "PromptPairCase",
    "cell_centre_packing",
    "construction_cases",
    "packing_cases",
    "permutation_case",
    "permutation_cases",
    "prompt_pair_around",
    "prompt_pair_cases",
    "seeded_prompt_pair",
    "unit_grid_packing",
]
