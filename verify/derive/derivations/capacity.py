"""Capacity (theory.md §4): packing count ``M(ε)``, covering count, token and bits lower bounds,
and the Wang floor, each derived from the packing family's and the covering's definitions.

The packing family (:mod:`verify.claims.capacity.packing`): pyramids ``max(0, a − C‖x − c‖_max)``
of height ``a = 2ε`` on a grid of ``m`` centres per axis, values ``1/2 ± a``; the covering: prompt
cells of side ``ε/Λ`` over ``[−R_P, R_P]^{Lp×D}``. Symbols as in
:mod:`verify.claims.capacity.bounds` (``y = Λ R_P / ε`` is the covering's one ratio).

>>> from verify.derive import derivation
>>> derivation("capacity.packing_log2_count").result
L*d*floor(C/(4*epsilon))**(L*d)
"""

from __future__ import annotations

import sympy as sp

from verify.derive.engine import Derivation
from verify.derive.registry import derivation, register

d = sp.Symbol("d", positive=True, integer=True)  # token width
L = sp.Symbol("L", positive=True, integer=True)  # input length
K = sp.Symbol("K", positive=True, integer=True)  # grid cells per coordinate
Q = sp.Symbol("Q", positive=True, integer=True)  # output levels
d_v = sp.Symbol("d_v", positive=True, integer=True)  # attention value width
D = sp.Symbol("D", positive=True, integer=True)  # model width (prompt row width)
Lp = sp.Symbol("L_p", positive=True, integer=True)  # prompt rows
eps = sp.Symbol("epsilon", positive=True)  # accuracy (sup norm)
C = sp.Symbol("C", positive=True)  # max-norm Lipschitz constant of the targets
Lam = sp.Symbol("Lambda", positive=True)  # Lipschitz constant of the model in the prompt
R_P = sp.Symbol("R_P", positive=True)  # prompt entries lie in [-R_P, R_P]
N = sp.Symbol("N", positive=True, integer=True)  # number of input sequences of a dataset
m = sp.Symbol("m", positive=True, integer=True)  # packing centres per axis
M_bits = sp.Symbol("M", positive=True)  # log2 of a packing count
y_a = sp.Symbol("a", real=True)  # target of a row of sequence 0
y_b = sp.Symbol("b", real=True)  # target of the matched row of sequence 1
o = sp.Symbol("o", real=True)  # the output both rows must share
b_bits = sp.Symbol("b", positive=True)  # significand bits per number
height = sp.Symbol("h_bump", positive=True)  # bump height a
radius_q = sp.Symbol("r_bump", positive=True)  # bump radius
stride = sp.Symbol("r", positive=True, integer=True)  # cell stride of the cell-centre packing
y = sp.Symbol("y", positive=True)  # Λ R_P / ε
cells = sp.Symbol("cells", positive=True)
j = sp.Symbol("j", integer=True, nonnegative=True)
bits_q, tables_q, count_q, sep_q, eps_max, tokens_q = sp.symbols(
    "b_min T_bits log2_M separation eps_max L_p_min", positive=True
)
loss_q, floor_q = sp.symbols("pair_loss pair_floor", nonnegative=True)

_PACKING_TEST = "tests/capacity/test_capacity_bounds.py::test_packing_centres_and_member_values"
_CONSTANT_TEST = "tests/capacity/test_capacity_bounds.py::test_packing_constants"
#: the bump height over ε of the packing family (ours: values 1/2 ± 2ε are 4ε apart)
BUMP_HEIGHT_OVER_EPS = sp.Integer(2)


def _height(dd: Derivation) -> None:
    dd.definition(
        "height",
        sp.Eq(height, BUMP_HEIGHT_OVER_EPS * eps),
        "the packing family's bump height a = 2ε",
        test=_CONSTANT_TEST,
    )


