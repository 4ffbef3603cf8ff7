"""Universality (theory.md §3): the widths and depths of the three models, by counting the
spec's units and the layout's coordinates.

>>> from verify.derive import derivation
>>> derivation("universality.model_width").result
2*K**(d*(L - 1)) + 3*L + 2*d*(K + Q + 1) + 6
"""

from __future__ import annotations

import sympy as sp

from verify.derive.derivations.universality import K, L, Q, d
from verify.derive.derivations.universality_sizes import (
    _CONTEXTS_TEST,
    _PREMISES,
    _WIDTH_TEST,
    contexts,
    log2,
    rows,
)
from verify.derive.engine import Derivation
from verify.derive.registry import derivation, register

units = sp.Symbol("H", positive=True)  # hidden units
ramps_g = sp.Symbol("G", positive=True)  # wide decoder ramps
i = sp.Symbol("i", integer=True, nonnegative=True)  # a layer / digit index


def _sizes(dd: Derivation, *names: str) -> None:
    """The contexts definition ``T = K^{d(L−1)}`` a width derivation substitutes."""
    for name in names:
        dd.definition(
            name,
            sp.Eq(contexts, K ** (d * (L - 1))),
            "contexts: the other L − 1 cells",
            test=_CONTEXTS_TEST,
        )


@register("universality.ffn_out_units", "H = dT(4Q + 1) + 2(L − 1) + 4(T − 1): deep FFN_out")
def ffn_out_units() -> Derivation:
    """The deep decoder's hidden units, summed layer by layer from the spec's units."""
    dd = Derivation(
        "universality.ffn_out_units",
        claim="universality",
        goal="the deep decoder's FFN_out hidden units, counted",
        quantity=units,
    )
    dd.definition(
        "layers",
        sp.Eq(
            units,
            sp.Sum(d * (Q - 1) + 2 * d * (Q - 1), (i, 0, contexts - 1))
            + sp.Sum(d * (Q + 1), (i, 1, contexts))
            + sp.Sum(3 * d, (i, 2, contexts))
            + 2 * (L - 1)
            + 4 * (contexts - 1)
            + 3 * d,
        ),
        "A_i: d(Q−1) ramps (i < T), d(Q+1) commits (i >= 1), 3d selects (i >= 2); B_i: 2d(Q−1) "
        "clamps (i < T); 2(L−1) context units, 4(T−1) snap units; the final 3d selects",
        test=_WIDTH_TEST,
    )
    _sizes(dd, "contexts")
    dd.start(premise="layers").evaluate()
    dd.equal(d * contexts * (4 * Q + 1) + 2 * (L - 1) + 4 * (contexts - 1))
    dd.substitute("contexts")
    return dd


@register("universality.wide_ramps_in_T", "G = d(Q(Q^T − 1)/(Q − 1) − T) in the contexts T")
def wide_ramps_in_t() -> Derivation:
    """The wide decoder's ramps in terms of the contexts ``T``."""
    return _wide_ramps("universality.wide_ramps_in_T", in_contexts=True)


@register("universality.wide_ramps", "G = d(Q(Q^T − 1)/(Q − 1) − T): the wide decoder's ramps")
def wide_ramps() -> Derivation:
    """The wide decoder's ramps: one per jump of every digit's staircase."""
    return _wide_ramps("universality.wide_ramps", in_contexts=False)


def _wide_ramps(name: str, in_contexts: bool) -> Derivation:
    dd = Derivation(
        name,
        claim="universality",
        goal="the wide decoder's ramps, counted",
        quantity=ramps_g,
        domain={Q: sp.Interval(2, sp.oo)},
    )
    dd.definition(
        "ramps",
        sp.Eq(ramps_g, d * sp.Sum(Q ** (i + 1) - 1, (i, 0, contexts - 1))),
        "digit t of Q^{t+1} rem has Q^{t+1} − 1 thresholds, for each of the d coordinates",
        test=_WIDTH_TEST,
    )
    dd.start(premise="ramps").evaluate()
    dd.equal(d * (Q * (Q**contexts - 1) / (Q - 1) - contexts))
    if not in_contexts:
        _sizes(dd, "contexts")
        dd.substitute("contexts")
    return dd


_LAYOUT_TEST = _PREMISES + "test_layout_blocks_are_the_counted_coordinates"
bits_row = sp.Symbol("bits_row", positive=True)  # target bits per prompt row
width = sp.Symbol("D", positive=True)  # model width
largest = sp.Symbol("w_max", positive=True)  # largest weight magnitude


