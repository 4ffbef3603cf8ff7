"""Efficiency (theory.md §5): rank, output error (sharp and simple), weights, radius, costs.

The output error of the polynomial method per output column: the computed weights are the exact
softmax ``S_j`` perturbed, ``S_j(1 + ρ_j)/(1 + ρ̄)`` with ``|ρ_j| <= ε`` (the fit's certified
relative error). The worst case over values is at values in ``{min, max}`` (the error is linear
in the values), so with ``A`` the keys at the maximum, ``p = Σ_A S_j`` and ``ρ_A``, ``ρ_B`` the
``S``-weighted mean perturbations on ``A`` and off it, the error is
``W·(p(1 + ρ_A)/(p(1 + ρ_A) + (1 − p)(1 + ρ_B)) − p)``; the engine then shows it increasing in
``ρ_A`` and decreasing in ``ρ_B``, and maximises over ``p``: the sharp ``W(1 − √(1 − ε²))/ε``.

>>> from verify.derive import derivation
>>> derivation("efficiency.output_error_sharp").steps[-2].claimed
W*(1 - sqrt(1 - epsilon**2))/epsilon
>>> derivation("efficiency.output_error_sharp").result  # the same, stable in floats
W*epsilon/(sqrt(1 - epsilon**2) + 1)
"""

from __future__ import annotations

import sympy as sp

from verify.derive.engine import Derivation
from verify.derive.registry import derivation, register

# ---------------------------------------------------------------- symbols (as in the claim)
d, g = sp.symbols("d g", integer=True, positive=True)  # key width, polynomial degree
dv = sp.Symbol("d_v", integer=True, positive=True)  # value width
n, m = sp.symbols("n m", integer=True, positive=True)  # queries, keys
r = sp.Symbol("r", integer=True, positive=True)  # rank of the factorization
eps = sp.Symbol("epsilon", positive=True)  # relative error of the fit, 0 < eps < 1
v_max = sp.Symbol("V_max", nonnegative=True)  # ‖V‖_max
v_spread = sp.Symbol("W", nonnegative=True)  # max V − min V of one output column
scale = sp.Symbol("s", positive=True)  # logit scale
q_norm, k_norm = sp.symbols("Q_norm K_norm", nonnegative=True)  # max row norms
B = sp.Symbol("B", positive=True)  # entry bound |q_ia|, |k_ja| <= B
c_exp = sp.Symbol("c_exp", positive=True)  # cost of one exp + softmax bookkeeping
j = sp.Symbol("j", integer=True, nonnegative=True)  # a monomial degree
p = sp.Symbol("p", nonnegative=True)  # exact softmax mass on the keys at the maximum value
rho_a, rho_b = sp.symbols("rho_A rho_B", real=True)  # mean perturbations on / off those keys
rho, rho_bar = sp.symbols("rho rho_bar", real=True)  # one key's perturbation, the mean one
err, eta_q, kappa_q = sp.symbols("err eta kappa", nonnegative=True)
logit = sp.Symbol("t_abs", nonnegative=True)  # |s q·k|
rank_q = sp.Symbol("rank", positive=True)
speedup_q, crossover_q = sp.symbols("speedup n_cross", positive=True)

EPS_RANGE = {eps: sp.Interval.open(0, 1)}
RHO_RANGE = {rho_a: sp.Interval(-eps, eps), rho_b: sp.Interval(-eps, eps)}

_FIT_TEST = "tests/efficiency/test_polyfit.py::test_certificate_bounds_mpmath_error_on_fine_grid"
_COLUMN_TEST = (
    "tests/efficiency/test_fast_attention.py::test_bound_is_per_column_and_shift_invariant"
)
_FEATURE_TEST = "tests/efficiency/test_features.py::test_monomials_are_each_multiset_once"
_COST_TEST = "tests/efficiency/test_efficiency_bounds.py::test_cost_models_match_reference"


def _eps_hypothesis(derivation_: Derivation) -> None:
    derivation_.hypothesis(
        "eps_range",
        sp.And(eps > 0, eps < 1),
        "the fit's certified relative error ε lies in (0, 1) (plan refuses otherwise)",
        domain=EPS_RANGE,
    )


