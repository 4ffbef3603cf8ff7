"""Efficiency: the rounding of the computed path, the certificate, gradients, asymptotics.

Higham's standard model (``fl(x∘y) = (x∘y)(1 + δ)``, ``|δ| <= u``) on the longest chain of
roundings of one numerator or denominator entry (docs/efficiency.md, item 5), composed into the
certificate ``OUTPUT_ERROR + ROUNDING_ERROR``; the low-rank gradient bounds from ``η`` and ``κ``;
and the limits behind the Alman–Song phase transition (``x = log n → ∞``).

>>> from verify.derive import derivation
>>> derivation("efficiency.rounding_count").result
6*g + m_keys + r + 10
"""

from __future__ import annotations

import sympy as sp

from verify.derive.derivations.efficiency import eps, g, r, scale, v_max
from verify.derive.engine import Derivation
from verify.derive.registry import derivation, register

keys = sp.Symbol("m_keys", integer=True, positive=True)
u = sp.Symbol("u", positive=True)  # unit roundoff
abs_poly = sp.Symbol("P_abs", positive=True)  # Σ_j |c_j| R^j
R_sym = sp.Symbol("R", positive=True)  # the fit radius
half_width = sp.Symbol("h", nonnegative=True)  # max_j |v_j − c| of the centred column
center = sp.Symbol("c", real=True)  # the column centre added back at the end
count_q, gamma_q, eta_r = sp.symbols("N gamma_N eta_round", nonnegative=True)
e1, e2, e3, e_round, e_total, e_out = sp.symbols(
    "E_1 E_2 E_3 E_round E_total err", nonnegative=True
)
deviation = sp.Symbol("Delta", nonnegative=True)
denominator = sp.Symbol("D", positive=True)
g_max, g_row1, q_max, c_max = sp.symbols("G_max G_row1 Q_max c_max", nonnegative=True)
grad_v, grad_k = sp.symbols("dV_err dK_err", nonnegative=True)
eta_q, kappa_q = sp.symbols("eta kappa", nonnegative=True)

_COUNT_TEST = "tests/efficiency/test_efficiency_bounds.py::test_rounding_count_matches_reference"
_ROUND_TEST = "tests/efficiency/test_efficiency_bounds.py::test_rounding_bound_matches_reference"
_HIGHAM = (
    "N. J. Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §2.2 and Lemma 3.1"
)
_ITEM5 = "docs/efficiency.md, item 5 (ours)"
#: (stage, roundings on the longest path, what is rounded): the computed path of one entry
PATH = (
    ("monomials_q", 3 * g, "scaled entries √s·q and a query monomial of degree <= g"),
    ("monomials_k", 3 * g, "the same for a key"),
    ("weights_q", 3, "the weight √(|c_j| j!/α!) of a query feature"),
    ("weights_k", 3, "the same for a key feature"),
    ("product_q", 1, "weight times monomial, query side"),
    ("product_k", 1, "weight times monomial, key side"),
    ("centre", 1, "v − c"),
    ("raw_times_v", 1, "raw(k)·v"),
    ("key_sum", keys, "the sum over the m keys (any order or blocking)"),
    ("feature_dot", r, "the dot product over the r features"),
)


@register("efficiency.rounding_count", "N = 6g + m + r + 10 roundings on the computed path")
def rounding_count() -> Derivation:
    """The longest chain of roundings, summed over the stages of the computed path."""
    dd = Derivation(
        "efficiency.rounding_count",
        claim="efficiency",
        goal="roundings on the longest path of one numerator or denominator entry",
        quantity=count_q,
    )
    stages = {name: sp.Symbol(f"n_{name}", nonnegative=True) for name, _, _ in PATH}
    dd.definition(
        "path",
        sp.Eq(count_q, sp.Add(*stages.values())),
        "the path is the chain of the stages below, one after another",
        test=_COUNT_TEST,
    )
    for name, roundings, text in PATH:
        dd.definition(name, sp.Eq(stages[name], roundings), text, test=_COUNT_TEST)
    dd.start(premise="path")
    for name, _, _ in PATH:
        dd.substitute(name)
    dd.equal(6 * g + keys + r + 10, "collect")
    return dd