@register("universality.bits_per_row", "K^{d(L−1)} d log2 Q target bits per prompt row")
def bits_per_row() -> Derivation:
    """The prompt's information per row: one base-``Q`` digit per context and coordinate."""
    dd = Derivation(
        "universality.bits_per_row",
        claim="universality",
        goal="target bits per prompt row",
        quantity=bits_row,
    )
    dd.definition(
        "digits",
        sp.Eq(bits_row, contexts * d * log2(Q)),
        "row m packs T·d base-Q digits",
        test=_PREMISES + "test_prompt_rows_and_contexts_of_the_built_model",
    )
    dd.definition(
        "contexts",
        sp.Eq(contexts, K ** (d * (L - 1))),
        "contexts: the cells of the other L − 1 tokens",
        test=_PREMISES + "test_prompt_rows_and_contexts_of_the_built_model",
    )
    dd.definition(
        "prompt_rows",
        sp.Eq(rows, L * K**d),
        "one prompt row per (position, cell) id",
        test=_PREMISES + "test_prompt_rows_and_contexts_of_the_built_model",
    )
    dd.start(premise="digits").substitute("contexts")
    return dd


def _width(name: str, blocks: dict[str, sp.Expr], claimed: sp.Expr, model: str) -> Derivation:
    dd = Derivation(
        f"universality.{name}",
        claim="universality",
        goal=f"the model width D of the {model} model: the layout's blocks, summed",
        quantity=width,
    )
    dd.definition(
        "blocks",
        sp.Eq(width, sp.Add(*blocks.values(), evaluate=False)),
        "blocks " + ", ".join(f"{k} ({sp.sstr(v)})" for k, v in blocks.items()),
        test=_LAYOUT_TEST,
    )
    dd.start(premise="blocks").equal(claimed)
    if claimed.has(ramps_g):
        g_count = derivation("universality.wide_ramps_in_T")
        dd.lemma("ramps", sp.Eq(ramps_g, g_count.result), "the jumps, counted", proof=g_count)
        dd.substitute("ramps")
    if claimed.has(contexts):
        _sizes(dd, "contexts")
        dd.substitute("contexts")
    return dd


def _deep_blocks(steps: sp.Expr) -> dict[str, sp.Expr]:
    one = sp.Integer(1)
    return {
        "x": d, "one": one, "pos": L, "flag": one, "qg": d * (K - 1), "qs": d * (K - 1),
        "u": one, "u2": one, "ch": L, "pk1": one, "pk2": one, "pv": d, "rem0": d, "rem1": d,
        "ach": L, "cntraw": one, "cg": contexts - 1, "cs": contexts - 1, "cnt": one,
        "dg": steps, "ds": steps, "dig": d, "acc": d,
    }  # fmt: skip


@register("universality.model_width", "D = 2d(K + Q + 1) + 3L + 2T + 6 (deep layout)")
def model_width() -> Derivation:
    """The deep model's width, from its layout."""
    claimed = 2 * d * (K + Q + 1) + 3 * L + 2 * contexts + 6
    return _width("model_width", _deep_blocks(d * (Q - 1)), claimed, "deep")


@register("universality.model_width_wide", "D = 2dK + 2G + 4d + 3L + 2T + 6 (wide layout)")
def model_width_wide() -> Derivation:
    """The wide model's width: the deep layout with ``G`` step coordinates."""
    claimed = 2 * d * K + 2 * ramps_g + 4 * d + 3 * L + 2 * contexts + 6
    return _width("model_width_wide", _deep_blocks(ramps_g), claimed, "wide")


@register("universality.model_width_shallow", "D = 5d + 3L + 2 + 2Ld(K − 1) (shallow layout)")
def model_width_shallow() -> Derivation:
    """The shallow model's width, from its layout (with the transported positions ``apos``)."""
    steps = L * d * (K - 1)
    one = sp.Integer(1)
    blocks = {
        "x": d, "one": one, "pos": L, "g": steps, "pk": d, "pk2": one, "pkpos": L, "pv": d,
        "rem0": d, "ag": steps, "apos": L, "acc": d,
    }  # fmt: skip
    return _width("model_width_shallow", blocks, 5 * d + 3 * L + 2 + 2 * steps, "shallow")


@register("universality.shallow_ffn_out_units", "H = 2 L G: the shallow FFN_out's units")
def shallow_ffn_out_units() -> Derivation:
    """Two units per position, context, coordinate and jump of the digit."""
    dd = Derivation(
        "universality.shallow_ffn_out_units",
        claim="universality",
        goal="the shallow model's FFN_out hidden units, counted",
        quantity=units,
    )
    dd.definition(
        "units",
        sp.Eq(units, 2 * L * ramps_g),
        "two ReLUs per jump j < Q^{t+1} of every context t, coordinate r and position p0",
        test=_WIDTH_TEST,
    )
    g_count = derivation("universality.wide_ramps")
    dd.lemma("ramps", sp.Eq(ramps_g, g_count.result), "the jumps, counted", proof=g_count)
    dd.start(premise="units").substitute("ramps")
    return dd


