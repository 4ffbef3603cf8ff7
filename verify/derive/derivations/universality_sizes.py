"""Universality (theory.md §3): precision and inverse temperature from the layout's weights, and
the widths by counting the spec's units.

Every bit requirement is one instance of the representability lemma: a pre-activation
``Σ_c w_c h_c + b`` with inputs ``h_c ∈ [0, 1]`` has every partial sum ``<= B = Σ|w_c| + |b|``
in magnitude, so with ``p >= ⌈log2 B⌉ + ν`` bits (``2^{−ν}`` the bias's resolution) the bias,
the thresholds and the sums the argument needs exact are ``p``-bit floats, and rounding to
nearest is monotone (``reference.constructions.sizes.preactivation_bits`` computes the same
number off the built units).

>>> from verify.derive import derivation
>>> derivation("universality.precision_band").result
log(1/eta)/log(2) + 1
>>> derivation("universality.table_bits").result
t + 6
"""

from __future__ import annotations

import sympy as sp

from verify.derive.derivations.universality import K, L, Q, d, eta
from verify.derive.engine import Derivation
from verify.derive.registry import derivation, register

t_bits = sp.Symbol("t", positive=True, integer=True)  # table bits T log2 Q
rows = sp.Symbol("n", positive=True)  # prompt rows L K^d
rows_up = sp.Symbol("nbar", positive=True)  # 2^⌈log2(L K^d)⌉ >= L K^d
beta = sp.Symbol("beta", positive=True)  # inverse temperature
slope = sp.Symbol("s", positive=True)  # slope of a quantizer ramp
nu = sp.Symbol("nu", nonnegative=True, integer=True)  # bias resolution 2^-nu
magnitude = sp.Symbol("B", positive=True)  # pre-activation magnitude bound
magnitude_up = sp.Symbol("Bbar", positive=True)  # the power of two 2^⌈log2 B⌉
bits = sp.Symbol("p", positive=True, integer=True)  # significand bits
bits_band, bits_table, bits_logit = sp.symbols("p_band p_table p_logit", positive=True)
beta_min = sp.Symbol("beta_min", positive=True)
b_sym = sp.Symbol("b", positive=True)
contexts = sp.Symbol("T", positive=True, integer=True)  # contexts K^{d(L−1)}
units = sp.Symbol("H", positive=True)  # hidden units
ramps_g = sp.Symbol("G", positive=True)  # wide decoder ramps
i = sp.Symbol("i", integer=True, nonnegative=True)  # a layer / digit index
slope_up = sp.Symbol("s_up", positive=True)  # the shallow slope 2^⌈log2(1/η)⌉


def _sizes(dd: Derivation, *names: str) -> None:
    """The size definitions a derivation substitutes: contexts ``T``, prompt rows ``n``, table
    bits ``t = T log2 Q``."""
    statements = {
        "contexts": (sp.Eq(contexts, K ** (d * (L - 1))), "contexts: the other L − 1 cells"),
        "rows": (sp.Eq(rows, L * K**d), "one prompt row per (position, cell) id"),
        "table": (sp.Eq(t_bits, contexts * log2(Q)), "a packed number holds T base-Q digits"),
    }
    for name in names:
        statement, text = statements[name]
        dd.definition(name, statement, text, test=_CONTEXTS_TEST)


def log2(x: sp.Expr) -> sp.Expr:
    """``log2 x`` as ``log(x)/log(2)`` (sympy simplifies it)."""
    return sp.log(x, 2)


_TESTS = "tests/universality/test_precision.py::"
_RAMP_TEST = _TESTS + "test_quantizer_ramp_slope_and_bias_read_off_the_built_spec"
_SHALLOW_RAMP_TEST = _TESTS + "test_shallow_gated_step_ramps_read_off_the_built_spec"
_PREMISES = "tests/universality/test_derivation_premises.py::"
_LOGIT_TEST = _PREMISES + "test_the_attention_weights_and_logit_inputs_read_off_the_spec"
_WIDTH_TEST = _PREMISES + "test_ffn_out_layer_widths_are_the_counted_units"

