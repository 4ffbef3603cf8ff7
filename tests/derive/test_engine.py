"""Unit tests of the derivation engine: every rule accepts a right step and rejects a wrong one
(planted: ``1/K`` for ``1/(2K)``, ``(1 + ε)`` for ``(1 − ε)``, a dropped summand, a non-monotone
substitution, a wrong maximum, a wrong count, a wrong limit, a lemma off its instance)."""

from __future__ import annotations

import pytest
import sympy as sp

from verify.derive import Derivation, DerivationError
from verify.derive.decide import equal, holds

C, K, Q = sp.symbols("C K Q", positive=True)
rho, err = sp.symbols("rho err", nonnegative=True)
eps = sp.Symbol("epsilon", positive=True)
x = sp.Symbol("x", real=True)
p = sp.Symbol("p", nonnegative=True)
n, j = sp.symbols("n j", integer=True, positive=True)
UNIT = {eps: sp.Interval.open(0, 1)}


def _cell() -> Derivation:
    d = Derivation("demo.cell", claim="demo", goal="error at a cell centre", quantity=err)
    d.hypothesis("lipschitz", sp.Le(err, C * rho + 1 / (2 * Q)), "C-Lipschitz, Q levels")
    d.definition("radius", sp.Le(rho, 1 / (2 * K)), "cell radius", test="tests/x.py::test_y")
    return d.start(premise="lipschitz").bound("radius")


def test_monotone_bound_and_the_planted_one_over_k() -> None:
    d = _cell()
    assert d.result == C / (2 * K) + 1 / (2 * Q) and d.relation == "<="
    with pytest.raises(DerivationError) as caught:
        d.replay(claims={2: C / K + 1 / (2 * Q)})
    assert caught.value.step == 2 and caught.value.rule == "bound"
    assert "demo.cell, step 2 (bound)" in str(caught.value)


def test_non_monotone_substitution_is_refused() -> None:
    d = Derivation("demo.wave", claim="demo", goal="g", quantity=err)
    d.hypothesis("h", sp.Le(x, 1), "x <= 1")
    d.start(sp.sin(x))
    with pytest.raises(DerivationError, match="not shown monotone"):
        d.bound("h")


def test_bound_the_wrong_way_is_refused() -> None:
    """An upper bound substituted where the expression decreases gives a lower bound: after an
    upper-bound chain that is an error."""
    d2 = Derivation("demo.mixed2", claim="demo", goal="g", quantity=err, domain=UNIT)
    d2.hypothesis("e", sp.Le(eps, sp.Rational(1, 2)), "eps <= 1/2")
    d2.hypothesis("up", sp.Le(err, 1 - eps), "start")
    d2.start(premise="up")
    with pytest.raises(DerivationError, match="cannot follow"):
        d2.bound("e")  # 1 − ε decreases in ε: an upper bound of ε gives a lower bound


def test_planted_one_plus_eps_for_one_minus_eps() -> None:
    d = Derivation("demo.ratio", claim="demo", goal="g", quantity=err, domain=UNIT)
    d.hypothesis("def", sp.Eq(err, eps / (1 - eps)), "definition")
    d.start(premise="def").relax(2 * eps / (1 - eps))
    d.replay()  # the right chain replays
    with pytest.raises(DerivationError) as caught:
        d.replay(claims={2: 2 * eps / (1 + eps)})  # not an upper bound: ε/(1−ε) > 2ε/(1+ε)
    assert caught.value.step == 2 and caught.value.rule == "relax"


def test_equality_refuses_a_dropped_summand() -> None:
    d = Derivation("demo.sum", claim="demo", goal="g", quantity=err)
    d.start(C + K + Q).equal(Q + K + C)
    with pytest.raises(DerivationError, match="not 0") as caught:
        d.replay(claims={2: C + K})
    assert caught.value.step == 2


def test_substitution_and_fold() -> None:
    a = sp.Symbol("a", positive=True)
    d = Derivation("demo.fold", claim="demo", goal="g", quantity=err)
    d.definition("a_def", sp.Eq(a, C / (C + K)), "a", test="tests/x.py::test_y")
    d.start(K / (C + K)).fold("a_def", claimed=1 - a)
    assert d.result == 1 - a
    with pytest.raises(DerivationError, match="unfolds"):
        d.replay(claims={2: 1 + a})
    d3 = Derivation("demo.subs", claim="demo", goal="g", quantity=err)
    d3.definition("a_def", sp.Eq(a, C / (C + K)), "a", test="tests/x.py::test_y")
    d3.start(2 * a).substitute("a_def")
    assert d3.result == 2 * C / (C + K)
    d4 = Derivation("demo.s3", claim="demo", goal="g", quantity=err)
    d4.definition("a_def", sp.Eq(a, 1), "a", test="tests/x.py::test_y")
    with pytest.raises(DerivationError, match="does not occur"):
        d4.start(C).substitute("a_def")


