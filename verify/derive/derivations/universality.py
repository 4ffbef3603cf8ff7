"""Universality (theory.md §3): the error off the band, the choice of ``K`` and ``Q``, the band's
measure and its union bound, the in-band range and the whole-cube ``L_p`` bound per decoder.

The construction (``reference/constructions/``) reads input token ``X`` as its grid cell (off the
band), looks up the target at the cell centre quantized to ``Q`` level centres, and reads out
``(acc + 1/2)/Q`` with the level ``acc``; each definition premise names the test that reads it
off the built objects. Precision and sizes: :mod:`verify.derive.derivations.universality_sizes`.

>>> from verify.derive import derivation
>>> derivation("universality.error_off_band").result
C/(2*K) + 1/(2*Q)
>>> derivation("universality.band_measure").result
1 - (-2*eta*(K - 1) + 1)**(L*d)
"""

from __future__ import annotations

import sympy as sp

from verify.derive.engine import Derivation
from verify.derive.registry import derivation, register

# ---------------------------------------------------------------- symbols (as in the claim)
d = sp.Symbol("d", positive=True, integer=True)  # token width
L = sp.Symbol("L", positive=True, integer=True)  # input length
K = sp.Symbol("K", positive=True, integer=True)  # grid cells per coordinate (a power of two)
Q = sp.Symbol("Q", positive=True, integer=True)  # output levels (a power of two)
eps = sp.Symbol("epsilon", positive=True)  # accuracy, in (0, 1)
C = sp.Symbol("C", positive=True)  # max-norm Lipschitz constant of the target
eta = sp.Symbol("eta", positive=True)  # half-width of the boundary band
p_norm = sp.Symbol("p", positive=True)  # exponent of the L_p norm, p >= 1
j = sp.Symbol("j", positive=True, integer=True)  # an interior boundary j/K
k = sp.Symbol("k", integer=True)  # an exponent of two

rho = sp.Symbol("rho", nonnegative=True)  # max-norm distance of X to its cell centre
q_err = sp.Symbol("q_err", nonnegative=True)  # |level centre − f(centre)|
measure = sp.Symbol("m", nonnegative=True)  # Lebesgue measure of the band
in_band = sp.Symbol("M", nonnegative=True)  # sup error in the band
off_band = sp.Symbol("e", nonnegative=True)  # sup max-norm error off the band
spread = sp.Symbol("a", nonnegative=True)  # |output − 1/2|
level_dev = sp.Symbol("dev", nonnegative=True)  # |acc − (Q − 1)/2|
lp_power = sp.Symbol("E_p", nonnegative=True)  # E ‖τ − f‖_max^p over the cube
log2_k = sp.Symbol("kappa", integer=True)  # log2 of a power-of-two size
delta = sp.Symbol("delta", positive=True)  # token separation of a memorization dataset
samples = sp.Symbol("n", positive=True, integer=True)  # uniform samples of the cube
failure = sp.Symbol("delta_fail", positive=True)  # failure probability of a Monte Carlo bound
fraction = sp.Symbol("phi", nonnegative=True)  # fraction of the samples in the band
sample_power = sp.Symbol("S_p", nonnegative=True)  # sample mean of ‖τ − f‖^p
deviation = sp.Symbol("t_n", nonnegative=True)  # Hoeffding deviation
grid = sp.Symbol("K_grid", positive=True)  # a chosen power-of-two size
lp_norm = sp.Symbol("lp", nonnegative=True)  # ‖τ − f‖_{L_p}

DECODERS = ("deep", "wide", "shallow")
#: Where each decoder's range lemma is proved (docs) and checked (the report's whole-cube check).
RANGE_SOURCES = {
    "deep": "docs/universality.md, 'Range lemma (deep decoder)': clamps in [0, 1], digits in "
    "[0, Q − 1], at most two selections nonzero; checked per decoder by the whole-cube check",
    "wide": "docs/universality.md, 'Range lemma (wide decoder)': the staircase F_t and Q F_{t−1} "
    "ramp together, so every digit lies in [0, Q − 1] for every remainder; then as the deep one",
    "shallow": "docs/universality.md, 'Range lemma (shallow decoder)': mismatches >= 0 against "
    "the transported position, two contexts' mismatches sum to >= 1, gate 4Q^T: one context on",
}

_TESTS = "tests/universality/test_derivation_premises.py::"
_CELL_TEST = _TESTS + "test_off_the_band_the_quantizer_reads_the_cell_of_the_input"
_LEVEL_TEST = _TESTS + "test_grid_outputs_are_level_centres_within_half_a_level"
_BAND_TEST = _TESTS + "test_the_band_is_the_union_of_the_boundary_intervals"
_READOUT_TEST = _TESTS + "test_the_readout_is_the_level_plus_a_half_over_Q"
_CHOICE_TEST = _TESTS + "test_K_and_Q_are_the_smallest_powers_of_two_meeting_the_targets"
_ETA_TEST = _TESTS + "test_the_default_band_is_the_largest_power_of_two_meeting_the_budget"


