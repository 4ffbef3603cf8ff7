"""Universality (theory.md §3), the whole cube: the in-band range per decoder, the ``L_p`` bound
per decoder and at the default band, and the Monte Carlo bounds of the whole-cube check.

>>> from verify.derive import derivation
>>> derivation("universality.lp_norm_eps").result
epsilon + epsilon**(1/p)
"""

from __future__ import annotations

import sympy as sp

from verify.derive.derivations.universality import (
    _READOUT_TEST,
    DECODERS,
    RANGE_SOURCES,
    K,
    Q,
    deviation,
    eps,
    eta,
    failure,
    fraction,
    in_band,
    level_dev,
    lp_norm,
    lp_power,
    measure,
    off_band,
    p_norm,
    sample_power,
    samples,
    spread,
)
from verify.derive.engine import Derivation
from verify.derive.registry import derivation, register


@register("universality.band_fraction", "fraction of n samples in the band <= m + √(ln(1/δ)/(2n))")
def band_fraction() -> Derivation:
    """The band fraction of ``n`` uniform samples (Hoeffding, failure probability ``δ``)."""
    dd = Derivation(
        "universality.band_fraction",
        claim="universality",
        goal="the fraction of n uniform samples in the band, with probability >= 1 − δ",
        quantity=fraction,
    )
    dd.lemma(
        "hoeffding",
        sp.Le(fraction, measure + deviation),
        "one-sided Hoeffding bound for a mean of n independent indicators of mean m",
        source="W. Hoeffding, Probability inequalities for sums of bounded random variables, "
        "J. Amer. Statist. Assoc. 58 (1963), Thm 1 (2.3)",
    )
    _deviation(dd)
    exact = derivation("universality.band_measure")
    dd.lemma("measure", exact.statement, "the band's measure", proof=exact)
    dd.start(premise="hoeffding").substitute("deviation").substitute("failure")
    dd.substitute("measure")
    return dd


def _deviation(dd: Derivation) -> None:
    dd.lemma(
        "deviation",
        sp.Eq(deviation, sp.sqrt(sp.log(1 / failure) / (2 * samples))),
        "the deviation exceeded with probability <= δ: exp(−2 n t²) = δ",
        source="Hoeffding (1963), Thm 1: P(mean − m >= t) <= exp(−2 n t²) for values in [0, 1]",
    )
    dd.hypothesis(
        "failure",
        sp.Eq(failure, sp.Float("1e-9")),
        "the failure probability the suite allows each Monte Carlo comparison (a choice)",
    )


@register("universality.sample_lp_error", "sample L_p error <= (E_p + M^p √(ln(1/δ)/(2n)))^{1/p}")
def sample_lp_error() -> Derivation:
    """The sample ``L_p`` error of ``n`` uniform samples (Hoeffding on values in ``[0, M^p]``)."""
    dd = Derivation(
        "universality.sample_lp_error",
        claim="universality",
        goal="the sample L_p error over n uniform inputs, with probability >= 1 − δ",
        quantity=lp_norm,
        domain={measure: sp.Interval(0, 1), p_norm: sp.Interval(1, sp.oo)},
    )
    dd.hypothesis(
        "norm",
        sp.Eq(lp_norm, sample_power ** (1 / p_norm)),
        "the sample (mean |g|^p)^{1/p}",
        domain={p_norm: sp.Interval(1, sp.oo)},
    )
    dd.lemma(
        "hoeffding",
        sp.Le(
            sample_power,
            (1 - measure) * off_band**p_norm
            + measure * in_band**p_norm
            + in_band**p_norm * deviation,
        ),
        "one-sided Hoeffding bound for a mean of n independent values in [0, M^p], whose mean "
        "E_p is split over the band and its complement (universality.lp_error_deep)",
        source="W. Hoeffding, Probability inequalities for sums of bounded random variables, "
        "J. Amer. Statist. Assoc. 58 (1963), Thm 2 (2.6)",
    )
    off = derivation("universality.error_off_band")
    dd.lemma("off_band", off.statement, "the error off the band", proof=off)
    inside = derivation("universality.in_band_error_deep")
    dd.lemma("in_band", inside.statement, "the error in the band", proof=inside)
    _deviation(dd)
    exact = derivation("universality.band_measure")
    dd.lemma("measure", exact.statement, "the band's measure", proof=exact)
    dd.start(premise="norm").bound("hoeffding").bound("off_band").bound("in_band").substitute(
        "deviation"
    ).substitute("failure").substitute("measure")
    return dd