_CONTEXTS_TEST = _PREMISES + "test_prompt_rows_and_contexts_of_the_built_model"
_REPRESENTABLE = (
    "N. J. Higham, Accuracy and Stability of Numerical Algorithms (2nd ed.), SIAM 2002, §2.1 "
    "(p-bit floats are the m·2^e with |m| < 2^p; rounding to nearest is monotone) and Thm 2.5 "
    "(Sterbenz: g − (g − 1) exact); with p >= ⌈log2 B⌉ + ν every bias, threshold and partial "
    "sum the argument needs exact is a p-bit float"
)


def _precision_band(name: str, shallow: bool) -> Derivation:
    dd = Derivation(
        name,
        claim="universality",
        goal="bits the first FFN_in layer needs: its ramps exact off the band"
        + (" (shallow)" if shallow else " (deep, wide)"),
        quantity=bits_band,
        domain={eta: sp.Interval.open(0, 1 / (2 * K))},
    )
    dd.lemma(
        "representable",
        sp.Eq(bits_band, log2(magnitude_up) + nu),
        "p = log2 Bbar + ν bits hold the ramp layer exactly where it matters (Bbar the power of "
        "two above the magnitude bound B)",
        source=_REPRESENTABLE,
    )
    if shallow:
        units_text = "two units per gated step: weights s on x_r and on pos_p, biases "
        units_text += "1/2 − js/K − s and one less; s = 2^⌈log2(1/η)⌉; at j = K − 1 the "
        units_text += "magnitude 4s − s/K + 1/2 ∈ (2s, 4s]: the power of two above it is 4s"
        bound = 4 * slope_up
        test = _SHALLOW_RAMP_TEST
    else:
        units_text = "ramp ReLU(s x_r − flag + 1/2 − js/K), s = 1/(2η): |w| sum s + 1, |bias| "
        units_text += "largest at j = K − 1: the power of two above B = s + 1 + |bias| "
        units_text += "∈ (1/(2η), 1/η] (universality.ramp_magnitude) is 1/η"
        bound = 1 / eta
        test = _RAMP_TEST
    dd.definition("magnitude", sp.Eq(magnitude_up, bound), units_text, test=test)
    dd.definition("resolution", sp.Eq(nu, 1), "every bias is a half-integer", test=test)
    dd.start(premise="representable").substitute("magnitude").substitute("resolution")
    if shallow:
        dd.definition(
            "slope", sp.Eq(slope_up, 2 ** sp.ceiling(log2(1 / eta))), "s = 2^⌈log2(1/η)⌉", test=test
        )
        dd.substitute("slope").equal(sp.ceiling(log2(1 / eta)) + 3, "log2(4·2^c) = c + 2")
    return dd


@register("universality.ramp_magnitude", "B = s + 1 + s(K−1)/K − 1/2 <= 1/η for the FFN_in ramps")
def ramp_magnitude() -> Derivation:
    """The deep and wide ramp layer's largest pre-activation magnitude, from its weights."""
    dd = Derivation(
        "universality.ramp_magnitude",
        claim="universality",
        goal="the largest |w| sum + |bias| of the quantizer ramps is <= 1/η",
        quantity=magnitude,
        domain={eta: sp.Interval.open(0, 1 / (2 * K))},
    )
    dd.definition(
        "units",
        sp.Eq(magnitude, slope + 1 + slope * (K - 1) / K - sp.Rational(1, 2)),
        "weights s on x_r and −1 on flag, bias 1/2 − js/K: largest |bias| at j = K − 1",
        test=_RAMP_TEST,
    )
    dd.definition("slope", sp.Eq(slope, 1 / (2 * eta)), "the ramp slope 1/(2η)", test=_RAMP_TEST)
    dd.start(premise="units").substitute("slope").relax(1 / eta, "η <= 1/(2K): 1/(2ηK) >= 1")
    return dd


@register("universality.precision_band", "p >= log2(1/η) + 1: the quantizer ramps (deep, wide)")
def precision_band() -> Derivation:
    """The band term of the deep and wide models' precision (issue 15's missing term)."""
    return _precision_band("universality.precision_band", shallow=False)


@register("universality.precision_band_shallow", "p >= ⌈log2(1/η)⌉ + 3: the gated-step ramps")
def precision_band_shallow() -> Derivation:
    """The band term of the shallow model's precision."""
    return _precision_band("universality.precision_band_shallow", shallow=True)