@register("universality.error_off_band", "‖τ − f‖_max <= C/(2K) + 1/(2Q) off the band")
def error_off_band() -> Derivation:
    """The sup error off the band: cell radius times ``C``, plus half a level."""
    dd = Derivation(
        "universality.error_off_band",
        claim="universality",
        goal="the error off the band: C/(2K) + 1/(2Q)",
        quantity=off_band,
    )
    dd.hypothesis(
        "lipschitz",
        sp.Le(off_band, C * rho + q_err),
        "f is C-Lipschitz in the max norm: |τ(X) − f(X)| <= |q(f(c)) − f(c)| + |f(c) − f(X)| with "
        "c the cell centre of X and q the level centre",
    )
    dd.definition(
        "cell_radius",
        sp.Le(rho, 1 / (2 * K)),
        "off the band the quantizer reads X's own cell; centres at (k + 1/2)/K",
        test=_CELL_TEST,
    )
    dd.definition(
        "level_error",
        sp.Le(q_err, 1 / (2 * Q)),
        "the prompt stores min(⌊Q f(c)⌋, Q − 1); the output is its level centre",
        test=_LEVEL_TEST,
    )
    dd.start(premise="lipschitz").bound("cell_radius").bound("level_error")
    return dd


@register("universality.error_within_eps", "C/(2K) + 1/(2Q) <= ε for K >= C/ε, Q >= 1/ε")
def error_within_eps() -> Derivation:
    """The choice of ``K`` and ``Q`` meets ``ε``."""
    dd = Derivation(
        "universality.error_within_eps",
        claim="universality",
        goal="with K >= C/ε and Q >= 1/ε the error off the band is <= ε",
        quantity=off_band,
    )
    base = derivation("universality.error_off_band")
    dd.lemma("off_band", base.statement, "the error off the band", proof=base)
    dd.definition("cells", sp.Ge(K, C / eps), "K = 2^⌈log2(C/ε)⌉ >= C/ε", test=_CHOICE_TEST)
    dd.definition("levels", sp.Ge(Q, 1 / eps), "Q = 2^⌈log2(1/ε)⌉ >= 1/ε", test=_CHOICE_TEST)
    dd.start(premise="off_band").bound("cells").bound("levels").equal(eps, "ε/2 + ε/2")
    return dd


def _exponent(name: str, target: sp.Expr, text: str) -> Derivation:
    dd = Derivation(
        f"universality.{name}",
        claim="universality",
        goal=f"the smallest power of two 2^k >= {target}",
        quantity=log2_k,
    )
    dd.hypothesis(
        "eps_range", sp.And(eps > 0, eps < 1), "0 < ε < 1", domain={eps: sp.Interval.open(0, 1)}
    )
    dd.smallest(k, sp.Ge(2**k, target), integer=True, why=text)
    return dd


@register("universality.cells_exponent", "log2 K = ⌈log2(C/ε)⌉: the smallest 2^k >= C/ε")
def cells_exponent() -> Derivation:
    """``log2 K``: the smallest exponent with ``2^k >= C/ε`` (the grid is at least 2 cells)."""
    dd = _exponent("cells_exponent", C / eps, "2^k grows in k")
    dd.hypothesis(
        "unrounded",
        sp.Eq(sp.Symbol("K_unrounded"), sp.ceiling(C / eps)),
        "theory.md §3's grid ⌈C/ε⌉, for comparison (the derivation rounds it to a power of two)",
    )
    return dd


@register("universality.levels_exponent", "log2 Q = ⌈log2(1/ε)⌉: the smallest 2^k >= 1/ε")
def levels_exponent() -> Derivation:
    """``log2 Q``: the smallest exponent with ``2^k >= 1/ε`` (at least 2 levels)."""
    return _exponent("levels_exponent", 1 / eps, "2^k grows in k")


@register("universality.band_exponent", "log2 η = ⌊log2(ε/(2dLK))⌋: the largest 2^k <= ε/(2dLK)")
def band_exponent() -> Derivation:
    """``log2 η`` of the default band: the largest power of two with ``2dLKη <= ε``."""
    dd = Derivation(
        "universality.band_exponent",
        claim="universality",
        goal="the largest power of two 2^k with 2 d L K 2^k <= ε (the band budget)",
        quantity=log2_k,
    )
    dd.hypothesis(
        "eps_range", sp.And(eps > 0, eps < 1), "0 < ε < 1", domain={eps: sp.Interval.open(0, 1)}
    )
    dd.largest(k, sp.Le(2 * d * L * K * 2**k, eps), integer=True, why="2dLK 2^k grows in k")
    return dd


