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
    res = fast_attention(q * 1e-200, k * 1e200, v, scale=1.0, eps=1e-3, allow_slower=True)
    exact = attention(q, k, v, scale=1.0)
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
    assert "underflow" in b.not_covered
