"""The report's reading guide of the ``efficiency`` claim: its docs page and what it shows."""

from __future__ import annotations

from verify.claims.base import ClaimGuide

GUIDE = ClaimGuide(
    docs="efficiency.md#the-statement-checked",
    shows=(
        "With bounded attention logits (radius R), replacing exp by a certified polynomial "
        "factorizes attention at rank C(d+g, g), with max error at most 2ε/(1−ε)·‖V‖_max; for "
        "small R this is almost linear in the sequence length, beyond the crossover it loses to "
        "exact attention. The checks measure the error against the certified bound, the degree "
        "and rank formulas and their asymptotics, the low-rank gradient, and that a cached "
        "prompt gives the same outputs at a cost independent of the prompt length. Runtimes "
        "here are indicative; the asv benchmarks are the measurement (docs/asv.md)."
    ),
)
