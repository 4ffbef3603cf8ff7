"""The report's reading guide of the ``foundation`` claim: its docs page and what it shows."""

from __future__ import annotations

from verify.claims.base import ClaimGuide

GUIDE = ClaimGuide(
    docs="theory.md#2-exact-identities-any-weights",
    shows=(
        "Whatever the weights, a prompt cannot change how a query weighs the input rows "
        "relative to each other: it only scales those weights by 1 − a_i and mixes in the "
        "prompt's average value with weight a_i. This is the structural reason a prompt is a "
        "limited lever on one attention layer, and the other claims build on it. The identities "
        "are proved in sympy and checked on random models to 1e-12; the hand-written prompt "
        "gradient is checked against finite differences, so the training experiments of "
        "`capacity` descend a correct gradient."
    ),
)
