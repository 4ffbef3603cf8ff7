"""Capacity: the covering of the prompts, the token lower bounds, ratios and the Wang floor.

Prompt entries in ``[−R_P, R_P]``, a model ``Λ``-Lipschitz in the prompt: cells of side ``ε/Λ``
give functions within ``ε``; with ``y = Λ R_P / ε`` one entry has ``ceil(2y)`` cells. Forms in
``log2 Λ`` (``Λ = 2^l``) are derived for models whose ``Λ`` overflows float64.

>>> from verify.derive import derivation
>>> derivation("capacity.covering_cells_per_entry").result
4*Lambda*R_P/epsilon
"""

from __future__ import annotations

import sympy as sp

from verify.derive.derivations.capacity import (
    R_P,
    D,
    L,
    Lam,
    Lp,
    M_bits,
    N,
    b_bits,
    bits_q,
    cells,
    count_q,
    d,
    eps,
    o,
    tokens_q,
    y,
    y_a,
    y_b,
)
from verify.derive.engine import Derivation
from verify.derive.registry import derivation, register

log2_Lam = sp.Symbol("log2_Lambda", real=True)  # log2 Λ
z = sp.Symbol("z", real=True)
i = sp.Symbol("i", integer=True, positive=True)
entry_bits, cover_bits, constant_q, lam_q, bits_ratio_q = sp.symbols(
    "entry_bits cover_bits c_cover Lambda_req bits_ratio", positive=True
)
ratio_q = sp.Symbol("capacity_ratio", nonnegative=True)
loss_q, floor_q, shared_q, mse_q = sp.symbols("pair_loss pair_floor o_best mse_den", real=True)
_COVER_TEST = (
    "tests/capacity/test_capacity_bounds.py"
    "::test_token_bound_is_where_the_covering_count_reaches_the_packing_count"
)
_LOG_TEST = "tests/capacity/test_capacity_bounds.py::test_log2_lambda_forms_equal_the_bounds"
_WANG_TEST = (
    "tests/capacity/test_gradient_capacity.py::test_wang_loss_floor_is_the_sympy_pair_floor"
)
_DOCS = "docs/capacity.md, Theorem 3 (ours)"
SENSITIVE = sp.Gt(2 * Lam * R_P, eps)
#: the same condition in log2 Λ: log(2 · 2^l R_P / ε) > 0, logs expanded
SENSITIVE_LOG = sp.expand_log(sp.log(2 * 2**log2_Lam * R_P / eps), force=True) > 0


def _ratio(dd: Derivation, *, sensitive: bool = True) -> None:
    dd.definition(
        "ratio",
        sp.Eq(y, Lam * R_P / eps),
        "y = Λ R_P / ε: prompt cells of side ε/Λ on an entry range of width 2 R_P",
        test=_COVER_TEST,
    )
    if sensitive:
        dd.hypothesis(
            "sensitive",
            SENSITIVE,
            "2 Λ R_P > ε: the prompt can move the output by more than ε",
            domain={y: sp.Interval.open(sp.Rational(1, 2), sp.oo)},
        )


@register("capacity.covering_cells_per_entry", "ceil(2ΛR_P/ε) <= 4ΛR_P/ε cells per prompt entry")
def covering_cells_per_entry() -> Derivation:
    """Prompt cells per entry, simplified bound."""
    dd = Derivation(
        "capacity.covering_cells_per_entry",
        claim="capacity",
        goal="cells per entry",
        quantity=cells,
    )
    _ratio(dd)
    dd.definition("grid", sp.Eq(cells, sp.ceiling(2 * y)), "cells of side ε/Λ", test=_COVER_TEST)
    dd.lemma("ceiling", sp.Le(sp.ceiling(z), z + 1), "ceil z <= z + 1", source="definition of ceil")
    dd.start(premise="grid").apply("ceiling", {z: 2 * y}).relax(4 * y, "2y >= 1")
    dd.substitute("ratio")
    return dd