def test_maximum_over_an_interval_and_a_wrong_maximum() -> None:
    d = Derivation("demo.max", claim="demo", goal="g", quantity=err, domain=UNIT)
    f = 2 * eps * p * (1 - p) / (1 - eps + 2 * eps * p)
    d.start(f).maximize(p, sp.Interval(0, 1), (1 - sp.sqrt(1 - eps**2)) / eps)
    assert d.relation == "<="
    with pytest.raises(DerivationError, match="none of the candidates"):
        d.replay(claims={2: eps / 2})  # ≈ the maximum for small ε, but not it
    with pytest.raises(DerivationError, match="not shown"):
        d.replay(claims={2: sp.Integer(0)})  # an endpoint value, not the largest


def test_summation_and_a_wrong_count() -> None:
    d = Derivation("demo.count", claim="demo", goal="g", quantity=err)
    d.start(sp.Sum(j, (j, 1, n))).evaluate(n * (n + 1) / 2)
    with pytest.raises(DerivationError, match="not the claimed"):
        d.replay(claims={2: n**2 / 2})
    with pytest.raises(DerivationError, match="no sum"):
        Derivation("demo.c2", claim="demo", goal="g", quantity=err).start(n).evaluate()


def test_integral_and_limit() -> None:
    d = Derivation("demo.measure", claim="demo", goal="g", quantity=err)
    d.start(sp.Integral(1, (x, 0, 1 / K))).evaluate(1 / K)
    with pytest.raises(DerivationError):
        d.replay(claims={2: 1 / (2 * K)})
    lim = Derivation("demo.limit", claim="demo", goal="g", quantity=err)
    lim.start(sp.Limit(sp.log(n) / n, n, sp.oo)).evaluate(0)
    with pytest.raises(DerivationError):
        lim.replay(claims={2: sp.Integer(1)})


def test_smallest_parameter_and_a_wrong_one() -> None:
    d = Derivation("demo.k", claim="demo", goal="g", quantity=sp.Symbol("K_min"))
    Ki = sp.Symbol("K", integer=True, positive=True)
    d.smallest(Ki, sp.Le(C / (2 * Ki), eps), sp.ceiling(C / (2 * eps)), integer=True)
    with pytest.raises(DerivationError):
        d.replay(claims={1: sp.ceiling(C / eps)})  # the planted 1/K for 1/(2K)
    with pytest.raises(DerivationError, match="monotone"):
        Derivation("demo.k2", claim="demo", goal="g", quantity=err).smallest(x, sp.Le(sp.sin(x), 0))


def test_lemma_instance_its_conditions_and_a_wrong_instance() -> None:
    a, b = sp.symbols("a b", real=True)
    d = Derivation("demo.lemma", claim="demo", goal="g", quantity=err, domain=UNIT)
    d.lemma(
        "am_gm",
        sp.Le(sp.sqrt(a * b), (a + b) / 2),
        "AM-GM",
        source="any textbook",
        conditions=(a >= 0, b >= 0),
    )
    d.start(sp.sqrt(eps * (1 - eps))).apply("am_gm", {a: eps, b: 1 - eps})
    assert d.result == sp.Rational(1, 2)
    with pytest.raises(DerivationError, match="left side"):
        d.replay(claims={1: sp.sqrt(eps * (1 + eps))})
    bad = Derivation("demo.lemma2", claim="demo", goal="g", quantity=err)
    bad.lemma(
        "am_gm", sp.Le(sp.sqrt(a * b), (a + b) / 2), "AM-GM", source="x", conditions=(a >= 0,)
    )
    with pytest.raises(DerivationError, match="condition"):
        bad.start(sp.sqrt(x * 2)).apply("am_gm", {a: x, b: 2})  # x of unknown sign