def _in_band(decoder: str) -> Derivation:
    dd = Derivation(
        f"universality.in_band_error_{decoder}",
        claim="universality",
        goal=f"the error in the band ({decoder} decoder): 1 − 1/(2Q)",
        quantity=in_band,
    )
    dd.hypothesis(
        "targets",
        sp.Le(in_band, spread + sp.Rational(1, 2)),
        "targets lie in [0, 1]: |out − y| <= |out − 1/2| + |y − 1/2| <= a + 1/2",
    )
    dd.definition(
        "readout",
        sp.Eq(spread, level_dev / Q),
        "the read-out is out = (acc + 1/2)/Q, so |out − 1/2| = |acc − (Q − 1)/2|/Q",
        test=_READOUT_TEST,
    )
    dd.lemma(
        f"range_{decoder}",
        sp.Le(level_dev, (Q - 1) / 2),
        f"range lemma: acc ∈ [0, Q − 1] for every input, band included ({decoder} decoder)",
        source=RANGE_SOURCES[decoder],
    )
    dd.start(premise="targets").substitute("readout").bound(f"range_{decoder}")
    dd.equal(1 - 1 / (2 * Q), "(Q − 1)/(2Q) + 1/2")
    return dd


def _band_lemmas(dd: Derivation, decoder: str) -> None:
    """The three lemmas of a whole-cube bound: the error off the band, in the band
    (``decoder``) and the band's measure, each proved by its derivation."""
    off = derivation("universality.error_off_band")
    dd.lemma("off_band", off.statement, "the error off the band", proof=off)
    inside = derivation(f"universality.in_band_error_{decoder}")
    dd.lemma("in_band", inside.statement, f"the error in the band ({decoder})", proof=inside)
    exact = derivation("universality.band_measure")
    dd.lemma("measure", exact.statement, "the band's measure", proof=exact)


def _lp(decoder: str) -> Derivation:
    dd = Derivation(
        f"universality.lp_error_{decoder}",
        claim="universality",
        goal=f"E‖τ − f‖^p over the whole cube, band included ({decoder} decoder)",
        quantity=lp_power,
        domain={measure: sp.Interval(0, 1), p_norm: sp.Interval(1, sp.oo)},
    )
    dd.hypothesis(
        "split",
        sp.Le(lp_power, (1 - measure) * off_band**p_norm + measure * in_band**p_norm),
        "split the integral over the band (measure m, error <= M) and its complement "
        "(error <= e); X uniform on [0,1]^{L×d}, 1 <= p < ∞",
        domain={measure: sp.Interval(0, 1), p_norm: sp.Interval(1, sp.oo)},
    )
    _band_lemmas(dd, decoder)
    dd.start(premise="split").bound("off_band").bound("in_band").substitute("measure")
    return dd


for _decoder in DECODERS:
    register(
        f"universality.in_band_error_{_decoder}",
        f"in the band the {_decoder} decoder's error is <= 1 − 1/(2Q) (range lemma)",
    )(lambda decoder=_decoder: _in_band(decoder))
    register(
        f"universality.lp_error_{_decoder}",
        f"‖τ − f‖_{{L_p}}^p <= (1 − m)e^p + m M^p on the whole cube ({_decoder} decoder)",
    )(lambda decoder=_decoder: _lp(decoder))