@register("efficiency.rank", "r = C(d + g, g): the monomials of degree <= g in d variables")
def rank() -> Derivation:
    """The rank of the factorization, by counting the feature map's monomials."""
    deg = sp.Function("monomials_of_degree")
    dd = Derivation(
        "efficiency.rank",
        claim="efficiency",
        goal="the number of features: monomials of degree <= g in d variables",
        quantity=rank_q,
    )
    dd.definition(
        "features",
        sp.Eq(rank_q, sp.Sum(deg(j), (j, 0, g))),
        "the features are the monomials of degree 0..g in the d key coordinates, each once",
        test=_FEATURE_TEST,
    )
    dd.lemma(
        "stars_and_bars",
        sp.Eq(deg(j), sp.binomial(j + d - 1, d - 1)),
        "monomials of degree exactly j in d variables are the multisets of size j",
        source="stars and bars: R. P. Stanley, Enumerative Combinatorics I (2nd ed.), §1.2",
    )
    dd.start(premise="features")
    dd.substitute("stars_and_bars", sp.Sum(sp.binomial(j + d - 1, d - 1), (j, 0, g)))
    dd.evaluate(sp.binomial(d + g, g), "summation (hockey-stick identity)")
    return dd


@register("efficiency.rank_alman_song", "C(2(g + d), 2g): the looser count Alman–Song quote")
def rank_alman_song() -> Derivation:
    """The count Alman–Song quote (a cited premise, compared with the derived rank)."""
    dd = Derivation(
        "efficiency.rank_alman_song",
        claim="efficiency",
        goal="the rank as Alman–Song state it",
        quantity=rank_q,
    )
    dd.lemma(
        "alman_song",
        sp.Le(rank_q, sp.binomial(2 * (g + d), 2 * g)),
        "their feature count, an upper bound of ours",
        source="J. Alman, Z. Song, Fast attention requires bounded entries, NeurIPS 2023, §3",
    )
    dd.start(premise="alman_song")
    return dd


@register(
    "efficiency.output_error_sharp",
    "|T − attn| <= W(1 − √(1 − ε²))/ε per column: the two-point worst case, maximised",
)
def output_error_sharp() -> Derivation:
    """The sharp output error of a perturbed weighted mean (attained by the two-point family)."""
    dd = Derivation(
        "efficiency.output_error_sharp",
        claim="efficiency",
        goal="the worst error of a weighted mean whose weights are perturbed by relative ε",
        quantity=err,
    )
    _eps_hypothesis(dd)
    dd.hypothesis(
        "mass_range",
        sp.And(p >= 0, p <= 1),
        "p = Σ_A S_j is a probability mass",
        domain={p: sp.Interval(0, 1)},
    )
    dd.hypothesis(
        "mean_perturbations",
        sp.And(sp.Abs(rho_a) <= eps, sp.Abs(rho_b) <= eps),
        "ρ_A, ρ_B are S-weighted means of ρ_j on A and off A (so in [−ε, ε])",
        domain=RHO_RANGE,
    )
    dd.definition(
        "fit_upper",
        sp.Le(rho_a, eps),
        "the fit's relative error |p(t)/e^t − 1| <= ε on [−R, R]: ρ_A <= ε",
        test=_FIT_TEST,
    )
    dd.definition(
        "fit_lower",
        sp.Ge(rho_b, -eps),
        "the same certificate from below: ρ_B >= −ε",
        test=_FIT_TEST,
    )
    share = p * (1 + rho_a) / (p * (1 + rho_a) + (1 - p) * (1 + rho_b))
    dd.lemma(
        "values_at_extremes",
        sp.Le(err, v_spread * (share - p)),
        "T − attn = Σ_j (w̃_j − S_j)(v_j − min v) is linear in the values (Σ w̃ = Σ S = 1): "
        "the worst values are min or max; A = the keys at the max, w̃ the computed weights",
        source="linearity in v (a linear function on a box peaks at a vertex); "
        "docs/derivations.md, 'The sharp output error'",
    )
    dd.start(premise="values_at_extremes")
    dd.bound("fit_upper", why="more weight on the keys at the maximum")
    dd.bound("fit_lower", why="less weight off them")
    dd.equal(
        v_spread * 2 * eps * p * (1 - p) / (1 - eps + 2 * eps * p),
        "common denominator",
    )
    dd.maximize(p, sp.Interval(0, 1), v_spread * (1 - sp.sqrt(1 - eps**2)) / eps)
    dd.equal(
        v_spread * eps / (1 + sp.sqrt(1 - eps**2)),
        "rationalised: the same value without the cancellation of 1 − √(1 − ε²) in floats",
    )
    return dd