@register("capacity.covering_constant", "the covering constant c = 4")
def covering_constant() -> Derivation:
    """``c`` in ``c Λ R_P / ε``."""
    dd = Derivation(
        "capacity.covering_constant", claim="capacity", goal="the constant c", quantity=constant_q
    )
    per_entry = derivation("capacity.covering_cells_per_entry")
    dd.start(per_entry.result * eps / (Lam * R_P), why="cells per entry over Λ R_P / ε")
    return dd.equal(sp.Integer(4))


def _per_entry_lemma(dd: Derivation) -> sp.Expr:
    per_entry = derivation("capacity.covering_cells_per_entry")
    dd.lemma("cells", per_entry.statement, "cells per entry", proof=per_entry)
    return per_entry.result


@register("capacity.covering_log2_per_entry", "log2(c Λ R_P / ε) bits per prompt entry")
def covering_log2_per_entry() -> Derivation:
    """Bits one prompt entry can select."""
    dd = Derivation(
        "capacity.covering_log2_per_entry",
        claim="capacity",
        goal="bits per entry",
        quantity=entry_bits,
    )
    _per_entry_lemma(dd)
    dd.start(sp.log(cells, 2), why="log2 of the cells").bound("cells")
    return dd


@register("capacity.covering_count", "(c Λ R_P / ε)^{D Lp} prompt cells")
def covering_count() -> Derivation:
    """Cells covering ``[−R_P, R_P]^{Lp × D}``."""
    dd = Derivation(
        "capacity.covering_count", claim="capacity", goal="all cells", quantity=cover_bits
    )
    _per_entry_lemma(dd)
    dd.start(sp.Product(cells, (i, 1, D * Lp)), why="one factor per prompt entry").evaluate()
    return dd.bound("cells")


@register("capacity.covering_log2_count", "D Lp log2(c Λ R_P / ε) prompt bits")
def covering_log2_count() -> Derivation:
    """``log2`` of the covering count."""
    dd = Derivation(
        "capacity.covering_log2_count", claim="capacity", goal="prompt bits", quantity=cover_bits
    )
    _per_entry_lemma(dd)
    dd.start(D * Lp * sp.log(cells, 2), why="log2 of cells^{D Lp}").bound("cells")
    return dd


def _tokens(name: str, goal: str, count: str, in_log: bool) -> Derivation:
    """The smallest ``Lp`` whose prompt bits reach ``count``'s packing bits."""
    dd = Derivation(name, claim="capacity", goal=goal, quantity=tokens_q)
    _ratio(dd)
    if count == "packing":
        packing = derivation("capacity.packing_log2_count")
        dd.lemma("count", packing.statement, "M(ε)", proof=packing)
    else:
        dd.definition(
            "count",
            sp.Eq(count_q, N * L * d),
            "every two-level labeling of N sequences: 2^{N L d} datasets, 4ε apart",
            test="tests/capacity/test_capacity_bounds.py::test_dataset_token_bound_is_the_packing_bound_with_n_points",
        )
    dd.lemma(
        "one_cell",
        sp.Eq(tokens_q, sp.oo, evaluate=False),
        "2 Λ R_P <= ε: every prompt falls in one covering cell, no length suffices",
        source=_DOCS,
    )
    rows = sp.Symbol("rows", positive=True)
    dd.smallest(
        rows, sp.Ge(D * rows * sp.log(4 * y, 2), count_q), why="covering bits >= packing bits"
    )
    dd.equal(count_q / (D * sp.log(4 * y, 2)), "log2 of 2^{M/D}")
    if in_log:
        dd.definition("log2", sp.Eq(Lam, 2**log2_Lam), "Λ = 2^{log2 Λ}", test=_LOG_TEST)
        dd.hypothesis("sensitive_log", SENSITIVE_LOG, "2 Λ R_P > ε, in log2 Λ")
        dd.substitute("ratio").substitute("log2")
        dd.equal(sp.expand_log(dd.result, force=True), "logs expanded")
        dd.substitute("count")
        return dd.cases("sensitive_log", "one_cell")
    dd.substitute("ratio").substitute("count")
    return dd.cases("sensitive", "one_cell")


