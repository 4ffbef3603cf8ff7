"""For each claim of the report: its docs page and a one-paragraph "what this shows".

Kept here (not in the claim modules) so the report's reading guide is in one place; a test
requires an entry for every registered claim (docs/adding-a-claim.md).

>>> from verify.report.claim_guide import GUIDE, reproduce_command
>>> GUIDE["efficiency"].docs
'efficiency.md#the-statement-checked'
>>> reproduce_command("efficiency", seed=3, mode="smoke")
'python -m verify --only efficiency --seed 3 --smoke'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClaimGuide:
    """``docs``: the page (and anchor) under ``docs/``; ``shows``: what the claim's results
    show a reader, and what they do not."""

    docs: str
    shows: str


GUIDE: dict[str, ClaimGuide] = {
    "foundation": ClaimGuide(
        "theory.md#2-exact-identities-any-weights",
        "Whatever the weights, a prompt cannot change how a query weighs the input rows "
        "relative to each other: it only scales those weights by 1 − a_i and mixes in the "
        "prompt's average value with weight a_i. This is the structural reason a prompt is a "
        "limited lever on one attention layer, and the other claims build on it. The identities "
        "are proved in sympy and checked on random models to 1e-12; the hand-written prompt "
        "gradient is checked against finite differences, so the training experiments of "
        "`capacity` descend a correct gradient.",
    ),
    "universality": ClaimGuide(
        "universality.md#theorem-universality",
        "One frozen transformer, fixed by d, L, ε and C only, is steered by a prompt alone to "
        "any C-Lipschitz sequence-to-sequence target within ε, off a thin band at the grid "
        "cell boundaries. The measured sup error is compared with the sympy bound "
        "C/(2K) + 1/(2Q) on drawn and adversarial targets (a ratio near 1: the bound is "
        "tight), it falls like 1/K, and the precision table shows where float64 stops being "
        "enough and mpmath takes over. It shows such prompts exist and are exponentially long; "
        "it does not show that training finds them (see `capacity`).",
    ),
    "capacity": ClaimGuide(
        "capacity.md",
        "Universality has a price: any prompt realizing all C-Lipschitz targets needs "
        "exponentially many rows (in d·L) or exponentially many bits per row. The bounds are "
        "derived in sympy, the packing family behind them and the prompt-Lipschitz constant Λ "
        "are checked on real models, and the explicit construction is compared against them "
        "(the gap is reported, never hidden). Separately, gradient prompt tuning of random "
        "models memorizes far fewer pairs than the bound allows and stays above a provable "
        "loss floor on Wang-style data.",
    ),
    "efficiency": ClaimGuide(
        "efficiency.md#the-statement-checked",
        "With bounded attention logits (radius R), replacing exp by a certified polynomial "
        "factorizes attention at rank C(d+g, g), with max error at most 2ε/(1−ε)·‖V‖_max; for "
        "small R this is almost linear in the sequence length, beyond the crossover it loses to "
        "exact attention. The checks measure the error against the certified bound, the degree "
        "and rank formulas and their asymptotics, the low-rank gradient, and that a cached "
        "prompt gives the same outputs at a cost independent of the prompt length. Runtimes "
        "here are indicative; the asv benchmarks are the measurement (docs/asv.md).",
    ),
}


def reproduce_command(name: str, *, seed: int, mode: str) -> str:
    """The command that reruns one claim with the same cases."""
    flag = {"smoke": " --smoke", "thorough": " --thorough"}.get(mode, "")
    return f"python -m verify --only {name} --seed {seed}{flag}"