@register("universality.table_bits", "p >= T log2 Q + 6: the packed table's relative error")
def table_bits() -> Derivation:
    """The smallest precision whose rounding (``3·2^{−p}``) stays within half the table's budget
    ``2^{−(T log2 Q + 3)}`` (the other half is the attention's off-match mass)."""
    dd = Derivation(
        "universality.table_bits",
        claim="universality",
        goal="the smallest p with 3·2^{−p} <= 2^{−(T log2 Q + 4)}",
        quantity=bits_table,
    )
    dd.hypothesis(
        "budget",
        sp.Le(3 * 2 ** (-bits_table), 2 ** (-(t_bits + 4))),
        "design: the packed table (T log2 Q + 1 bits) reaches FFN_out with relative error <= "
        "3·2^{−p} + 2 L K^d e^{−β}; each half must stay below 2^{−(T log2 Q + 4)} (a quarter "
        "of the last digit's margin); the precision law measures T log2 Q + 4 bits",
    )
    dd.smallest(bits, sp.Le(3 * 2 ** (-bits), 2 ** (-(t_bits + 4))), integer=True)
    dd.equal(t_bits + 6, "⌈log2 3⌉ = 2 and t an integer")
    return dd


@register("universality.inverse_temperature", "β >= ln2·(T log2 Q + 5 + log2(L K^d))")
def inverse_temperature() -> Derivation:
    """The smallest ``β`` whose off-match mass ``2 L K^d e^{−β}`` is within the other half."""
    dd = Derivation(
        "universality.inverse_temperature",
        claim="universality",
        goal="the smallest β with 2 n e^{−β} <= 2^{−(T log2 Q + 4)}",
        quantity=beta_min,
    )
    dd.definition(
        "off_match",
        sp.Le(2 * rows * sp.exp(-beta_min), 2 ** (-(t_bits + 4))),
        "the n = L K^d non-matching prompt rows score >= β below the match (the logit gap of "
        "the attention weights) and move the table by <= 2 n e^{−β} (relative)",
        test=_LOGIT_TEST,
    )
    dd.smallest(b_sym, sp.Le(2 * rows * sp.exp(-b_sym), 2 ** (-(t_bits + 4))))
    dd.equal(sp.log(2) * (t_bits + 5 + log2(rows)), "logarithms")
    return dd


@register("universality.logit_bits", "p >= log2 β + 2⌈log2(L K^d)⌉ + 2: exact integer logits")
def logit_bits() -> Derivation:
    """The attention logits ``β(2um + u² − m²)`` as exact integers (inputs ``u, m < n̄``)."""
    dd = Derivation(
        "universality.logit_bits",
        claim="universality",
        goal="bits that keep every partial sum of the attention logits an exact integer",
        quantity=bits_logit,
    )
    dd.lemma(
        "representable",
        sp.Eq(bits_logit, log2(magnitude_up)),
        "integers of magnitude <= Bbar (a power of two) are log2 Bbar-bit floats (ν = 0)",
        source=_REPRESENTABLE,
    )
    dd.definition(
        "logits",
        sp.Eq(magnitude_up, 2 * beta * rows_up**2 + beta * rows_up**2 + beta * rows_up**2),
        "W_Q reads u, u², 1; W_K has 2β on m, β on 1, −β on m²; u, m < n̄: partial sums "
        "<= 2βn̄² + βn̄² + βn̄²",
        test=_LOGIT_TEST,
    )
    dd.start(premise="representable").substitute("logits")
    dd.equal(log2(beta) + 2 * log2(rows_up) + 2, "log2(4βn̄²)")
    return dd