@register("universality.band_measure", "m = 1 − (1 − 2η(K − 1))^{dL}: the band's measure")
def band_measure() -> Derivation:
    """The Lebesgue measure of the band, exactly (its complement is a product of intervals)."""
    dd = Derivation(
        "universality.band_measure",
        claim="universality",
        goal="the measure of the band in [0,1]^{L×d}",
        quantity=measure,
    )
    dd.definition(
        "band",
        sp.Eq(measure, 1 - (1 - sp.Sum(2 * eta, (j, 1, K - 1))) ** (d * L)),
        "a coordinate is in the band when within η of an interior boundary j/K: K − 1 disjoint "
        "intervals of length 2η (η < 1/(2K)); the complement of the band is the product over "
        "the dL coordinates of their complements",
        test=_BAND_TEST,
    )
    dd.start(premise="band").evaluate()
    return dd


@register("universality.band_measure_bound", "m <= 2dLηK (Bernoulli: the union bound)")
def band_measure_bound() -> Derivation:
    """The union bound of the band's measure."""
    dd = Derivation(
        "universality.band_measure_bound",
        claim="universality",
        goal="the band's measure is at most 2 d L η K",
        quantity=measure,
        domain={eta: sp.Interval.open(0, 1 / (2 * K))},
    )
    exact = derivation("universality.band_measure")
    dd.lemma("measure", exact.statement, "the band's measure", proof=exact)
    power = (1 - 2 * eta * (K - 1)) ** (d * L)
    dd.lemma(
        "bernoulli",
        sp.Ge(power, 1 - d * L * 2 * eta * (K - 1)),
        "Bernoulli's inequality (1 − x)^n >= 1 − n x for 0 <= x <= 1 and integer n >= 1",
        source="Bernoulli's inequality: G. H. Hardy, J. E. Littlewood, G. Pólya, Inequalities "
        "(2nd ed.), Cambridge 1952, §2.4",
    )
    dd.start(premise="measure").bound("bernoulli", 2 * d * L * eta * (K - 1))
    dd.relax(2 * d * L * eta * K, "K − 1 <= K")
    return dd


@register("universality.band_within_eps", "m <= ε at the default band η <= ε/(2dLK)")
def band_within_eps() -> Derivation:
    """The default band's measure is at most ``ε``."""
    dd = Derivation(
        "universality.band_within_eps",
        claim="universality",
        goal="at the default band the band's measure is <= ε",
        quantity=measure,
    )
    union = derivation("universality.band_measure_bound")
    dd.lemma("union", union.statement, "the union bound", proof=union)
    dd.definition(
        "default_band",
        sp.Le(eta, eps / (2 * d * L * K)),
        "the default band η = 2^⌊log2(ε/(2dLK))⌋",
        test=_ETA_TEST,
    )
    dd.start(premise="union").bound("default_band")
    return dd


def _choice(
    name: str, exponent: str, minimum: int | None, text: str, symbol: sp.Symbol
) -> Derivation:
    dd = Derivation(f"universality.{name}", claim="universality", goal=text, quantity=grid)
    power = 2 ** (sp.Max(minimum, log2_k) if minimum is not None else log2_k)
    dd.definition(
        "power", sp.Eq(grid, power), text, test=_CHOICE_TEST if name != "band_eta" else _ETA_TEST
    )
    chosen_exponent = derivation(f"universality.{exponent}")
    statement = chosen_exponent.statement
    if symbol is not eps:
        statement = statement.subs(eps, symbol)
    dd.lemma(
        "exponent",
        statement,
        chosen_exponent.goal,
        proof=None if symbol is not eps else chosen_exponent,
        source=f"universality.{exponent} with ε = {symbol}" if symbol is not eps else None,
    )
    dd.start(premise="power").substitute("exponent")
    return dd


@register("universality.cells_per_axis", "K = 2^max(1, ⌈log2(C/ε)⌉)")
def cells_per_axis() -> Derivation:
    """The grid: the smallest power of two ``>= C/ε``, at least 2."""
    return _choice("cells_per_axis", "cells_exponent", 1, "K = 2^max(1, ⌈log2(C/ε)⌉) cells", eps)


@register("universality.levels", "Q = 2^max(1, ⌈log2(1/ε)⌉)")
def levels() -> Derivation:
    """The output levels: the smallest power of two ``>= 1/ε``, at least 2."""
    return _choice("levels", "levels_exponent", 1, "Q = 2^max(1, ⌈log2(1/ε)⌉) levels", eps)


@register("universality.memorizer_cells", "K(δ) = 2^max(1, ⌈log2(1/δ)⌉) for δ-separated data")
def memorizer_cells() -> Derivation:
    """The memorizer's grid: distinct δ-separated tokens in distinct cells."""
    return _choice(
        "memorizer_cells", "levels_exponent", 1, "K = 2^max(1, ⌈log2(1/δ)⌉) cells", delta
    )


@register("universality.band_eta", "η = 2^⌊log2(ε/(2dLK))⌋: the default band")
def band_eta() -> Derivation:
    """The default band half-width: the largest power of two with ``2dLKη <= ε``."""
    return _choice("band_eta", "band_exponent", None, "η = 2^⌊log2(ε/(2dLK))⌋", eps)