depth_sym, width_a, width_b = sp.symbols("l_out w_A w_B", positive=True)
ramps_h, clamps_h, features_h = sp.symbols("H_ramps H_clamps H_features", positive=True)
first_ramp = sp.Symbol("w_first", positive=True)


@register("universality.depths", "FFN_in depth 3; FFN_out depth 2T + 2 (deep), 3 + min(1, T − 1)")
def depths() -> Derivation:
    """The layer counts and the middle layers' widths, read off the built models."""
    dd = Derivation(
        "universality.depths",
        claim="universality",
        goal="the depths of FFN_in and FFN_out and the middle decoder layers' widths",
        quantity=depth_sym,
    )
    test = _WIDTH_TEST
    dd.definition("ffn_in", sp.Eq(sp.Symbol("l_in"), 3), "ramps, clamps, features", test=test)
    dd.definition(
        "ffn_out",
        sp.Eq(depth_sym, 2 * K ** (d * (L - 1)) + 2),
        "A_0, B_0, …, A_{T−1}, B_{T−1}, A_T, F",
        test=test,
    )
    dd.definition(
        "wide_ffn_out",
        sp.Eq(sp.Symbol("l_wide"), 3 + sp.Min(1, K ** (d * (L - 1)) - 1)),
        "ramps, clamps, the context snap's sum (T > 1), selection",
        test=test,
    )
    dd.definition(
        "middle_a",
        sp.Eq(width_a, d * (2 * Q + 3)),
        "A_k, 2 <= k < T: ramps, commits, selects",
        test=test,
    )
    dd.definition("middle_b", sp.Eq(width_b, 2 * d * (Q - 1)), "B_k, k >= 2: clamps", test=test)
    dd.start(premise="ffn_out")
    return dd


@register("universality.ffn_in_units", "H_in = d(K−1) + 2d(K−1) + L K^d − 1 + L")
def ffn_in_units() -> Derivation:
    """``FFN_in``'s hidden units: ramps, their clamps, the token-id features."""
    dd = Derivation(
        "universality.ffn_in_units",
        claim="universality",
        goal="the hidden units of the deep and wide models' FFN_in, counted",
        quantity=units,
    )
    test = _WIDTH_TEST
    dd.definition("total", sp.Eq(units, ramps_h + clamps_h + features_h), "three layers", test=test)
    dd.definition("ramps", sp.Eq(ramps_h, d * (K - 1)), "one ramp per boundary", test=test)
    dd.definition("clamps", sp.Eq(clamps_h, 2 * d * (K - 1)), "two per ramp", test=test)
    dd.definition(
        "features",
        sp.Eq(features_h, L * K**d - 1 + L),
        "u and u² (L K^d − 1 units), ch_p (L units)",
        test=test,
    )
    dd.start(premise="total").substitute("ramps").substitute("clamps").substitute("features")
    return dd


@register("universality.wide_ffn_out_units", "H = 3G + 2(L − 1) + 3(T − 1) + 3dT (wide FFN_out)")
def wide_ffn_out_units() -> Derivation:
    """The wide decoder's hidden units, layer by layer."""
    dd = Derivation(
        "universality.wide_ffn_out_units",
        claim="universality",
        goal="the wide decoder's FFN_out hidden units, counted",
        quantity=units,
    )
    dd.definition(
        "layers",
        sp.Eq(
            units,
            (ramps_g + 2 * (L - 1))
            + (2 * ramps_g + contexts - 1)
            + 2 * (contexts - 1)
            + 3 * d * contexts,
        ),
        "G ramps + 2(L−1) context units; 2G clamps + T − 1 snap ramps; 2(T−1) snap clamps; "
        "3dT selects",
        test=_WIDTH_TEST,
    )
    dd.start(premise="layers").equal(
        3 * ramps_g + 2 * (L - 1) + 3 * (contexts - 1) + 3 * d * contexts
    )
    g_count = derivation("universality.wide_ramps_in_T")
    dd.lemma("ramps", sp.Eq(ramps_g, g_count.result), "the jumps, counted", proof=g_count)
    _sizes(dd, "contexts")
    dd.substitute("ramps").substitute("contexts")
    return dd