@register("efficiency.output_error_simple", "the sharp error <= ε/(1 − ε)·W/2 (simpler, looser)")
def output_error_simple() -> Derivation:
    """The simpler bound ``ε/(1−ε)·W/2`` from the sharp one (loose by ``≈ 1/(1 − ε)``)."""
    dd = Derivation(
        "efficiency.output_error_simple",
        claim="efficiency",
        goal="a simpler bound of the sharp output error",
        quantity=err,
    )
    _eps_hypothesis(dd)
    sharp = derivation("efficiency.output_error_sharp")
    dd.lemma("sharp", sharp.statement, "the sharp output error", proof=sharp)
    root = sp.sqrt(1 - eps**2)
    dd.lemma("root_lower", sp.Ge(root, 1 - eps), "√(1 − ε²) >= 1 − ε on (0, 1)", proof="decide")
    dd.start(premise="sharp")
    dd.bound("root_lower", v_spread * eps / (2 - eps))
    dd.relax(eps / (1 - eps) * v_spread / 2, "2 − ε >= 2(1 − ε)")
    return dd


@register("efficiency.output_error_loose", "<= 2ε/(1 − ε)·‖V‖_max (the earlier bound, W <= 2‖V‖)")
def output_error_loose() -> Derivation:
    """The earlier ``2ε/(1−ε)·‖V‖_max``, from the simple bound and ``W <= 2‖V‖_max``."""
    dd = Derivation(
        "efficiency.output_error_loose",
        claim="efficiency",
        goal="the earlier bound in ‖V‖_max",
        quantity=err,
    )
    _eps_hypothesis(dd)
    simple = derivation("efficiency.output_error_simple")
    dd.lemma("simple", simple.statement, "the simple output error", proof=simple)
    dd.lemma(
        "spread",
        sp.Le(v_spread, 2 * v_max),
        "max V − min V <= 2 max |V|",
        source="triangle inequality",
    )
    dd.start(premise="simple").bound("spread")
    dd.relax(2 * eps / (1 - eps) * v_max, "a factor 2 kept from the earlier statement")
    return dd


@register("efficiency.weight_relative_error", "(ρ − ρ̄)/(1 + ρ̄) <= 2ε/(1 − ε) (η)")
def weight_relative_error() -> Derivation:
    """``η``: the relative error of one normalized weight, ``S̃/S − 1 = (ρ − ρ̄)/(1 + ρ̄)``."""
    dd = Derivation(
        "efficiency.weight_relative_error",
        claim="efficiency",
        goal="relative error of a normalized weight (the other sign gives 2ε/(1 + ε), smaller)",
        quantity=eta_q,
        domain={rho: sp.Interval(-eps, eps), rho_bar: sp.Interval(-eps, eps)},
    )
    _eps_hypothesis(dd)
    dd.definition(
        "normalized",
        sp.Eq(eta_q, (rho - rho_bar) / (1 + rho_bar)),
        "computed weights S(1 + ρ)/(1 + ρ̄), ρ̄ = Σ_j S_j ρ_j",
        test=_COLUMN_TEST,
    )
    dd.definition("rho_upper", sp.Le(rho, eps), "the fit's certificate", test=_FIT_TEST)
    dd.definition("mean_lower", sp.Ge(rho_bar, -eps), "a mean of ρ_j >= −ε", test=_FIT_TEST)
    dd.start(premise="normalized").bound("rho_upper").bound("mean_lower", 2 * eps / (1 - eps))
    return dd


@register("efficiency.weight_ratio", "S/S̃ = (1 + ρ̄)/(1 + ρ) <= (1 + ε)/(1 − ε) (κ)")
def weight_ratio() -> Derivation:
    """``κ``: exact over computed weight."""
    dd = Derivation(
        "efficiency.weight_ratio",
        claim="efficiency",
        goal="exact over computed weight",
        quantity=kappa_q,
        domain={rho: sp.Interval(-eps, eps), rho_bar: sp.Interval(-eps, eps)},
    )
    _eps_hypothesis(dd)
    dd.definition(
        "ratio",
        sp.Eq(kappa_q, (1 + rho_bar) / (1 + rho)),
        "S/S̃ for the computed weights S(1 + ρ)/(1 + ρ̄)",
        test=_COLUMN_TEST,
    )
    dd.definition("mean_upper", sp.Le(rho_bar, eps), "a mean of ρ_j <= ε", test=_FIT_TEST)
    dd.definition("rho_lower", sp.Ge(rho, -eps), "the fit's certificate", test=_FIT_TEST)
    dd.start(premise="ratio").bound("mean_upper").bound("rho_lower", (1 + eps) / (1 - eps))
    return dd


