"""The report's reading guide of the ``capacity`` claim: its docs page and what it shows."""

from __future__ import annotations

from verify.claims.base import ClaimGuide

GUIDE = ClaimGuide(
    docs="capacity.md",
    shows=(
        "Universality has a price: any prompt realizing all C-Lipschitz targets needs "
        "exponentially many rows (in d·L) or exponentially many bits per row. The bounds are "
        "derived in sympy, the packing family behind them and the prompt-Lipschitz constant Λ "
        "are checked on real models, and the explicit construction is compared against them "
        "(the gap is reported, never hidden). Separately, gradient prompt tuning of random "
        "models memorizes far fewer pairs than the bound allows and stays above a provable "
        "loss floor on Wang-style data."
    ),
)