@register("universality.lp_error_eps", "‖τ − f‖_{L_p}^p <= (ε + ε^{1/p})^p at the default band")
def lp_error_eps() -> Derivation:
    """The closed form of the whole-cube bound: ``‖τ − f‖_{L_p} <= ε + ε^{1/p}``."""
    dd = Derivation(
        "universality.lp_error_eps",
        claim="universality",
        goal="E‖τ − f‖^p <= (ε + ε^{1/p})^p at the default band (any decoder)",
        quantity=lp_power,
        domain={
            measure: sp.Interval(0, 1),
            p_norm: sp.Interval(1, sp.oo),
            eps: sp.Interval.open(0, 1),
        },
    )
    dd.hypothesis(
        "split",
        sp.Le(lp_power, (1 - measure) * off_band**p_norm + measure * in_band**p_norm),
        "split the integral over the band and its complement (as universality.lp_error_deep)",
        domain={measure: sp.Interval(0, 1), p_norm: sp.Interval(1, sp.oo)},
    )
    within = derivation("universality.error_within_eps")
    dd.lemma("off_band", within.statement, "the error off the band is <= ε", proof=within)
    dd.lemma(
        "in_band",
        sp.Le(in_band, 1),
        "M <= 1 − 1/(2Q) <= 1 (universality.in_band_error_<decoder>, each decoder)",
        source="derivations universality.in_band_error_deep, _wide, _shallow",
    )
    band = derivation("universality.band_within_eps")
    dd.lemma("band", band.statement, "the default band's measure is <= ε", proof=band)
    a, b = sp.symbols("a_s b_s", nonnegative=True)
    dd.lemma(
        "superadditive",
        sp.Le(a**p_norm + b**p_norm, (a + b) ** p_norm),
        "a^p + b^p <= (a + b)^p for a, b >= 0 and p >= 1 (x ↦ x^p is superadditive)",
        source="G. H. Hardy, J. E. Littlewood, G. Pólya, Inequalities (2nd ed.), 1952, Thm 19",
    )
    dd.start(premise="split").bound("off_band").bound("in_band")
    dd.relax(eps**p_norm + measure, "(1 − m)ε^p <= ε^p").bound("band")
    dd.apply("superadditive", {a: eps, b: eps ** (1 / p_norm)})
    return dd


def _norm(name: str, power_name: str, goal: str) -> Derivation:
    dd = Derivation(
        f"universality.{name}",
        claim="universality",
        goal=goal,
        quantity=lp_norm,
        domain={p_norm: sp.Interval(1, sp.oo), eta: sp.Interval.open(0, 1 / (2 * K))},
    )
    dd.hypothesis(
        "norm",
        sp.Eq(lp_norm, lp_power ** (1 / p_norm)),
        "‖g‖_{L_p} = (E |g|^p)^{1/p}",
        domain={p_norm: sp.Interval(1, sp.oo)},
    )
    power = derivation(f"universality.{power_name}")
    dd.lemma("power", power.statement, power.goal, proof=power)
    dd.start(premise="norm").bound("power")
    return dd


def _lp_norm(decoder: str) -> Derivation:
    """The whole-cube ``L_p`` error itself: the ``p``-th root of the split integral."""
    dd = Derivation(
        f"universality.lp_norm_{decoder}",
        claim="universality",
        goal=f"the whole-cube L_p error, band included ({decoder} decoder)",
        quantity=lp_norm,
        domain={measure: sp.Interval(0, 1), p_norm: sp.Interval(1, sp.oo)},
    )
    dd.hypothesis(
        "norm",
        sp.Eq(lp_norm, lp_power ** (1 / p_norm)),
        "‖g‖_{L_p} = (E |g|^p)^{1/p}",
        domain={p_norm: sp.Interval(1, sp.oo)},
    )
    dd.hypothesis(
        "split",
        sp.Le(lp_power, (1 - measure) * off_band**p_norm + measure * in_band**p_norm),
        "split the integral over the band and its complement (universality.lp_error_<decoder>)",
        domain={measure: sp.Interval(0, 1)},
    )
    _band_lemmas(dd, decoder)
    dd.start(premise="norm").bound("split").bound("off_band").bound("in_band")
    dd.substitute("measure")
    return dd


for _decoder in DECODERS:
    register(
        f"universality.lp_norm_{_decoder}",
        f"‖τ − f‖_{{L_p}} <= ((1 − m)e^p + m M^p)^{{1/p}} ({_decoder} decoder)",
    )(lambda decoder=_decoder: _lp_norm(decoder))


@register("universality.lp_norm_eps", "‖τ − f‖_{L_p} <= ε + ε^{1/p} at the default band")
def lp_norm_eps() -> Derivation:
    """The closed form ``ε + ε^{1/p}`` of the whole-cube bound."""
    dd = _norm("lp_norm_eps", "lp_error_eps", "the whole-cube L_p error at the default band")
    dd.equal(eps + eps ** (1 / p_norm), "((ε + ε^{1/p})^p)^{1/p}, positive base")
    return dd