@register("capacity.token_bound_formula", "Lp >= M(ε) / (D log2(c Λ R_P / ε)) when 2ΛR_P > ε")
def token_bound_formula() -> Derivation:
    """The token bound's formula (its sensitive branch)."""
    dd = Derivation(
        "capacity.token_bound_formula", claim="capacity", goal="the formula", quantity=tokens_q
    )
    _ratio(dd)
    packing = derivation("capacity.packing_log2_count")
    dd.lemma("count", packing.statement, "M(ε)", proof=packing)
    rows = sp.Symbol("rows", positive=True)
    dd.smallest(rows, sp.Ge(D * rows * sp.log(4 * y, 2), count_q), why="covering bits >= M(ε)")
    dd.equal(count_q / (D * sp.log(4 * y, 2)), "log2 of 2^{M/D}")
    return dd.substitute("ratio").substitute("count")


@register("capacity.token_lower_bound", "Lp >= M(ε)/(D log2(cΛR_P/ε)), ∞ if 2ΛR_P <= ε")
def token_lower_bound() -> Derivation:
    """The token lower bound (Theorem 3)."""
    return _tokens("capacity.token_lower_bound", "the prompt length bound", "packing", False)


@register("capacity.dataset_token_lower_bound", "Lp >= N L d/(D log2(cΛR_P/ε)) for N sequences")
def dataset_token_lower_bound() -> Derivation:
    """The dataset version: every labeling of ``N`` fixed sequences."""
    return _tokens("capacity.dataset_token_lower_bound", "the dataset bound", "dataset", False)


@register("capacity.token_lower_bound_log2_lambda", "the token bound in log2 Λ")
def token_lower_bound_log2_lambda() -> Derivation:
    """:func:`token_lower_bound` in ``log2 Λ``."""
    return _tokens("capacity.token_lower_bound_log2_lambda", "in log2 Λ", "packing", True)


@register("capacity.dataset_token_lower_bound_log2_lambda", "the dataset bound in log2 Λ")
def dataset_token_lower_bound_log2_lambda() -> Derivation:
    """:func:`dataset_token_lower_bound` in ``log2 Λ``."""
    return _tokens("capacity.dataset_token_lower_bound_log2_lambda", "in log2 Λ", "dataset", True)


@register("capacity.lambda_required", "the Λ where D Lp prompt entries reach M bits")
def lambda_required() -> Derivation:
    """The smallest ``Λ`` whose covering bits reach ``M``."""
    dd = Derivation("capacity.lambda_required", claim="capacity", goal="Λ needed", quantity=lam_q)
    lam = sp.Symbol("lam", positive=True)
    dd.smallest(lam, sp.Ge(D * Lp * sp.log(4 * lam * R_P / eps, 2), M_bits), why="bits >= M")
    return dd


def _lambda_for(name: str, summary: str, count: sp.Expr, definition: str) -> Derivation:
    dd = Derivation(name, claim="capacity", goal=summary, quantity=lam_q)
    base = derivation("capacity.lambda_required")
    dd.lemma("required", base.statement, "Λ needed for M bits", proof=base)
    dd.definition("bits", sp.Eq(M_bits, count), definition, test=_COVER_TEST)
    return dd.start(premise="required").substitute("bits")


@register("capacity.lipschitz_required", "the Λ needed for M(ε)")
def lipschitz_required() -> Derivation:
    """``Λ`` needed to separate the packing family."""
    packing = derivation("capacity.packing_log2_count").result
    return _lambda_for("capacity.lipschitz_required", "Λ for M(ε)", packing, "M = M(ε)")


@register("capacity.dataset_lipschitz_required", "the Λ needed for N L d bits")
def dataset_lipschitz_required() -> Derivation:
    """``Λ`` needed for every labeling of ``N`` sequences."""
    return _lambda_for("capacity.dataset_lipschitz_required", "Λ for N L d", N * L * d, "M = N L d")


@register("capacity.covering_log2_count_log2_lambda", "D Lp log2(c 2^l R_P/ε), logs expanded")
def covering_log2_count_log2_lambda() -> Derivation:
    """:func:`covering_log2_count` in ``log2 Λ``."""
    dd = Derivation(
        "capacity.covering_log2_count_log2_lambda",
        claim="capacity",
        goal="in log2 Λ",
        quantity=cover_bits,
    )
    base = derivation("capacity.covering_log2_count")
    dd.lemma("bits", base.statement, "prompt bits", proof=base)
    dd.definition("log2", sp.Eq(Lam, 2**log2_Lam), "Λ = 2^{log2 Λ}", test=_LOG_TEST)
    dd.start(premise="bits").substitute("log2")
    return dd.equal(sp.expand_log(dd.result, force=True), "logs expanded")