@register("universality.precision_needed", "p = max(T log2 Q + 6, logit bits, band bits)")
def precision_needed() -> Derivation:
    """Every requirement of the deep and wide models at once."""
    dd = Derivation(
        "universality.precision_needed",
        claim="universality",
        goal="the precision of the deep and wide models: every requirement met",
        quantity=bits,
    )
    dd.definition(
        "requirements",
        sp.Eq(bits, sp.Max(bits_table, bits_logit, bits_band)),
        "the table, the logits and the quantizer ramps are the rounded computations "
        "(reference.constructions.sizes.precision_needed)",
        test="tests/universality/test_precision.py::test_every_decoder_counts_the_band",
    )
    for name, sym in (
        ("table_bits", bits_table),
        ("logit_bits", bits_logit),
        ("precision_band", bits_band),
    ):
        proved = derivation(f"universality.{name}")
        dd.lemma(name, sp.Eq(sym, proved.result), proved.goal, proof=proved)
    dd.start(premise="requirements")
    dd.substitute("table_bits").substitute("logit_bits").substitute("precision_band")
    dd.definition(
        "rows_up",
        sp.Eq(rows_up, 2 ** sp.ceiling(log2(rows))),
        "n̄ = 2^⌈log2 n⌉ >= the token ids",
        test=_LOGIT_TEST,
    )
    chosen_beta = derivation("universality.beta")
    dd.lemma("beta", sp.Eq(beta, chosen_beta.result), chosen_beta.goal, proof=chosen_beta)
    _sizes(dd, "table", "contexts", "rows")
    dd.substitute("rows_up").substitute("beta").substitute("table").substitute("contexts")
    dd.substitute("rows")
    return dd


@register("universality.guard_bits", "6 guard bits beyond the table's T log2 Q")
def guard_bits() -> Derivation:
    """The precision's margin over the packed table."""
    guard = sp.Symbol("g", positive=True)
    dd = Derivation(
        "universality.guard_bits",
        claim="universality",
        goal="the guard bits: the table term's excess over T log2 Q",
        quantity=guard,
    )
    dd.hypothesis("guard", sp.Eq(guard, bits_table - t_bits), "guard = p_table − T log2 Q")
    table = derivation("universality.table_bits")
    dd.lemma("table", sp.Eq(bits_table, table.result), table.goal, proof=table)
    dd.start(premise="guard").substitute("table")
    return dd


@register("universality.beta", "β = 2^max(0, ⌈log2(ln2 (T log2 Q + 5 + log2(L K^d)))⌉)")
def beta_choice() -> Derivation:
    """The inverse temperature: ``β_min`` rounded up to a power of two (at least 1)."""
    dd = Derivation(
        "universality.beta",
        claim="universality",
        goal="the inverse temperature of the deep and wide models",
        quantity=beta,
    )
    dd.definition(
        "power",
        sp.Eq(beta, 2 ** sp.Max(0, sp.ceiling(log2(beta_min)))),
        "β is β_min rounded up to a power of two, at least 1",
        test=_LOGIT_TEST,
    )
    smallest = derivation("universality.inverse_temperature")
    dd.lemma("smallest", sp.Eq(beta_min, smallest.result), smallest.goal, proof=smallest)
    _sizes(dd, "table", "contexts", "rows")
    dd.start(premise="power").substitute("smallest").substitute("table")
    dd.substitute("contexts").substitute("rows")
    return dd


first_ramp = sp.Symbol("w_first", positive=True)
largest = sp.Symbol("w_max", positive=True)  # largest weight magnitude


@register("universality.max_weight", "w_max <= max(2Q^T, 1/(2η), 2β, L K^d, L + 1)")
def max_weight() -> Derivation:
    """The largest weight magnitude of the deep and wide models, by kind."""
    dd = Derivation(
        "universality.max_weight",
        claim="universality",
        goal="the largest weight of the deep and wide models",
        quantity=largest,
    )
    dd.definition(
        "kinds",
        sp.Le(largest, sp.Max(2 * Q**contexts, 1 / (2 * eta), 2 * beta, rows, L + 1)),
        "weight kinds: decoder ramps 2Q^{T−k}, quantizer slope 1/(2η), keys 2β, the token id's "
        "positions K^d(L − 1) < L K^d, W_O's L + 1 (the first decoder ramp attains 2Q^T)",
        test=_PREMISES + "test_the_largest_weight_is_within_its_kinds",
    )
    dd.definition(
        "first_ramp",
        sp.Eq(first_ramp, 2 * Q ** (K ** (d * (L - 1)))),
        "the first decoder ramp's slope 2Q^T",
        test=_PREMISES + "test_the_largest_weight_is_within_its_kinds",
    )
    chosen_beta = derivation("universality.beta")
    dd.lemma("beta", sp.Eq(beta, chosen_beta.result), chosen_beta.goal, proof=chosen_beta)
    _sizes(dd, "contexts", "rows")
    dd.start(premise="kinds").substitute("beta").substitute("contexts").substitute("rows")
    return dd
