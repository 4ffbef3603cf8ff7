"""Capacity: the sympy lower bounds, gradient-based capacity, the Wang-style loss floor, and the
construction-versus-bounds comparison (with fake constructions as planted violations)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
import sympy as sp

from reference import Transformer, prompt_forward
from reference.model.capacity import (
    CapacitySpec,
    build_capacity_problem,
    gradient_capacity,
    permutation_defect,
    random_pairs,
    run_capacity_spec,
    trained_losses,
    wang_dataset,
    wang_loss_floor,
)
from verify.claims.capacity import bounds as cap
from verify.claims.capacity.checks import (
    capacity_observations,
    memorization_count,
    memorization_observations,
)
from verify.claims.capacity.constructions import (
    construction_count,
    memorizer_count,
    planted_insensitive_count,
    planted_low_precision_count,
)
from verify.claims.capacity.packing import packing_centres, packing_member
from verify.claims.capacity.strategies import (
    ConstructionCase,
    MemorizerCase,
    PackingTarget,
    cell_centre_packing,
)
from verify.claims.capacity.wang import WANG_FLOOR_SLACK, wang_floor, wang_observations
from verify.claims.universality.strategies import FLOAT64_SIGNIFICAND_BITS


# --------------------------------------------------------------------------- sympy bounds
def test_symbols_carry_assumptions() -> None:
    for s in (cap.d, cap.L, cap.K, cap.Q, cap.d_v, cap.D, cap.Lp):
        assert s.is_integer and s.is_positive
    for s in (cap.eps, cap.C, cap.Lam, cap.R_P):
        assert s.is_positive


def test_precision_bound_solves_the_counting_inequality() -> None:
    b = sp.Symbol("b", positive=True)
    solved = sp.solve(sp.Eq(b * (cap.d_v + 1), cap.table_bits), b)
    assert sp.simplify(solved[0] - cap.precision_bits_lower) == 0
    assert cap.precision_bits_lower_fn(2, 4, 2, 16, 3) == pytest.approx(2 * 16 * 4 / 4)


def test_precision_bound_is_exponential_in_d_times_l_minus_1() -> None:
    rate = sp.limit(sp.log(cap.precision_bits_lower.subs(cap.K, 4)) / cap.L, cap.L, sp.oo)
    assert sp.simplify(rate - cap.d * sp.log(4)) == 0


@pytest.mark.parametrize(("d", "length"), [(1, 1), (1, 2), (2, 2), (1, 3)])
def test_packing_is_polynomial_of_degree_dl_in_one_over_eps(d: int, length: int) -> None:
    n = d * length
    m_eps = cap.packing_log2_count.subs({cap.d: d, cap.L: length})
    lead = sp.limit(m_eps * cap.eps**n, cap.eps, 0, "+")
    assert sp.simplify(lead - n * (cap.C / 4) ** n) == 0
    assert sp.limit(m_eps * cap.eps ** (n + 1), cap.eps, 0, "+") == 0


@pytest.mark.parametrize(("d", "length"), [(1, 1), (1, 2), (2, 2)])
def test_token_bound_is_degree_dl_in_one_over_eps_up_to_a_log(d: int, length: int) -> None:
    n = d * length
    lb = cap.token_bound_formula.subs({cap.d: d, cap.L: length, cap.Lam: 10, cap.R_P: 1})
    lead = sp.limit(lb * cap.eps**n * sp.log(1 / cap.eps), cap.eps, 0, "+")
    assert sp.simplify(lead - n * (cap.C / 4) ** n * sp.log(2) / cap.D) == 0


def test_packing_and_token_bound_are_exponential_in_dl() -> None:
    at = {cap.eps: sp.Rational(1, 16), cap.C: 1}  # m = 4 centres per axis
    rate = sp.limit(sp.log(cap.packing_log2_count.subs(at)) / cap.L, cap.L, sp.oo)
    assert sp.simplify(rate - cap.d * sp.log(4)) == 0
    lb = cap.token_bound_formula.subs({**at, cap.Lam: 1000, cap.R_P: 1})
    assert sp.simplify(sp.limit(sp.log(lb) / cap.L, cap.L, sp.oo) - cap.d * sp.log(4)) == 0


def test_lambdified_bounds_match_the_expressions() -> None:
    at = {cap.eps: 0.03, cap.C: 2.0, cap.d: 2, cap.L: 2, cap.D: 7, cap.Lam: 1e9, cap.R_P: 3.0}
    assert cap.token_lower_bound_fn(0.03, 2.0, 2, 2, 7, 1e9, 3.0) == pytest.approx(
        float(cap.token_lower_bound.subs(at))
    )
    assert cap.packing_log2_count_fn(0.03, 2.0, 2, 2) == 4 * 16**4
    cov = cap.covering_log2_count_fn(0.03, 1e9, 3.0, 7, 5)
    assert cov == pytest.approx(35 * np.log2(4 * 1e9 * 3.0 / 0.03))
    # the required Lipschitz constant makes the token bound hold with equality
    log2_lam = cap.log2_lipschitz_required_fn(0.03, 2.0, 2, 2, 7, 50, 3.0)
    assert cap.token_lower_bound_fn(0.03, 2.0, 2, 2, 7, 2.0**log2_lam, 3.0) == pytest.approx(50)


def test_token_bound_is_where_the_covering_count_reaches_the_packing_count() -> None:
    # Lp prompt rows cover at most covering_count functions; 2^{M(eps)} must fit among them
    at_bound = cap.covering_count.subs(cap.Lp, cap.token_bound_formula)
    gap = sp.expand_log(sp.log(at_bound, 2), force=True) - cap.packing_log2_count
    assert sp.simplify(gap) == 0
    at = {cap.eps: 0.03, cap.C: 2.0, cap.d: 2, cap.L: 2, cap.D: 7, cap.Lam: 1e9, cap.R_P: 3.0}
    lp = float(cap.token_lower_bound.subs(at))
    for rows, fits in ((np.floor(lp), False), (np.ceil(lp), True)):
        log2_cover = float(sp.log(cap.covering_count.subs({**at, cap.Lp: rows}), 2))
        assert (log2_cover >= float(cap.packing_log2_count.subs(at))) == fits


def test_token_bound_is_infinite_for_a_prompt_insensitive_model() -> None:
    assert cap.token_lower_bound_fn(0.1, 1.0, 1, 1, 2, 0.01, 1.0) == np.inf
    at = {cap.eps: sp.Rational(1, 10), cap.C: 1, cap.d: 1, cap.L: 1, cap.D: 2, cap.R_P: 1}
    assert cap.token_lower_bound.subs({**at, cap.Lam: sp.Rational(1, 100)}) == sp.oo
    assert cap.token_lower_bound.subs({**at, cap.Lam: 1}) == cap.token_bound_formula.subs(
        {**at, cap.Lam: 1}
    )


def test_dataset_token_bound_is_the_packing_bound_with_n_points() -> None:
    # M(eps) is the dataset bound for the N = m^{dL} packing centres
    at = {cap.eps: sp.Rational(1, 16), cap.C: 1, cap.d: 2, cap.L: 1, cap.D: 3, cap.R_P: 1}
    at[cap.Lam] = 7
    n = cap.packing_centres_per_axis.subs(at) ** 2
    assert cap.dataset_token_lower_bound.subs({**at, cap.N: n}) == cap.token_lower_bound.subs(at)
    assert cap.dataset_token_lower_bound_fn(8, 0.1, 1, 1, 2, 100.0, 1.0) == pytest.approx(
        8 / (2 * np.log2(4000.0))
    )


def test_log2_lambda_forms_equal_the_bounds() -> None:
    ell = cap.log2_Lam
    for log_form, bound in (
        (cap.token_lower_bound_log2_lambda, cap.token_lower_bound),
        (cap.dataset_token_lower_bound_log2_lambda, cap.dataset_token_lower_bound),
    ):
        branch = log_form.args[0][0] - bound.args[0][0].subs(cap.Lam, 2**ell)
        assert sp.simplify(sp.expand_log(branch, force=True)) == 0
    args = (0.05, 1.0, 2, 1, 6)
    for lam in (0.2, 1.0, 3e3, 1e12):
        assert cap.token_lower_bound_log2_lambda_fn(*args, np.log2(lam), 2.0) == pytest.approx(
            cap.token_lower_bound_fn(*args, lam, 2.0)
        )
    assert cap.token_lower_bound_log2_lambda_fn(*args, np.log2(0.01), 2.0) == np.inf
    assert np.isfinite(cap.token_lower_bound_log2_lambda_fn(*args, 5000.0, 2.0))


def test_packing_constants() -> None:
    assert cap.packing_separation == 4 * cap.eps
    assert cap.bump_radius == 2 * cap.eps / cap.C
    # spacing 1/m is at least two bump radii: supports are disjoint
    assert float(cap.packing_spacing.subs({cap.eps: 0.01, cap.C: 1.0})) >= 2 * 0.02


# --------------------------------------------------------------------------- packing family
def test_packing_centres_and_member_values() -> None:
    assert packing_centres(eps=0.125, lipschitz=1.0).tolist() == [0.25, 0.75]
    signs = np.array([[[1]], [[-1]]])
    x = np.array([[[0.25]], [[0.75]], [[0.5]], [[0.3]]])
    assert packing_member(x, signs, eps=0.125, lipschitz=1.0).ravel().tolist() == pytest.approx(
        [0.75, 0.25, 0.5, 0.7]
    )


def test_packing_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="eps"):
        packing_centres(eps=0.3, lipschitz=10.0)
    with pytest.raises(ValueError, match="eps"):
        packing_centres(eps=0.2, lipschitz=0.5)
    with pytest.raises(ValueError, match="eps"):
        packing_centres(eps=1.5, lipschitz=1.0)
    with pytest.raises(ValueError, match="lipschitz"):
        packing_centres(eps=0.1, lipschitz=-1.0)
    with pytest.raises(ValueError, match="signs"):
        packing_member(np.zeros((1, 1)), np.ones((3, 1, 1)), eps=0.125, lipschitz=1.0)
    with pytest.raises(ValueError, match="signs"):
        packing_member(np.zeros((1, 1)), np.zeros((2, 1, 1)), eps=0.125, lipschitz=1.0)


# --------------------------------------------------------------------------- gradient capacity
def test_one_pair_is_memorized_with_one_prompt_row() -> None:
    rng = np.random.default_rng(0)
    model = Transformer.random(1, rng=rng, width=2)
    xs, ys = random_pairs(1, d=1, length=1, rng=rng)
    result = gradient_capacity(model, xs, ys, tolerance=0.1, prompt_lengths=[1, 2], rng=rng)
    assert result.smallest_length == 1
    trial = result.trials[0]
    assert trial.memorized and min(trial.max_errors) <= 0.1
    assert len(result.trials) == 1  # stopped at the first success


def test_scan_keeps_raw_losses_and_reports_failure() -> None:
    spec = CapacitySpec(
        n_pairs=6,
        d=1,
        input_length=2,
        width=2,
        prompt_lengths=(1, 2),
        tolerance=1e-3,
        restarts=2,
        max_steps=40,
        seed=3,
    )
    result = run_capacity_spec(spec)
    assert result.smallest_length is None
    assert [t.prompt_length for t in result.trials] == [1, 2]
    for trial in result.trials:
        assert len(trial.losses) == len(trial.max_errors) == 2
        assert all(e > 1e-3 for e in trial.max_errors)
        assert all(loss > 0 for loss in trial.losses)


def test_memorized_means_max_error_within_tolerance() -> None:
    spec = CapacitySpec(n_pairs=2, d=1, input_length=1, width=4, prompt_lengths=(1, 2, 4))
    result = run_capacity_spec(spec)
    model, xs, _ys, _ = build_capacity_problem(spec)
    assert (model.d, model.width, xs.shape) == (1, 4, (2, 1, 1))
    for trial in result.trials:
        assert trial.memorized == (min(trial.max_errors) <= spec.tolerance)
        assert all(r > 0 for r in trial.radii)


def test_stopping_rule_records_why_each_run_stopped() -> None:
    spec = CapacitySpec(
        n_pairs=4,
        d=1,
        input_length=1,
        width=4,
        prompt_lengths=(1, 2),
        max_steps=60,
        patience=20,
        min_improvement=0.5,  # a coarse plateau rule: it must fire before the cap
        problem_seed=7,
    )
    result = run_capacity_spec(spec)
    reasons = [r for t in result.trials for r in t.reasons]
    assert reasons and set(reasons) <= {"target_loss", "plateau", "max_steps"}
    assert "plateau" in reasons
    assert all(t.converged == all(r != "max_steps" for r in t.reasons) for t in result.trials)
    capped = run_capacity_spec(replace(spec, max_steps=5, min_improvement=0.0, patience=10))
    assert not any(t.converged for t in capped.trials)  # the cap is not convergence
    # several trial seeds share one problem (model and pairs) through problem_seed
    a, b = build_capacity_problem(spec), build_capacity_problem(replace(spec, seed=1))
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[0].attn.w_q, b[0].attn.w_q)


def test_summary_gives_median_and_range_over_seeds() -> None:
    from verify.claims.capacity.gradient_capacity import summarize_capacity

    rows = [
        {"N": 2, "d": 1, "L": 1, "budget": 10, "smallest_Lp": s, "converged": c}
        for s, c in ((1, True), (4, True), (None, False))
    ]
    (summary,) = summarize_capacity(rows, top=8)
    assert (summary["median_Lp"], summary["min_Lp"], summary["max_Lp"]) == (4.0, 1.0, None)
    assert (summary["memorized"], summary["converged"], summary["seeds"]) == (2, 2, 3)


def test_capacity_rejects_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    model = Transformer.random(1, rng=rng, width=2)
    xs, ys = random_pairs(2, d=1, length=1, rng=rng)
    ok = {"tolerance": 0.1, "prompt_lengths": [1], "rng": rng}
    with pytest.raises(ValueError, match="prompt_lengths"):
        gradient_capacity(model, xs, ys, **{**ok, "prompt_lengths": [2, 1]})
    with pytest.raises(ValueError, match="prompt_lengths"):
        gradient_capacity(model, xs, ys, **{**ok, "prompt_lengths": []})
    with pytest.raises(ValueError, match="tolerance"):
        gradient_capacity(model, xs, ys, **{**ok, "tolerance": 0.0})
    with pytest.raises(TypeError, match="rng"):
        gradient_capacity(model, xs, ys, **{**ok, "rng": 0})
    with pytest.raises(ValueError, match="xs"):
        gradient_capacity(model, xs[0], ys[0], **ok)
    with pytest.raises(ValueError, match="ys"):
        gradient_capacity(model, xs, ys[:1], **ok)
    with pytest.raises(ValueError, match="xs"):
        gradient_capacity(model, np.full_like(xs, np.nan), ys, **ok)
    with pytest.raises(TypeError, match="model"):
        gradient_capacity("model", xs, ys, **ok)
    with pytest.raises(ValueError, match="n_pairs"):
        random_pairs(0, d=1, length=1, rng=rng)
    with pytest.raises(TypeError, match="spec"):
        run_capacity_spec({"n_pairs": 1})


# --------------------------------------------------------------------------- Wang-style floor
def test_wang_loss_floor_value() -> None:
    ys = np.array([[[0.0], [1.0]], [[1.0], [1.0]]])  # row j of seq 1 pairs row perm[j] of seq 0
    assert wang_loss_floor(ys, np.array([1, 0])) == pytest.approx((0.0 + 1.0) / 2 / 4)
    with pytest.raises(ValueError, match="permutation"):
        wang_loss_floor(ys, np.array([0, 0]))
    with pytest.raises(ValueError, match="ys"):
        wang_loss_floor(ys[:1], np.array([0, 1]))


def test_wang_loss_floor_is_the_sympy_pair_floor() -> None:
    # the pair floor (a - b)^2 / 2 is derived in sympy; reference computes it in numpy
    a, b = cap.y_a, cap.y_b
    assert sp.simplify(cap.wang_pair_floor - (a - b) ** 2 / 2) == 0
    assert sp.simplify(cap.wang_shared_output - (a + b) / 2) == 0
    rng = np.random.default_rng(3)
    for length, d in ((2, 1), (3, 2), (5, 3)):
        ys = rng.random((2, length, d))
        perm = rng.permutation(length)
        assert wang_loss_floor(ys, perm) == pytest.approx(wang_floor(ys, perm), rel=1e-14)
        shared = (ys[0][perm] + ys[1]) / 2  # the optimum: each pair at its mean
        outputs = np.stack([np.empty_like(shared), shared])  # (2, L, d)
        outputs[0][perm] = shared
        assert float(((outputs - ys) ** 2).mean()) == pytest.approx(wang_floor(ys, perm))


def test_wang_loss_floor_rejects_non_integer_permutations() -> None:
    ys = np.random.default_rng(0).random((2, 2, 1))
    with pytest.raises(TypeError, match="permutation"):
        wang_loss_floor(ys, np.array([True, False]))  # was silently 0.0925
    with pytest.raises(TypeError, match="permutation"):
        wang_loss_floor(ys, np.array([1.0, 0.0]))  # was an IndexError
    assert wang_loss_floor(ys, [1, 0]) == pytest.approx(wang_floor(ys, np.array([1, 0])))


def test_any_prompt_gives_identical_outputs_on_matched_rows() -> None:
    rng = np.random.default_rng(1)
    model = Transformer.random(2, rng=rng, width=3)
    data = wang_dataset(model, length=3, rng=rng)
    for lp in (0, 1, 7):
        out = prompt_forward(model, rng.standard_normal((lp, 3)) * 3, data.xs)  # (2, L, d)
        assert np.allclose(out[1], out[0][data.permutation], atol=1e-12)
        loss = float(((out - data.ys) ** 2).mean())
        assert loss >= data.loss_floor


def test_trained_loss_reaches_but_never_beats_the_floor() -> None:
    rng = np.random.default_rng(1)
    model = Transformer.random(2, rng=rng, width=6)
    data = wang_dataset(model, length=3, rng=rng)
    losses = trained_losses(
        model, data.xs, data.ys, prompt_lengths=[2, 8], rng=rng, restarts=1, max_steps=600
    )
    assert all(loss >= data.loss_floor * (1 - WANG_FLOOR_SLACK) for loss in losses)
    assert all(o.holds for o in wang_observations(data.loss_floor, losses))
    assert losses[-1] <= 1.05 * data.loss_floor  # gradient descent does get to the floor


def test_planted_positional_model_beats_the_floor() -> None:
    # positions break the permutation symmetry, so the floor is no longer a floor
    rng = np.random.default_rng(1)
    model = Transformer.random(2, rng=rng, width=6)
    data = wang_dataset(model, length=3, rng=rng)
    positional = Transformer.random(2, rng=rng, width=6, max_length=3)
    losses = trained_losses(
        positional, data.xs, data.ys, prompt_lengths=[8], rng=rng, restarts=1, max_steps=600
    )
    assert losses[0] < 0.5 * data.loss_floor
    assert permutation_defect(positional, np.zeros((1, 6)), data.xs[0], data.permutation) > 1e-3


def test_wang_rejects_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="positional"):
        wang_dataset(Transformer.random(1, rng=rng, width=2, max_length=3), length=3, rng=rng)
    model = Transformer.random(1, rng=rng, width=2)
    with pytest.raises(ValueError, match="length"):
        wang_dataset(model, length=1, rng=rng)
    with pytest.raises(ValueError, match="permutation"):
        permutation_defect(model, np.zeros((1, 2)), np.zeros((3, 1)), np.array([0, 1]))
    with pytest.raises(ValueError, match="x"):
        permutation_defect(model, np.zeros((1, 2)), np.zeros((2, 3, 1)), np.array([0, 1, 2]))


# --------------------------------------------------------------------------- construction checks
@dataclass(frozen=True)
class FakeConstruction:
    """Stands in for reference.Construction: a model and prompt with declared resources."""

    model: Transformer
    prompt: np.ndarray
    K: int
    Q: int
    d: int
    L: int
    prompt_rows: int
    bits_per_row: float
    precision_bits: int | None


def _rows(d: int, length: int, k: int) -> int:
    return length * k**d


def _fake(rows: int, *, weight: float = 1.0) -> FakeConstruction:
    rng = np.random.default_rng(0)
    model = Transformer.random(1, rng=rng, width=3, weight_scale=weight)
    bits = float(cap.table_bits.subs({cap.d: 1, cap.K: 4, cap.L: 2, cap.Q: 8}))
    return FakeConstruction(model, rng.uniform(-1, 1, (rows, 3)), 4, 8, 1, 2, rows, bits, None)


def _count(fake: FakeConstruction, **kw) -> object:
    packing = float(cap.packing_log2_count_fn(0.125, 1.0, 1, 2))
    return memorization_count(
        fake,
        eps=kw.pop("eps", 0.125),
        packing_log2=kw.pop("packing_log2", packing),
        rows_formula=_rows,
        rng=np.random.default_rng(0),
        **kw,
    )


def test_memorization_count_fields_and_ratios() -> None:
    count = _count(_fake(8))
    assert count.rows_match_formula
    bits = FLOAT64_SIGNIFICAND_BITS
    assert count.prompt_rows_formula == 8 and count.precision_bits == bits
    packing = float(cap.packing_log2_count_fn(0.125, 1.0, 1, 2))
    token_bound = cap.token_lower_bound_fn(
        0.125, 1.0, 1, 2, 3, 2.0**count.log2_lipschitz_bound, count.prompt_radius
    )
    # the capacity ratio is rows over the token bound: D Lp log2(4 Λ R_P / eps) / M
    assert count.capacity_ratio == pytest.approx(8 / token_bound)
    covering = cap.covering_log2_count_fn(
        0.125, 2.0**count.log2_lipschitz_bound, count.prompt_radius, 3, 8
    )
    assert count.capacity_ratio == pytest.approx(covering / packing)
    bits_lower = cap.precision_bits_lower_fn(1, 4, 2, 8, count.value_width)
    assert count.bits_ratio == pytest.approx(bits / bits_lower)
    assert count.log2_lipschitz_empirical <= count.log2_lipschitz_bound
    assert count.log2_lipschitz_required == pytest.approx(
        cap.log2_lipschitz_required_fn(0.125, 1.0, 1, 2, 3, 8, count.prompt_radius)
    )
    row = count.to_row()
    assert row["token_lower_bound"] == pytest.approx(token_bound)
    assert not count.premise_holds  # no dataset measured: the premise is not established


def test_planted_construction_with_too_few_rows_is_caught_by_the_rows_check() -> None:
    failing = [o.label for o in memorization_observations(_count(_fake(3))) if not o.holds]
    assert "rows - formula" in failing
    lying = replace(_fake(3), prompt_rows=8)  # declares the formula's rows, has 3
    assert not memorization_observations(_count(lying))[0].holds


def test_planted_insensitive_model_is_flagged_by_the_covering_comparison() -> None:
    # a tiny-weight model is nearly constant in the prompt: the covering count forbids it from
    # separating the packing family of eps = 1/64 with one row, and the comparison says so
    count = planted_insensitive_count()
    assert count.capacity_ratio < 1 and count.token_lower_bound > count.prompt_rows
    failing = [o.label for o in capacity_observations(count) if not o.holds]
    assert failing == ["packing bits / covering bits"]


def test_planted_low_precision_construction_is_flagged_by_the_bits_comparison() -> None:
    count = planted_low_precision_count()
    assert count.precision_bits == 4 < count.precision_bits_lower
    failing = [o.label for o in capacity_observations(count) if not o.holds]
    assert failing == ["bits lower / used"]
    # and, as Theorem 1 predicts, it does not memorize: the counted check fails too
    assert count.premise_holds and count.memorization_error > count.eps


def test_real_constructions_pass_the_remarks_by_a_structural_margin() -> None:
    # D Lp >= 2 L K^{dL} > M and b >= T log2 Q + 6 > b_min: why these are remarks, not checks
    for case in (ConstructionCase(1, 1, 0.125, 1.0), ConstructionCase(1, 2, 0.25, 1.0)):
        count = construction_count(case)
        assert count.width * count.prompt_rows > count.packing_log2
        assert count.capacity_ratio > 100 and count.bits_ratio > 4


def test_probe_false_skips_forward_passes() -> None:
    count = _count(_fake(8), dataset=(np.zeros((1, 2, 1)), np.zeros((1, 2, 1))), probe=False)
    assert np.isnan(count.log2_lipschitz_empirical) and np.isnan(count.memorization_error)
    assert np.isnan(count.capacity_ratio_lambda_empirical)
    labels = [o.label for o in memorization_observations(count)]
    assert labels == ["rows - formula"]


def test_real_construction_memorizes_and_corrupted_ones_are_caught() -> None:
    case = ConstructionCase(1, 2, 0.25, 1.0)
    count = construction_count(case)
    assert count.rows_match_formula and count.prompt_rows == 8 and count.premise_holds
    assert all(o.holds for o in memorization_observations(count))
    assert count.memorization_error <= 0.25
    assert count.log2_lipschitz_empirical <= count.log2_lipschitz_bound
    broken = memorization_observations(construction_count(case, drop_row=0))
    assert {o.label for o in broken if not o.holds} == {"rows - formula", "memorization error"}
    wrong = memorization_observations(construction_count(case, wrong_target=True))
    assert {o.label for o in wrong if not o.holds} == {"memorization error"}


def test_issue_reproducer_is_not_a_counted_case() -> None:
    # packing centres (j + 1/2)/m sit on cell boundaries of the construction's grid: in the band,
    # where its error is 5.5 eps; the premise fails and the error is not counted
    unit = construction_count(ConstructionCase(1, 1, 0.125, 1.0, centres="unit"))
    assert unit.in_band == unit.dataset_size == 2 and not unit.premise_holds
    assert unit.memorization_error > unit.eps
    assert [o.label for o in memorization_observations(unit)] == ["rows - formula"]
    cells = construction_count(ConstructionCase(1, 1, 0.125, 1.0))  # cell-centre packing
    assert cells.premise_holds and cells.memorization_error <= cells.eps
    assert cells.packing_log2 == unit.packing_log2 == 2  # same M: m = 2 centres either way


def test_cell_centre_packing_is_a_valid_packing_off_the_band() -> None:
    from reference.constructions.universality import grid_sizes

    for eps, c in ((0.125, 1.0), (1 / 12, 1.0), (0.25, 2.0), (0.0625, 1.0)):
        k = grid_sizes(eps, c)[0]
        centres = np.array(cell_centre_packing(eps, c, k))
        assert np.all(np.diff(centres) >= 2 * float(cap.bump_height_fn(eps)) / c)
        assert np.allclose((centres * k) % 1, 0.5)  # cell centres: off every boundary
        assert centres.size == int(cap.packing_centres_per_axis_fn(eps, c))
    target = PackingTarget(1, 1, 0.125, 1.0, (0.0625, 0.5625), seed=0)
    xs = target.centre_sequences()
    assert np.allclose(np.abs(target(xs) - 0.5), 0.25)  # bump height 2 eps at every centre
    with pytest.raises(ValueError, match="centres"):
        packing_member(xs, target.signs(), eps=0.125, lipschitz=1.0, centres=np.array([0.1, 0.2]))


def test_claim_runs_in_smoke_mode(tmp_path) -> None:
    from verify.claims import load_all
    from verify.claims.base import CHECK_KINDS, ClaimContext

    claim = load_all()["capacity"]
    assert claim.order == 40
    result = claim.run(ClaimContext(figure_dir=tmp_path, mode="smoke"))
    assert result.passed, [c.counterexample for c in result.checks if not c.passed]
    assert {f.filename for f in result.figures} == {
        "capacity_counts_vs_bounds.png",
        "capacity_gradient_curve.png",
    }
    assert all((tmp_path / f.filename).stat().st_size > 0 for f in result.figures)
    assert {"construction_vs_bounds", "capacity_curve", "wang_floor"} <= set(result.tables)
    kinds = {c.name: c.kind for c in result.checks}
    assert set(kinds.values()) <= set(CHECK_KINDS)
    assert kinds["packing family"] == "attainment"
    evidence = [c for c in result.checks if c.kind in ("bound", "exact")]
    planted = [c for c in result.checks if c.kind == "planted"]
    assert len(planted) >= len(evidence) and all(c.passed for c in planted)
    assert not any("lower bound" in c.name for c in evidence)  # remarks are not checks
    assert result.tables["capacity_curve"][0]["median_Lp"] == 1
    assert any("exploratory, no verdict" in note for note in result.notes)


def test_memorizer_meets_its_two_level_dataset_and_a_corrupted_one_does_not() -> None:
    case = MemorizerCase(8, 2, 1, 0.125, 0.25)
    xs, ys = case.dataset()
    assert xs.shape == ys.shape == (8, 1, 2)
    assert len({tuple(x.ravel()) for x in xs}) == 8  # distinct sequences
    assert np.allclose(np.abs(ys - 0.5), 0.25)  # two levels 1/2 ± 2 eps: the premise's labelings
    count = memorizer_count(case)
    assert count.n_sequences == 8 and count.rows_match_formula and count.premise_holds
    assert count.packing_log2 == 8 * 1 * 2
    assert count.capacity_ratio == pytest.approx(
        count.prompt_rows
        / cap.dataset_token_lower_bound_log2_lambda_fn(
            8, 0.125, 2, 1, count.width, count.log2_lipschitz_bound, count.prompt_radius
        )
    )
    assert all(o.holds for o in memorization_observations(count))
    broken = memorization_observations(memorizer_count(case, drop_row=0))
    assert "rows - formula" in {o.label for o in broken if not o.holds}
    with pytest.raises(ValueError, match="n_sequences"):
        MemorizerCase(99, 1, 1, 0.25, 0.25).dataset()