@register("efficiency.rounding_gamma", "γ_N = N u/(1 − N u) at the path's N (Higham)")
def rounding_gamma() -> Derivation:
    """Higham's ``γ_N`` at the computed path's count, float64 ``u = 2^-53``."""
    dd = Derivation(
        "efficiency.rounding_gamma",
        claim="efficiency",
        goal="the relative error of N roundings",
        quantity=gamma_q,
    )
    _few_roundings(dd)
    dd.lemma(
        "higham",
        sp.Le(gamma_q, count_q * u / (1 - count_q * u)),
        "a product of N factors (1 + δ), |δ| <= u, is 1 + θ with |θ| <= N u/(1 − N u)",
        source=_HIGHAM,
        conditions=(count_q * u < 1,),
    )
    dd.definition(
        "float64",
        sp.Eq(u, sp.Rational(1, 2**53)),
        "float64 unit roundoff (round to nearest)",
        test=_ROUND_TEST,
    )
    dd.start(premise="higham").substitute("float64", count_q / (2**53 - count_q))
    return dd


def _few_roundings(dd: Derivation) -> None:
    dd.hypothesis(
        "few_roundings",
        sp.Lt(count_q, 2**53),
        "N u < 1 (N = 6g + m + r + 10 is far below 2^53 for every size the reference accepts)",
        domain={count_q: sp.Interval.Ropen(0, 2**53)},
    )


@register("efficiency.rounding_relative", "η = γ_N P e^R/(1 − ε): rounding relative to D")
def rounding_relative() -> Derivation:
    """The rounding of numerator and denominator relative to the denominator."""
    dd = Derivation(
        "efficiency.rounding_relative",
        claim="efficiency",
        goal="the rounding of D relative to D",
        quantity=eta_r,
    )
    dd.hypothesis(
        "eps_range", sp.And(eps > 0, eps < 1), "ε in (0, 1)", domain={eps: sp.Interval.open(0, 1)}
    )
    dd.definition(
        "relative",
        sp.Eq(eta_r, deviation / denominator),
        "η = |D̂ − D| / D (the numerator's is the same times h)",
        test=_ROUND_TEST,
    )
    gamma = derivation("efficiency.rounding_gamma")
    dd.lemma(
        "deviation",
        sp.Le(deviation, gamma_q * abs_poly * keys),
        "Σ_α |φ_α ψ_α| <= P = Σ_j |c_j| R^j (multinomial theorem, Cauchy–Schwarz), m keys",
        source=_ITEM5,
    )
    dd.lemma(
        "denominator",
        sp.Ge(denominator, (1 - eps) * keys * sp.exp(-R_sym)),
        "D = Σ_j p(t_j) >= (1 − ε) m e^{−R} on [−R, R]",
        source=_ITEM5,
    )
    _few_roundings(dd)
    dd.lemma("gamma", gamma.statement, "γ_N at N roundings", proof=gamma)
    count = derivation("efficiency.rounding_count")
    dd.lemma("count", count.statement, "the path's rounding count", proof=count)
    dd.start(premise="relative").bound("deviation").bound("denominator").bound("gamma")
    dd.substitute("count")
    return dd


