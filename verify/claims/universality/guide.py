"""The report's reading guide of the ``universality`` claim: its docs page and what it shows."""

from __future__ import annotations

from verify.claims.base import ClaimGuide

GUIDE = ClaimGuide(
    docs="universality.md#theorem-universality",
    shows=(
        "One frozen transformer, fixed by d, L, ε and C only, is steered by a prompt alone to "
        "any C-Lipschitz sequence-to-sequence target within ε, off a thin band at the grid "
        "cell boundaries. The measured sup error is compared with the sympy bound "
        "C/(2K) + 1/(2Q) on drawn and adversarial targets (a ratio near 1: the bound is "
        "tight), it falls like 1/K, and the precision table shows where float64 stops being "
        "enough and mpmath takes over. It shows such prompts exist and are exponentially long; "
        "it does not show that training finds them (see `capacity`)."
    ),
)