def test_lemmas_are_proved_or_cited() -> None:
    d = Derivation("demo.proofs", claim="demo", goal="g", quantity=err, domain=UNIT)
    d.lemma("root", sp.Ge(sp.sqrt(1 - eps**2), 1 - eps), "a root bound", proof="decide")
    d.lemma(
        "identity",
        sp.Eq(eps**2 - 1, (eps - 1) * (eps + 1)),
        "x",
        proof=eps**2 - 1 - (eps - 1) * (eps + 1),
    )
    with pytest.raises(DerivationError, match="not decided"):
        d.lemma("wrong", sp.Ge(1 - eps, sp.sqrt(1 - eps**2)), "false", proof="decide")
    with pytest.raises(DerivationError, match="residual"):
        d.lemma("wrong2", None, "false", proof=eps - 1)
    with pytest.raises(DerivationError, match="proof or a source"):
        d.lemma("bare", None, "unproved")
    other = _cell()
    with pytest.raises(DerivationError, match="proves"):
        d.lemma("from_other", sp.Le(err, C / K), "wrong statement", proof=other)


def test_premises_are_checked() -> None:
    d = Derivation("demo.premises", claim="demo", goal="g", quantity=err)
    with pytest.raises(ValueError, match="pytest node id"):
        d.definition("nodeless", sp.Eq(err, 1), "a definition", test="tests/x.py")
    d.hypothesis("h", sp.Eq(err, 1), "h")
    with pytest.raises(DerivationError, match="named twice"):
        d.hypothesis("h", sp.Eq(err, 2), "h")
    with pytest.raises(DerivationError, match="no such premise"):
        d.start(premise="missing")
    with pytest.raises(ValueError, match="name"):
        Derivation("other.x", claim="demo", goal="g", quantity=err)


def test_changed_premise_rederives() -> None:
    l2 = _cell().replay(premises={"radius": sp.Le(rho, sp.sqrt(3) / (2 * K))})
    assert sp.simplify(l2.result - (sp.sqrt(3) * C / (2 * K) + 1 / (2 * Q))) == 0


def test_decide_never_guesses() -> None:
    assert holds(1 - eps, ">", UNIT) and not holds(1 - eps, ">", {})
    assert not holds(sp.sin(x), ">=", {})
    assert equal(sp.Abs(eps - 1), 1 - eps, UNIT) and not equal(sp.Abs(eps - 1), 1 - eps, {})
    with pytest.raises(ValueError, match="relation"):
        holds(x, "=>", {})


def test_text_and_latex_name_premises_and_rules() -> None:
    d = _cell()
    text, latex = d.text(), d.latex()
    assert "[hypothesis] lipschitz" in text and "[definition] radius" in text
    assert "[bound]" in text and "tests/x.py::test_y" in text
    assert r"\begin{align*}" in latex and r"\le" in latex


def test_start_minimize_largest_and_cases_reject_wrong_claims() -> None:
    d = Derivation("demo.start", claim="demo", goal="g", quantity=err)
    d.hypothesis("h", sp.Le(err, 1 / (2 * K)), "h")
    d.start(premise="h", expr=1 / (2 * K))
    with pytest.raises(DerivationError, match="not the claimed"):
        d.replay(claims={1: 1 / K})
    a, b = sp.symbols("a b", real=True)
    low = Derivation("demo.min", claim="demo", goal="g", quantity=err)
    low.start((x - a) ** 2 + (x - b) ** 2).minimize(x, sp.Interval(-sp.oo, sp.oo))
    assert low.relation == ">=" and sp.simplify(low.result - (a - b) ** 2 / 2) == 0
    with pytest.raises(DerivationError):
        low.replay(claims={2: (a - b) ** 2})  # not the minimum
    top = Derivation("demo.largest", claim="demo", goal="g", quantity=err)
    top.largest(eps, sp.Le(2 * eps, sp.Rational(1, 2)), sp.Rational(1, 4))
    with pytest.raises(DerivationError):
        top.replay(claims={1: sp.Rational(1, 2)})  # the height a for ε
    branch = Derivation("demo.cases", claim="demo", goal="g", quantity=err)
    branch.hypothesis("big", sp.Gt(C, 1), "C > 1")
    branch.lemma("small", sp.Eq(err, sp.oo, evaluate=False), "else", source="x")
    branch.start(1 / C).cases("big", "small")
    assert branch.result == sp.Piecewise((1 / C, C > 1), (sp.oo, True))
    other = Derivation("demo.c2", claim="demo", goal="g", quantity=err)
    other.lemma("not_hyp", sp.Gt(C, 2), "x", source="x")
    other.lemma("small", sp.Eq(err, sp.oo, evaluate=False), "else", source="x")
    other.start(C)
    with pytest.raises(DerivationError, match="not a hypothesis"):
        other.cases("not_hyp", "small")
