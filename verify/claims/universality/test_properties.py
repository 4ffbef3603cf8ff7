"""Hypothesis properties of the universality and memorization constructions (theory.md §3).

Every property runs through :func:`verify.claims.properties.run_property` (``target()`` on
error/bound) and has a planted violation that it must catch.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import strategies as st

from reference import construct_universal
from verify.claims.properties import Observation, profile_examples, run_property
from verify.claims.universality import bounds as ub
from verify.claims.universality.checks import (
    band_mask,
    check_error_tracks_bound,
    check_memorized,
    check_slope,
    check_slope_fit,
    check_tight,
    check_whole_cube,
    check_with_corrupted_row,
    complement_first_row,
    complement_row,
    construct_with_wider_band,
    drop_last_row,
    error_vs_K,
    fit_log_slope,
    grid_deviation,
)
from verify.claims.universality.scale.transition import (
    PrecisionPoint,
    check_fails_beyond_significand,
    check_precision_point,
    precision_point,
)
from verify.claims.universality.strategies import (
    FLOAT64_SIGNIFICAND_BITS,
    MemorizationCase,
    grid_dataset,
    memorization_cases,
    tight_cases,
    universal_cases,
)
from verify.claims.universality.targets import make_sawtooth, with_constant


# ----------------------------------------------------------------------------- error vs bound
def test_error_tracks_the_lipschitz_bound() -> None:
    out = run_property(
        "error <= C/(2K) + 1/(2Q)",
        universal_cases(),
        check_error_tracks_bound,
        max_examples=profile_examples(50),
    )
    assert out.passed, out.counterexample
    assert 0 < out.worst_ratio <= 1


def test_planted_wrong_lipschitz_constant_is_caught() -> None:
    understated = universal_cases(kinds=("sawtooth",)).map(
        lambda c: replace(c, target=with_constant(c.target, c.target.lipschitz / 16))
    )
    out = run_property("understated constant", understated, check_error_tracks_bound)
    assert not out.passed and out.worst_ratio > 1


def test_planted_corrupted_prompt_row_is_caught() -> None:
    out = run_property("corrupted row", universal_cases(), check_with_corrupted_row, shrink=False)
    assert not out.passed and "sup error" in (out.counterexample or "")


def test_worst_ratio_approaches_one_on_tight_targets() -> None:
    out = run_property(
        "tight sawtooth", tight_cases(), check_tight, max_examples=profile_examples(40)
    )
    assert out.passed, out.counterexample
    assert out.worst_ratio > 1 - 1e-6


# ----------------------------------------------------------------------------- whole cube
def test_whole_cube_corollary_holds_band_included() -> None:
    cases = universal_cases(batch=1024, inputs="uniform")
    out = run_property("whole cube", cases, check_whole_cube, max_examples=profile_examples(20))
    assert out.passed, out.counterexample
    assert 0 < out.worst_ratio <= 1


def test_planted_wider_band_is_caught_on_the_whole_cube() -> None:
    out = run_property(
        "wider band",
        universal_cases(batch=1024, inputs="uniform"),
        lambda case: check_whole_cube(case, construct_with_wider_band),
        max_examples=profile_examples(40),
        shrink=False,
    )
    assert not out.passed and "off-band error" in (out.counterexample or "")


def test_in_band_errors_are_real_and_the_band_classifier_matches_the_reference() -> None:
    f = make_sawtooth(1, 2, np.random.default_rng(0), 0.5)
    c = construct_universal(f, d=1, L=2, lipschitz=0.5, eps=1 / 8)
    xs = np.random.default_rng(1).random((4096, 2, 1))  # (B, L, d)
    in_band = band_mask(xs, c.K, c.band)
    assert np.array_equal(in_band, ~c.off_band(xs))
    err = np.abs(c.forward(xs, on_band="ignore") - np.stack([f(x) for x in xs])).max(axis=(1, 2))
    assert err[in_band].max() > ub.error_bound_fn(0.5, c.K, c.Q)  # the band is needed
    assert err[in_band].max() <= ub.band_error_bound_fn(c.Q)


def test_planted_tight_target_with_halved_constant_is_caught() -> None:
    out = run_property(
        "tight sawtooth, constant/2",
        tight_cases(),
        lambda case: check_tight(case, claimed=case.slope / 2),
        max_examples=profile_examples(40),
    )
    assert not out.passed


# ----------------------------------------------------------------------------- 1/K decay
def test_error_falls_like_one_over_K() -> None:
    fits = [
        error_vs_K(1, 1, [2, 4, 8, 16, 32], seed=0),
        error_vs_K(1, 2, [2, 4, 8], seed=0),
        error_vs_K(2, 1, [2, 4, 8], seed=0),
    ]
    out = run_property("slope", st.sampled_from(fits), check_slope_fit)
    assert out.passed, [f.slope for f in fits]
    assert all(check_slope_fit(fit)[0].holds for fit in fits)  # every fit, not only those drawn
    for fit in fits:
        assert all(e <= b for e, b in zip(fit.errors, fit.bounds, strict=True))


def test_planted_non_refining_model_is_caught() -> None:
    fit = error_vs_K(1, 1, [2, 4], seed=0)
    flat = fit_log_slope([2, 4, 8, 16], [fit.errors[0]] * 4)  # a model that never refines
    out = run_property("flat", st.just(flat), check_slope, max_examples=1)
    assert not out.passed


# ----------------------------------------------------------------------------- memorization
def test_memorization_meets_eps_and_the_resource_formulas() -> None:
    out = run_property(
        "memorization", memorization_cases(), check_memorized, max_examples=profile_examples(50)
    )
    assert out.passed, out.counterexample


def test_planted_corrupted_memorization_row_is_caught() -> None:
    rng = np.random.default_rng(0)
    cases = [MemorizationCase(*grid_dataset(rng, 3, 2, 1, 4), 0.25, 0.125, i) for i in range(4)]
    out = run_property(
        "corrupted memorization",
        st.sampled_from(cases),
        lambda case: check_memorized(case, complement_first_row),
    )
    assert not out.passed and "memorization error" in (out.counterexample or "")


def test_planted_missing_memorization_row_is_caught() -> None:
    out = run_property(
        "missing row",
        memorization_cases(),
        lambda case: check_memorized(case, drop_last_row),
        max_examples=profile_examples(10),
        shrink=False,
    )
    assert not out.passed and "prompt rows" in (out.counterexample or "")


def test_planted_corrupted_row_breaks_grid_exactness() -> None:
    f = make_sawtooth(1, 2, np.random.default_rng(0), 1.0)
    c = construct_universal(f, d=1, L=2, lipschitz=1.0, eps=1 / 4)
    assert (grid_deviation(c, f) == 0).all()
    broken = replace(c, prompt=complement_row(c, 1))
    assert (grid_deviation(broken, f) > 0).any()


# ----------------------------------------------------------------------------- precision
#: (d, L, K, Q): table bits T log2 Q = 40 (promised exact), 48 (beyond the promise), 56, 64.
FLOAT64_POINTS = [(1, 2, 8, 32), (1, 2, 16, 8), (1, 2, 8, 128), (1, 2, 16, 16), (1, 2, 32, 4)]


def test_precision_phase_transition_in_float64() -> None:
    points = [precision_point(*p) for p in FLOAT64_POINTS]

    def check(point: PrecisionPoint) -> list[Observation]:
        return [check_precision_point(point), check_fails_beyond_significand(point)]

    out = run_property(
        "float64 precision", st.sampled_from(points), check, max_examples=profile_examples(10)
    )
    assert out.passed, out.counterexample
    exact_bits = [p.table_bits for p in points if p.exact]
    wrong_bits = [p.table_bits for p in points if not p.exact]
    assert max(exact_bits) < min(wrong_bits)
    assert all(p.table_bits + 1 > FLOAT64_SIGNIFICAND_BITS for p in points if not p.exact)
    assert all(
        p.precision_needed == ub.precision_needed_fn(p.d, p.L, p.K, p.Q, _band(p.d, p.L, p.K, p.Q))
        for p in points
    )


def _band(d: int, L: int, K: int, Q: int) -> float:
    """The default band of the precision points (built at ``ε = 1/Q``)."""
    return float(ub.band_eta_fn(1.0 / Q, d, L, K))


def test_mpmath_succeeds_where_float64_fails() -> None:
    point = precision_point(1, 2, 16, 16, backend="mpmath", limit=2)
    needed = ub.precision_needed_fn(1, 2, 16, 16, _band(1, 2, 16, 16))
    assert point.precision_bits >= point.precision_needed == needed
    assert point.precision_needed > FLOAT64_SIGNIFICAND_BITS  # where float64 cannot go
    out = run_property("mpmath", st.just(point), check_precision_point, max_examples=1)
    assert out.passed and point.exact


def test_planted_overstated_precision_is_caught() -> None:
    point = precision_point(1, 2, 16, 16)  # float64, 64 table bits: wrong
    liar = replace(point, precision_bits=80)  # claims enough bits
    out = run_property("overstated precision", st.just(liar), check_precision_point, max_examples=1)
    assert not out.passed and point.wrong > 0
    silent = replace(point, wrong=0)  # claims an overflow went unnoticed
    out = run_property("hidden overflow", st.just(silent), check_fails_beyond_significand)
    assert not out.passed


def test_lambdified_error_bound_is_c_over_2k_plus_1_over_2q() -> None:
    C, K, Q = 1.0, 4, 8
    assert np.isclose(ub.error_bound_fn(C, K, Q), C / (2 * K) + 1 / (2 * Q))
