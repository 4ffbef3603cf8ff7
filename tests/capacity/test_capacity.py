"""Capacity: the construction-versus-bounds comparison (with fake constructions as planted
violations) and the claim in smoke mode (the bounds: test_capacity_bounds.py; gradient capacity
and the Wang floor: test_gradient_capacity.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from reference import Transformer
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
from verify.claims.capacity.packing import packing_member
from verify.claims.capacity.strategies import (
    ConstructionCase,
    MemorizerCase,
    PackingTarget,
    cell_centre_packing,
)
from verify.claims.universality.strategies import FLOAT64_SIGNIFICAND_BITS


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