@register("capacity.table_bits", "log2 of the Q-level tables over K^{d(L−1)} contexts")
def table_bits() -> Derivation:
    """The information one query must pass: ``d K^{d(L−1)} log2 Q`` bits."""
    dd = Derivation(
        "capacity.table_bits",
        claim="capacity",
        goal="log2 of the number of tables",
        quantity=tables_q,
    )
    dd.definition(
        "tables",
        sp.Eq(tables_q, sp.log(Q ** (d * K ** (d * (L - 1))), 2)),
        "every context (K^{d(L−1)} of them) and output coordinate (d) takes one of Q levels",
        test="tests/capacity/test_capacity_bounds.py::test_precision_bound_solves_the_counting_inequality",
    )
    dd.start(premise="tables").equal(d * K ** (d * (L - 1)) * sp.log(Q, 2), "log of a power")
    return dd


@register("capacity.precision_bits_lower", "b >= d K^{d(L−1)} log2 Q / (d_v + 1)")
def precision_bits_lower() -> Derivation:
    """The smallest bits per number that can carry every table through ``d_v + 1`` numbers."""
    dd = Derivation(
        "capacity.precision_bits_lower",
        claim="capacity",
        goal="the smallest b with b (d_v + 1) >= the table bits",
        quantity=bits_q,
    )
    tables = derivation("capacity.table_bits")
    dd.lemma(
        "pigeonhole",
        None,
        "the prompt reaches a query only through d_v + 1 numbers of b bits: at most "
        "2^{b(d_v + 1)} distinct tables",
        source="the pigeonhole principle (docs/capacity.md, Theorem 1)",
    )
    dd.lemma("tables", tables.statement, "the table bits", proof=tables)
    dd.smallest(b_bits, sp.Ge(b_bits * (d_v + 1), tables.result), why="pigeonhole")
    return dd


@register("capacity.bump_radius", "a pyramid of height a and slope C reaches 0 at radius a/C")
def bump_radius() -> Derivation:
    """The radius of one bump (largest ``r`` with ``a − C r >= 0``)."""
    dd = Derivation(
        "capacity.bump_radius", claim="capacity", goal="the bump radius", quantity=radius_q
    )
    _height(dd)
    dd.largest(
        sp.Symbol("rr", positive=True), sp.Ge(height - C * sp.Symbol("rr", positive=True), 0)
    )
    dd.substitute("height")
    return dd


@register("capacity.packing_max_eps", "values 1/2 ± 2ε stay in [0, 1] exactly for ε <= 1/4")
def packing_max_eps() -> Derivation:
    """The largest ``ε`` the packing family supports."""
    dd = Derivation(
        "capacity.packing_max_eps", claim="capacity", goal="the largest ε", quantity=eps_max
    )
    _height(dd)
    dd.largest(eps, sp.Le(BUMP_HEIGHT_OVER_EPS * eps, sp.Rational(1, 2)), why="1/2 + a <= 1")
    return dd


@register("capacity.packing_centres_per_axis", "m = floor(C/(4ε)) centres: spacing >= 2 radii")
def packing_centres_per_axis() -> Derivation:
    """The most centres per axis whose spacing ``1/m`` keeps the bumps apart."""
    dd = Derivation(
        "capacity.packing_centres_per_axis",
        claim="capacity",
        goal="centres per axis",
        quantity=m,
    )
    radius = derivation("capacity.bump_radius")
    dd.lemma("radius", radius.statement, "the bump radius", proof=radius)
    mm = sp.Symbol("mm", positive=True, integer=True)
    dd.largest(mm, sp.Ge(1 / mm, 2 * radius.result), integer=True, why="spacing 1/m >= 2 a/C")
    return dd


@register("capacity.packing_one_centre_max_eps", "m >= 1 exactly for ε <= C/4")
def packing_one_centre_max_eps() -> Derivation:
    """The largest ``ε`` with at least one centre per axis."""
    dd = Derivation(
        "capacity.packing_one_centre_max_eps", claim="capacity", goal="m >= 1", quantity=eps_max
    )
    radius = derivation("capacity.bump_radius")
    dd.lemma("radius", radius.statement, "the bump radius", proof=radius)
    dd.largest(eps, sp.Ge(1 / (2 * radius.result), 1), why="one centre: 2 radii fit in [0, 1]")
    return dd