@register("capacity.capacity_ratio", "covering bits / packing bits (>= 1 by Theorem 3), log2 Λ")
def capacity_ratio() -> Derivation:
    """A construction's covering bits over the packing bits it separates."""
    dd = Derivation("capacity.capacity_ratio", claim="capacity", goal="the ratio", quantity=ratio_q)
    base = derivation("capacity.covering_log2_count_log2_lambda")
    dd.definition(
        "ratio", sp.Eq(ratio_q, cover_bits / M_bits), "the ratio's definition", test=_LOG_TEST
    )
    dd.lemma(
        "bits",
        sp.Eq(cover_bits, base.result),
        "prompt bits in log2 Λ",
        source="capacity.covering_log2_count_log2_lambda (a bound used as the construction's bits)",
    )
    dd.hypothesis("sensitive_log", SENSITIVE_LOG, "2 Λ R_P > ε, in log2 Λ")
    dd.lemma(
        "one_cell",
        sp.Eq(ratio_q, 0, evaluate=False),
        "all prompts in one covering cell",
        source=_DOCS,
    )
    dd.start(premise="ratio").substitute("bits")
    return dd.cases("sensitive_log", "one_cell")


@register("capacity.bits_ratio", "b over the precision lower bound (>= 1 by Theorem 1)")
def bits_ratio() -> Derivation:
    """Significand bits over the bound."""
    dd = Derivation(
        "capacity.bits_ratio", claim="capacity", goal="the ratio", quantity=bits_ratio_q
    )
    base = derivation("capacity.precision_bits_lower")
    dd.definition(
        "ratio", sp.Eq(bits_ratio_q, b_bits / bits_q), "b over the bound", test=_COVER_TEST
    )
    dd.lemma("bound", base.statement, "the precision bound", proof=base)
    return dd.start(premise="ratio").substitute("bound")


def _pair_loss(dd: Derivation) -> None:
    dd.definition(
        "loss",
        sp.Eq(loss_q, (o - y_a) ** 2 + (o - y_b) ** 2),
        "two rows forced to share one output o, targets a and b",
        test=_WANG_TEST,
    )


@register("capacity.wang_pair_floor", "(a − b)²/2: the pair's smallest squared error")
def wang_pair_floor() -> Derivation:
    """The Wang-style floor: the minimum over the shared output."""
    dd = Derivation("capacity.wang_pair_floor", claim="capacity", goal="the floor", quantity=loss_q)
    _pair_loss(dd)
    dd.start(premise="loss").minimize(o, sp.Interval(-sp.oo, sp.oo))
    return dd.equal((y_a - y_b) ** 2 / 2)


@register("capacity.wang_shared_output", "(a + b)/2: the best shared output")
def wang_shared_output() -> Derivation:
    """The minimiser: the smallest ``o`` where the convex loss stops decreasing."""
    dd = Derivation(
        "capacity.wang_shared_output", claim="capacity", goal="the best output", quantity=shared_q
    )
    _pair_loss(dd)
    loss = (o - y_a) ** 2 + (o - y_b) ** 2
    return dd.smallest(
        o, sp.Ge(sp.diff(loss, o), 0), why="the loss is convex: L'(o) >= 0 from here on"
    )


@register("capacity.wang_mse_denominator", "2 L d: targets of two sequences")
def wang_mse_denominator() -> Derivation:
    """The mean squared error's normaliser."""
    dd = Derivation(
        "capacity.wang_mse_denominator", claim="capacity", goal="the normaliser", quantity=mse_q
    )
    dd.definition(
        "targets", sp.Eq(mse_q, sp.Sum(L * d, (i, 1, 2))), "two sequences of L × d", test=_WANG_TEST
    )
    return dd.start(premise="targets").evaluate()