@register("efficiency.radius", "|s q·k| <= s ‖q‖ ‖k‖ <= s d B² (Cauchy–Schwarz, entries <= B)")
def radius() -> Derivation:
    """The logit radius, from row norms and from entry bounds."""
    dd = Derivation(
        "efficiency.radius",
        claim="efficiency",
        goal="the radius the fit must cover",
        quantity=logit,
    )
    dd.lemma(
        "cauchy_schwarz",
        sp.Le(logit, scale * q_norm * k_norm),
        "|q·k| <= ‖q‖‖k‖",
        source="Cauchy–Schwarz inequality",
    )
    dd.start(premise="cauchy_schwarz")
    return dd


@register("efficiency.radius_from_entries", "|s q·k| <= s d B² when every entry is at most B")
def radius_from_entries() -> Derivation:
    """The radius from entry bounds: ``‖q‖ <= √d B``."""
    dd = Derivation(
        "efficiency.radius_from_entries",
        claim="efficiency",
        goal="the radius from entry bounds",
        quantity=logit,
    )
    base = derivation("efficiency.radius")
    dd.lemma("norms", base.statement, "the radius from row norms", proof=base)
    dd.hypothesis("q_entries", sp.Le(q_norm, sp.sqrt(d) * B), "|q_a| <= B, so ‖q‖ <= √d B")
    dd.hypothesis("k_entries", sp.Le(k_norm, sp.sqrt(d) * B), "|k_a| <= B, so ‖k‖ <= √d B")
    dd.start(premise="norms").bound("q_entries").bound("k_entries", scale * d * B**2)
    return dd


@register("efficiency.radius_alman_song", "at Alman–Song's scale s = 1/d the radius is B²")
def radius_alman_song() -> Derivation:
    """The entry radius at ``s = 1/d``."""
    dd = Derivation(
        "efficiency.radius_alman_song",
        claim="efficiency",
        goal="the radius at s = 1/d",
        quantity=logit,
    )
    base = derivation("efficiency.radius_from_entries")
    dd.lemma("entries", base.statement, "the radius from entry bounds", proof=base)
    dd.hypothesis("scale", sp.Eq(scale, 1 / d), "Alman–Song's logit scale 1/d")
    dd.start(premise="entries").substitute("scale", B**2)
    return dd


EXACT_COST_DEFINITION = sp.Eq(sp.Symbol("cost_exact"), n * m * (2 * d + 2 * dv + c_exp))
POLYNOMIAL_COST_DEFINITION = sp.Eq(sp.Symbol("cost_poly"), (n + m) * r * (2 * (dv + 1) + 2))


@register("efficiency.speedup", "exact cost / polynomial cost, both op counts of the reference")
def speedup() -> Derivation:
    """The predicted speedup from the two op-count models."""
    dd = Derivation(
        "efficiency.speedup", claim="efficiency", goal="the op-count ratio", quantity=speedup_q
    )
    exact, poly = EXACT_COST_DEFINITION.lhs, POLYNOMIAL_COST_DEFINITION.lhs
    dd.definition("exact_cost", EXACT_COST_DEFINITION, "ops of exact attention", test=_COST_TEST)
    dd.definition(
        "polynomial_cost", POLYNOMIAL_COST_DEFINITION, "ops of the features", test=_COST_TEST
    )
    dd.definition("ratio", sp.Eq(speedup_q, exact / poly), "speedup = cost ratio", test=_COST_TEST)
    dd.start(premise="ratio").substitute("exact_cost").substitute("polynomial_cost")
    return dd


@register("efficiency.crossover", "the smallest n = m from which the polynomial method is cheaper")
def crossover() -> Derivation:
    """The crossover length: the smallest ``n`` (``= m``) with speedup at least 1."""
    dd = Derivation(
        "efficiency.crossover",
        claim="efficiency",
        goal="the length where the op counts balance",
        quantity=crossover_q,
    )
    ratio = derivation("efficiency.speedup").result.subs(m, n)
    dd.smallest(n, sp.Ge(ratio, 1), why="the ratio grows linearly in n")
    return dd