@register("efficiency.rounding_error", "E1 + E2 + E3: the quotient, division and centre roundings")
def rounding_error() -> Derivation:
    """The rounding of one output entry: perturbed quotient, its division, the centre added."""
    dd = Derivation(
        "efficiency.rounding_error",
        claim="efficiency",
        goal="the rounding error of one output entry",
        quantity=e_round,
    )
    dd.lemma(
        "split",
        sp.Le(e_round, e1 + e2 + e3),
        "the three roundings add up",
        source="triangle inequality",
    )
    dd.lemma(
        "add_back",
        sp.Le(e3, u * (sp.Abs(center) + half_width + e1 + e2)),
        "T' + c rounded once",
        source=_HIGHAM,
    )
    dd.lemma("division", sp.Le(e2, u * (half_width + e1)), "N̂/D̂ rounded once", source=_HIGHAM)
    dd.lemma(
        "quotient",
        sp.Le(e1, 2 * eta_r * half_width / (1 - eta_r)),
        "|N̂/D̂ − N/D| with |N̂ − N| <= η D h and |D̂ − D| <= η D (η < 1: the method refuses "
        "when η > ε)",
        source=_ITEM5,
    )
    dd.hypothesis(
        "eta_small",
        sp.Lt(eta_r, 1),
        "η < 1: the method refuses (FastAttentionRefused) when η > ε",
        domain={eta_r: sp.Interval.Ropen(0, 1)},
    )
    relative = derivation("efficiency.rounding_relative")
    dd.definition(
        "eta",
        sp.Eq(eta_r, relative.result),
        "the certificate's η is the derived bound efficiency.rounding_relative",
        test=_ROUND_TEST,
    )
    dd.definition(
        "float64", sp.Eq(u, sp.Rational(1, 2**53)), "float64 unit roundoff", test=_ROUND_TEST
    )
    dd.start(premise="split").bound("add_back").bound("division").bound("quotient")
    dd.substitute("eta").substitute("float64")
    return dd


@register("efficiency.certified_error", "the certificate: the sharp output error + the rounding")
def certified_error() -> Derivation:
    """The certified error of one output entry."""
    dd = Derivation(
        "efficiency.certified_error",
        claim="efficiency",
        goal="approximation plus rounding",
        quantity=e_total,
    )
    sharp = derivation("efficiency.output_error_sharp")
    rounding = derivation("efficiency.rounding_error")
    dd.lemma(
        "split",
        sp.Le(e_total, e_out + e_round),
        "approximation + rounding",
        source="triangle inequality",
    )
    dd.lemma("output", sharp.statement, "the sharp output error", proof=sharp)
    dd.lemma("rounding", rounding.statement, "the rounding of the path", proof=rounding)
    dd.start(premise="split").bound("output").bound("rounding")
    return dd


def _gradient(name: str, summary: str, quantity: sp.Symbol, composition: sp.Expr) -> Derivation:
    dd = Derivation(name, claim="efficiency", goal=summary, quantity=quantity)
    dd.hypothesis(
        "eps_range", sp.And(eps > 0, eps < 1), "ε in (0, 1)", domain={eps: sp.Interval.open(0, 1)}
    )
    dd.lemma(
        "composition",
        sp.Le(quantity, composition),
        "the gradient of the low-rank attention differs through the weights only",
        source="docs/efficiency.md, item 9 (ours)",
    )
    eta = derivation("efficiency.weight_relative_error")
    kappa = derivation("efficiency.weight_ratio")
    dd.lemma("eta", eta.statement, "η, the weights' relative error", proof=eta)
    dd.lemma("kappa", kappa.statement, "κ, exact over computed weight", proof=kappa)
    return dd.start(premise="composition").bound("eta").bound("kappa")


@register("efficiency.grad_v_error", "‖dṼ − dV‖_max <= η κ G_max c_max")
def grad_v_error() -> Derivation:
    """The value gradient of the low-rank method."""
    return _gradient(
        "efficiency.grad_v_error",
        "the value gradient's error",
        grad_v,
        eta_q * kappa_q * g_max * c_max,
    )


@register("efficiency.grad_k_error", "‖dK̃ − dK‖_max <= η (2κ + 1) s Q_max V_max G_row1 c_max")
def grad_k_error() -> Derivation:
    """The key gradient of the low-rank method."""
    composition = eta_q * (2 * kappa_q + 1) * scale * q_max * v_max * g_row1 * c_max
    return _gradient("efficiency.grad_k_error", "the key gradient's error", grad_k, composition)