@register("capacity.packing_separation", "two packing functions differ by 2a = 4ε at a centre")
def packing_separation() -> Derivation:
    """The separation of two distinct members at a centre where their signs differ."""
    dd = Derivation(
        "capacity.packing_separation", claim="capacity", goal="the separation", quantity=sep_q
    )
    _height(dd)
    dd.definition(
        "values",
        sp.Eq(sep_q, (sp.Rational(1, 2) + height) - (sp.Rational(1, 2) - height)),
        "members take 1/2 + a or 1/2 − a at a centre",
        test=_PACKING_TEST,
    )
    dd.start(premise="values").equal(2 * height).substitute("height")
    return dd


@register("capacity.packing_log2_count_centres", "log2 of 2^{d L m^{dL}} sign patterns")
def packing_log2_count_centres() -> Derivation:
    """One independent sign per (centre, output coordinate): ``d L m^{dL}`` bits."""
    dd = Derivation(
        "capacity.packing_log2_count_centres",
        claim="capacity",
        goal="log2 of the packing count at m centres per axis",
        quantity=count_q,
    )
    dd.definition(
        "members",
        sp.Eq(count_q, sp.log(2 ** (d * L * m ** (d * L)), 2)),
        "m^{dL} centres in [0, 1]^{L×d}, a sign per centre and output coordinate",
        test=_PACKING_TEST,
    )
    dd.start(premise="members").equal(d * L * m ** (d * L), "log of a power of 2")
    return dd


@register("capacity.packing_log2_count", "M(ε) = d L floor(C/(4ε))^{dL}")
def packing_log2_count() -> Derivation:
    """``M(ε)``: the count at the most centres per axis."""
    dd = Derivation("capacity.packing_log2_count", claim="capacity", goal="M(ε)", quantity=count_q)
    count = derivation("capacity.packing_log2_count_centres")
    centres = derivation("capacity.packing_centres_per_axis")
    dd.lemma("count", count.statement, "at m centres per axis", proof=count)
    dd.lemma("centres", centres.statement, "the centres per axis", proof=centres)
    dd.start(premise="count").substitute("centres")
    return dd


@register("capacity.cell_centre_stride", "every r-th cell centre, r = ceil(2 · radius · K)")
def cell_centre_stride() -> Derivation:
    """The smallest cell stride keeping cell-centre bumps apart."""
    dd = Derivation(
        "capacity.cell_centre_stride", claim="capacity", goal="the stride", quantity=stride
    )
    radius = derivation("capacity.bump_radius")
    dd.lemma("radius", radius.statement, "the bump radius", proof=radius)
    rr = sp.Symbol("rr", positive=True, integer=True)
    dd.smallest(rr, sp.Ge(rr / K, 2 * radius.result), integer=True, why="neighbours r/K apart")
    return dd


@register("capacity.cell_centre_per_axis", "floor((K − 1)/r) + 1 centres on every r-th cell")
def cell_centre_per_axis() -> Derivation:
    """The count of cells ``0, r, 2r, … <= K − 1``."""
    dd = Derivation(
        "capacity.cell_centre_per_axis", claim="capacity", goal="centres per axis", quantity=m
    )
    stride_ = derivation("capacity.cell_centre_stride")
    dd.lemma("stride", stride_.statement, "the stride", proof=stride_)
    dd.start(sp.Sum(1, (j, 0, sp.floor((K - 1) / stride))), why="cells 0, r, 2r, … <= K − 1")
    dd.evaluate(sp.floor((K - 1) / stride) + 1).substitute("stride")
    return dd


@register("capacity.packing_spacing", "the centres' spacing 1/m")
def packing_spacing() -> Derivation:
    """The grid spacing of the packing centres ``(k + 1/2)/m``."""
    dd = Derivation("capacity.packing_spacing", claim="capacity", goal="spacing", quantity=sep_q)
    centres = derivation("capacity.packing_centres_per_axis")
    dd.lemma("centres", centres.statement, "the centres per axis", proof=centres)
    dd.definition("grid", sp.Eq(sep_q, 1 / m), "centres at (k + 1/2)/m", test=_PACKING_TEST)
    return dd.start(premise="grid").substitute("centres")
