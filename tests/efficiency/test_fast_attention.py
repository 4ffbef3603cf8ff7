"""Unit tests of reference.efficiency.polynomial: certified output, refusals, fallback, bad
input."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from reference import attention
from reference.efficiency.features import FeatureMap
from reference.efficiency.planning import guaranteed_radius
from reference.efficiency.polyfit import FastAttentionRefused
from reference.efficiency.polynomial import apply_summary, fast_attention, key_summary
from reference.model.attention import resolve_scale


def _inputs(n: int = 40, m: int = 30, d: int = 3, dv: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)), rng.random((m, d)), rng.standard_normal((m, dv))


def test_output_within_certified_bound_of_mpmath_attention() -> None:
    q, k, v = _inputs(8, 7)
    res = fast_attention(q, k, v, scale=1.0, eps=1e-4, allow_slower=True)
    with mpmath.workdps(50):
        to_mp = np.vectorize(mpmath.mpf, otypes=[object])
        exact = attention(to_mp(q), to_mp(k), to_mp(v), scale=1.0)
    error = max(abs(float(a - b)) for a, b in zip(exact.ravel(), res.output.ravel(), strict=True))
    assert res.method == "polynomial"
    assert 0 < error <= res.certified_bound
    assert res.certified_relative_error <= 1e-4
    assert res.radius >= guaranteed_radius(q, k, 1.0)


def test_result_reports_degree_rank_and_speedup() -> None:
    q, k, v = _inputs()
    res = fast_attention(q, k, v, scale="alman-song", eps=1e-3, allow_slower=True)
    assert res.rank == {0: 1, 1: 4, 2: 10, 3: 20, 4: 35}[res.degree]
    assert res.predicted_speedup > 0
    assert res.fit_method == "minimax"


def test_declared_radius_is_used_and_larger_norms_are_refused() -> None:
    q, k, v = _inputs()
    needed = guaranteed_radius(q, k, 1.0)
    res = fast_attention(q, k, v, scale=1.0, eps=1e-3, R=2 * needed, allow_slower=True)
    assert res.radius == 2 * needed
    with pytest.raises(ValueError, match="refusing to extrapolate"):
        fast_attention(q, k, v, scale=1.0, eps=1e-3, R=0.5 * needed, allow_slower=True)


def test_rank_budget_refuses_or_falls_back() -> None:
    q, k, v = _inputs()
    with pytest.raises(FastAttentionRefused, match="max_rank"):
        fast_attention(q, k, v, scale=1.0, eps=1e-3, max_rank=5, allow_slower=True)
    res = fast_attention(q, k, v, scale=1.0, eps=1e-3, max_rank=5, fallback="auto")
    assert res.method == "exact" and "max_rank" in res.reason
    np.testing.assert_allclose(res.output, attention(q, k, v, scale=1.0))
    assert res.certified_bound == 0.0


def test_cost_model_refuses_small_problems_unless_allowed() -> None:
    q, k, v = _inputs(4, 4)
    with pytest.raises(FastAttentionRefused, match="cheaper"):
        fast_attention(q, k, v, scale=1.0, eps=1e-3)
    assert fast_attention(q, k, v, scale=1.0, eps=1e-3, fallback="auto").method == "exact"


def test_nonpositive_denominator_is_reported() -> None:
    fm = FeatureMap.build(np.array([-1.0]), dim=1, scale=1.0)  # p = -1: every weight negative
    summary = key_summary(fm, np.ones((3, 1)), np.ones((3, 1)))
    with pytest.raises(FloatingPointError, match="denominator"):
        apply_summary(fm, np.ones((2, 1)), summary)


def test_float32_inputs_are_accepted() -> None:
    q, k, v = (a.astype(np.float32) for a in _inputs())
    res = fast_attention(q, k, v, scale=1.0, eps=1e-3, allow_slower=True)
    exact = attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64), scale=1.0)
    assert np.abs(res.output - exact).max() <= res.certified_bound


@pytest.mark.parametrize(
    ("name", "s", "expected"), [("paper", 4, 1.0), ("alman-song", 4, 0.25), ("practice", 4, 0.5)]
)
def test_scale_conventions(name: str, s: int, expected: float) -> None:
    assert resolve_scale(name, s) == expected


def test_bad_input() -> None:
    q, k, v = _inputs()
    kw = {"scale": 1.0, "eps": 1e-3, "allow_slower": True}
    with pytest.raises(ValueError, match="finite"):
        fast_attention(np.where(q > 0.5, np.inf, q), k, v, **kw)
    with pytest.raises(ValueError, match="key width"):
        fast_attention(q[:, :2], k, v, **kw)
    with pytest.raises(ValueError, match="value rows"):
        fast_attention(q, k, v[:-1], **kw)
    with pytest.raises(ValueError, match="q: expected an array of rank >= 2"):
        fast_attention(q[0], k, v, **kw)
    with pytest.raises(ValueError, match="at least one key"):
        fast_attention(q, k[:0], v[:0], **kw)
    with pytest.raises(TypeError, match="dtype"):
        fast_attention(q.astype(np.int64), k, v, **kw)
    for eps in (0.0, 1.0, -1e-3):
        with pytest.raises(ValueError, match="eps"):
            fast_attention(q, k, v, scale=1.0, eps=eps)
    with pytest.raises(ValueError, match="scale"):
        fast_attention(q, k, v, scale="vaswani", eps=1e-3)
    with pytest.raises(ValueError, match="scale"):
        fast_attention(q, k, v, scale=-1.0, eps=1e-3)
    with pytest.raises(ValueError, match="fallback"):
        fast_attention(q, k, v, scale=1.0, eps=1e-3, fallback="exact-ish")
    with pytest.raises(ValueError, match="fit_method"):
        fast_attention(q, k, v, scale=1.0, eps=1e-3, fit_method="pade")
    with pytest.raises(ValueError, match="R"):
        fast_attention(q, k, v, scale=1.0, eps=1e-3, R=float("nan"))


def test_issue_reproducer_falls_back_on_a_fit_refusal() -> None:
    """One huge query row: the fit cannot be certified; auto falls back, refuse refuses."""
    r = np.random.default_rng(0)
    q = r.standard_normal((64, 4)) * 0.3
    q[0] *= 100
    k, v = r.standard_normal((64, 4)) * 0.3, r.standard_normal((64, 3))
    res = fast_attention(q, k, v, scale=1.0, eps=1e-3, fallback="auto")
    assert res.method == "exact" and "largest radius" in res.reason
    np.testing.assert_allclose(res.output, attention(q, k, v, scale=1.0))
    with pytest.raises(FastAttentionRefused, match="largest radius"):
        fast_attention(q, k, v, scale=1.0, eps=1e-3)


def test_large_radii_and_entries_refuse_cleanly(capfd: pytest.CaptureFixture[str]) -> None:
    from reference.efficiency.planning import round_up_radius
    from reference.efficiency.polyfit import fit_exp

    with pytest.raises(FastAttentionRefused, match="largest radius the fit can certify"):
        fit_exp(710.0, 0.5)
    q, k, v = _inputs()
    with pytest.raises(FastAttentionRefused, match="largest radius"):
        fast_attention(q, k, v, scale=1.0, eps=1e-3, R=710.0, allow_slower=True)
    with pytest.raises(FastAttentionRefused, match="largest radius"):
        fast_attention(q * 1e300, k * 1e300, v, scale=1.0, eps=1e-3)
    assert round_up_radius(1e300) >= 1e300 and round_up_radius(1.797e308) == 1.797e308
    assert capfd.readouterr().err == ""  # nothing from LAPACK on stderr


def test_unbalanced_queries_and_keys_do_not_overflow() -> None:
    """q tiny and k huge: the power-of-two balancing keeps the features finite."""
    q, k, v = _inputs()
    exact = attention(q, k, v, scale=1.0)
    for tiny in (1e-200, 1e-305):  # 2^±1013 is beyond one scale factor: the rows are rescaled
        res = fast_attention(q * tiny, k / tiny, v, scale=1.0, eps=1e-3, allow_slower=True)
        assert res.method == "polynomial"
        assert np.all(np.abs(res.output - exact).max(axis=0) <= res.column_bounds)


def test_zero_width_inputs_are_exact() -> None:
    v = np.arange(8.0).reshape(4, 2)
    res = fast_attention(np.ones((3, 0)), np.ones((4, 0)), v, scale="alman-song", eps=1e-3)
    assert res.method == "exact" and "d = 0" in res.reason
    np.testing.assert_allclose(res.output, np.tile(v.mean(axis=0), (3, 1)))


def test_batch_and_head_dimensions() -> None:
    """(b, h, n, d) inputs: each (b, h) entry equals the 2-D call, with its column bounds."""
    rng = np.random.default_rng(1)
    q, k, v = rng.random((2, 3, 16, 2)), rng.random((2, 3, 20, 2)), rng.random((2, 3, 20, 4))
    res = fast_attention(q, k, v, scale=0.5, eps=1e-3, allow_slower=True)
    assert res.output.shape == (2, 3, 16, 4) and res.column_bounds.shape == (2, 3, 4)
    for b in range(2):
        for h in range(3):
            exact = attention(q[b, h], k[b, h], v[b, h], scale=0.5)
            err = np.abs(res.output[b, h] - exact).max(axis=0)  # (4,)
            assert np.all(err <= res.column_bounds[b, h])
    with pytest.raises(ValueError, match="leading"):
        fast_attention(q, k[:1], v[:1], scale=0.5, eps=1e-3)


def test_bound_is_per_column_and_shift_invariant() -> None:
    """Adding 1000 to V changes neither the approximation bound nor (beyond u·|c|) the error."""
    q, k, v = _inputs(d=2)
    a = fast_attention(q, k, v, scale=1.0, eps=1e-3, allow_slower=True)
    b = fast_attention(q, k, v + 1000.0, scale=1.0, eps=1e-3, allow_slower=True)
    assert a.approximation_bound == pytest.approx(b.approximation_bound, rel=1e-12)
    assert b.rounding_bound < 1e-9 < a.approximation_bound
    exact = attention(q, k, v + 1000.0, scale=1.0)
    assert np.all(np.abs(b.output - exact).max(axis=0) <= b.column_bounds)
    assert "bound's own" in b.not_covered and "underflow" not in b.not_covered


def _dense_reference(q, k, v, fit, scale):  # unblocked: every feature of every row at once
    fm = FeatureMap.build(fit.coeffs, dim=q.shape[1], scale=scale)
    center = v.max(axis=0) / 2 + v.min(axis=0) / 2
    summary = fm.psi(k) @ np.hstack([v - center, np.ones((k.shape[0], 1))])  # (r, dv+1)
    num = fm.phi(q).T @ summary  # (n, dv+1)
    return num[:, :-1] / num[:, -1:] + center


def _blocked_deviation(rows: int, n: int = 45, m: int = 38) -> float:
    """Max relative deviation of the blocked path (blocks of ``rows``) from the dense one."""
    from reference.efficiency.polyfit import fit_exp
    from reference.efficiency.polynomial import _attend

    q, k, v = _inputs(n, m, d=3, dv=2, seed=3)
    fit = fit_exp(1.0, 1e-4)
    fm = FeatureMap.build(fit.coeffs, dim=3, scale=0.7)
    blocked = _attend(fm, q, k, v, fit, rows=rows)[0]
    dense = _dense_reference(q, k, v, fit, 0.7)
    return float(np.max(np.abs(blocked - dense) / np.abs(dense).max(axis=0)))


@pytest.mark.parametrize("rows", [1, 7, 32, 38, 45, 1000])
def test_blocked_equals_unblocked_to_rounding(rows: int) -> None:
    """Blocks of 1, 7, 32 (n = 45, m = 38 not multiples), exactly m or n, and larger than both."""
    assert _blocked_deviation(rows) < 1e-13


def test_planted_dropped_last_block_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A summary that skips the last, partial key block breaks the blocked = unblocked check."""
    from reference.efficiency import features

    real = features._blocked_summary

    def drops_last_block(blocks, k, v, center, factor):
        whole = (k.shape[0] // blocks.rows) * blocks.rows
        return real(blocks, k[:whole], v[:whole], center, factor)

    monkeypatch.setattr(features, "_blocked_summary", drops_last_block)
    assert _blocked_deviation(7) > 1e-6


def _batch_matches_entries(q, k, v) -> bool:
    """The batched call equals, entry by entry (bit for bit, bounds included), the 2-D call of
    that entry with the batch's radius declared (one fit for the largest radius)."""
    kw = {"scale": 0.5, "eps": 1e-3, "allow_slower": True}
    radius = max(fast_attention(a, b, c, **kw).radius for a, b, c in zip(q, k, v, strict=True))
    entries = [fast_attention(a, b, c, R=radius, **kw) for a, b, c in zip(q, k, v, strict=True)]
    return _same_as_entries(fast_attention(q, k, v, **kw), entries, radius)


def _same_as_entries(batch, entries, radius) -> bool:
    same = batch.radius == radius
    for i, one in enumerate(entries):
        same &= np.array_equal(batch.output[i], one.output)
        same &= np.array_equal(batch.column_bounds[i], one.column_bounds)
    return bool(same)


def _batch_of_different_radii():
    rng = np.random.default_rng(4)
    q, k, v = rng.random((3, 20, 2)), rng.random((3, 24, 2)), rng.standard_normal((3, 24, 3))
    q[1] *= 3.0  # entry 1 needs the largest radius
    return q, k, v


def test_batched_calls_equal_unbatched_ones_entry_by_entry() -> None:
    assert _batch_matches_entries(*_batch_of_different_radii())


def test_planted_radius_of_entry_zero_only_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch whose fit uses the radius of entry 0 only fails the entry-by-entry check."""
    from reference.efficiency import polynomial

    q, k, v = _batch_of_different_radii()
    kw = {"scale": 0.5, "eps": 1e-3, "allow_slower": True}
    radius = max(fast_attention(a, b, c, **kw).radius for a, b, c in zip(q, k, v, strict=True))
    entries = [fast_attention(a, b, c, R=radius, **kw) for a, b, c in zip(q, k, v, strict=True)]
    real, calls = polynomial.max_row_norm, []

    def entry_zero_norms(a: np.ndarray) -> float:  # q0, k0, then the same two for every entry
        calls.append(real(a) if len(calls) < 2 else calls[len(calls) % 2])
        return calls[-1]

    monkeypatch.setattr(polynomial, "max_row_norm", entry_zero_norms)
    assert not _same_as_entries(fast_attention(q, k, v, **kw), entries, radius)


def test_subnormal_values_are_certified_with_the_underflow_term() -> None:
    """Issue 16: values ~1e-320 get a positive bound that holds (mpmath reference)."""
    q, k, v = _inputs(6, 5)
    v = v * 1e-320  # subnormal
    res = fast_attention(q, k, v, scale=1.0, eps=1e-3, allow_slower=True)
    with mpmath.workdps(60):
        to_mp = np.vectorize(mpmath.mpf, otypes=[object])
        exact = attention(to_mp(q), to_mp(k), to_mp(v), scale=1.0)
        err = np.array(
            [
                [abs(mpmath.mpf(float(b)) - a) for a, b in zip(er, fr, strict=True)]
                for er, fr in zip(exact, res.output, strict=True)
            ]
        ).max(axis=0)  # (dv,) mpmath numbers
    assert np.all(res.column_bounds > 0)
    assert all(e <= b for e, b in zip(err, res.column_bounds, strict=True))


def test_huge_values_fall_back_instead_of_raising() -> None:
    """Issue 17: ±1.7e308 values: refused naming v, exact with fallback="auto"."""
    q, k, _ = _inputs()
    v = np.where(np.random.default_rng(0).random((30, 2)) > 0.5, 1.7e308, -1.7e308)
    with pytest.raises(FastAttentionRefused, match="v: the values of column 0"):
        fast_attention(q, k, v, scale=1.0, eps=1e-3, allow_slower=True)
    res = fast_attention(q, k, v, scale=1.0, eps=1e-3, allow_slower=True, fallback="auto")
    assert res.method == "exact" and res.reason.startswith("v:")


def test_overflowing_features_are_refused_before_computing() -> None:
    """Keys of norm 0 leave nothing to balance: degree-4 features of |q| ~ 1e100 overflow."""
    from reference.efficiency.polyfit import fit_exp
    from reference.efficiency.polynomial import attend_with_fit

    q, k, v = _inputs()
    fit = fit_exp(1.0, 1e-4)
    assert fit.degree >= 4
    with pytest.raises(FastAttentionRefused, match="q: the degree-"):
        attend_with_fit(q * 1e100, k * 0.0, v, fit, 1.0)
    with pytest.raises(FastAttentionRefused, match="k: the degree-"):
        attend_with_fit(q * 0.0, k * 1e100, v, fit, 1.0)


def test_invalid_declared_radius_is_refused_on_every_path() -> None:
    q, k, v = _inputs()
    for bad in (-1.0, 0.0, float("nan"), "1"):
        with pytest.raises((ValueError, TypeError), match="R"):  # d = 0: computed exactly
            fast_attention(np.ones((3, 0)), np.ones((4, 0)), v[:4], scale=1.0, eps=1e-3, R=bad)
        with pytest.raises((ValueError, TypeError), match="R"):  # beyond the certifiable radius
            fast_attention(q * 100, k * 100, v, scale=1.0, eps=1e-3, R=bad, fallback="auto")


def test_empty_queries_and_value_columns_are_refused_by_name() -> None:
    q, k, v = _inputs()
    with pytest.raises(ValueError, match="q: expected at least one query row"):
        fast_attention(q[:0], k, v, scale=1.0, eps=1e-3, allow_slower=True)
    with pytest.raises(ValueError, match="v: expected at least one value column"):
        fast_attention(q, k, v[:, :0], scale=1.0, eps=1e-3, allow_slower=True)
