"""Hypothesis strategies shared by the properties: models, prompts, inputs.

Strategies draw sizes, norms and a seed, then build arrays with a seeded
``numpy.random.Generator`` (no large arrays drawn element by element, no health-check trips).
Claim-specific strategies live in sibling modules (``targets``, ``efficiency``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from reference import Transformer

seeds = st.integers(min_value=0, max_value=2**32 - 1)


@dataclass(frozen=True)
class PromptCase:
    """A random frozen model, a prompt and a batch of input sequences."""

    model: Transformer
    prompt: np.ndarray  # (Lp, D)
    xs: np.ndarray  # (B, L, d)
    ys: np.ndarray  # (B, L, d)
    seed: int

    def __repr__(self) -> str:  # short, reproducible
        return (
            f"PromptCase(d={self.model.d}, D={self.model.width}, Lp={self.prompt.shape[0]}, "
            f"B={self.xs.shape[0]}, L={self.xs.shape[1]}, seed={self.seed})"
        )


def draw_random_model(
    draw: st.DrawFn,
    rng: np.random.Generator,
    *,
    d: int,
    width: int,
    max_length: int | None,
    weight_scale: float = 1.0,
) -> Transformer:
    """A random model of the given sizes with drawn key/value widths and FFN depths (0–2 layers
    on each side); weights from ``rng``. For use inside ``@st.composite`` strategies."""
    return Transformer.random(
        d,
        rng=rng,
        width=width,
        key_width=draw(st.integers(1, width + 1)),
        value_width=draw(st.integers(1, width + 1)),
        ffn_in_layers=draw(st.integers(0, 2)),
        ffn_out_layers=draw(st.integers(0, 2)),
        max_length=max_length,
        weight_scale=weight_scale,
    )


@st.composite
def prompt_cases(
    draw: st.DrawFn,
    *,
    max_d: int = 4,
    max_length: int = 6,
    max_prompt: int = 6,
    max_batch: int = 3,
    min_prompt: int = 0,
    positional: bool | None = None,
    prompt_scale: float | None = None,
) -> PromptCase:
    """A random model (FFN layers on both sides), prompt and batch, all from one drawn seed."""
    d = draw(st.integers(1, max_d))
    width = d + draw(st.integers(0, 3))
    length = draw(st.integers(1, max_length))
    lp = draw(st.integers(min_prompt, max_prompt))
    batch = draw(st.integers(1, max_batch))
    use_pos = draw(st.booleans()) if positional is None else positional
    scale = draw(st.sampled_from([0.3, 1.0, 3.0])) if prompt_scale is None else prompt_scale
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    model = draw_random_model(
        draw, rng, d=d, width=width, max_length=max_length if use_pos else None
    )
    prompt = rng.standard_normal((lp, width)) * scale  # (Lp, D)
    xs = rng.random((batch, length, d))  # (B, L, d)
    ys = rng.random((batch, length, d))  # (B, L, d)
    return PromptCase(model, prompt, xs, ys, seed)
