"""Unit tests of reference.efficiency.certificate: the sharp output-error constant (two-point
worst case), the value range, and the gradual-underflow term (with their planted violations)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from reference import attention
from reference.efficiency.certificate import certified_output_bound, value_range
from reference.efficiency.polyfit import FastAttentionRefused
from reference.efficiency.polynomial import fast_attention

EPSILONS = (1e-6, 1e-3, 0.1, 0.5, 0.9)


def _two_point_error(eps: float, spread: float, p: np.ndarray) -> np.ndarray:
    """Error of the weighted mean when mass ``p`` sits at ``V = spread`` with weight error
    ``+ε`` and ``1 − p`` at ``V = 0`` with ``−ε`` (the worst case of item 4)."""
    up, down = p * (1 + eps), (1 - p) * (1 - eps)
    return up * spread / (up + down) - p * spread


def _worst_two_point(eps: float, spread: float = 3.0) -> float:
    p = np.linspace(0.0, 1.0, 200001)
    return float(_two_point_error(eps, spread, p).max())


@pytest.mark.parametrize("eps", EPSILONS)
def test_sharp_constant_is_reached_by_two_points(eps: float) -> None:
    """The bound ``W ε/(1 + √(1 − ε²))`` equals the two-point maximum (sharp) to 1e-9."""
    bound = float(certified_output_bound(eps, 3.0))
    worst = _worst_two_point(eps)
    assert worst <= bound * (1 + 1e-12)
    assert worst >= bound * (1 - 1e-9)
    assert bound < eps / (1 - eps) * 3.0 / 2  # below the simpler ε/(1−ε)·W/2


@pytest.mark.parametrize("eps", EPSILONS)
def test_random_weighted_means_stay_within_the_sharp_bound(eps: float) -> None:
    rng = np.random.default_rng(int(eps * 1e6))
    bound = float(certified_output_bound(eps, 1.0))
    for _ in range(200):
        size = int(rng.integers(2, 9))
        s = rng.dirichlet(np.ones(size))  # exact softmax weights
        rho = rng.choice([-eps, eps], size) * rng.random(size) ** 0.1  # relative errors
        v = rng.choice([0.0, 1.0], size) * rng.random(size) ** 0.1  # values in [0, 1]
        perturbed = s * (1 + rho)
        assert abs(perturbed @ v / perturbed.sum() - s @ v) <= bound * (1 + 1e-12)


def test_planted_first_order_constant_is_exceeded() -> None:
    """The first-order ``ε W/2`` (below the sharp constant) is exceeded by the two-point case."""
    for eps in (0.1, 0.5):
        assert _worst_two_point(eps) > eps * 3.0 / 2 * (1 + 1e-6)


def test_value_range_matches_the_centred_values() -> None:
    rng = np.random.default_rng(0)
    v = rng.standard_normal((50, 3)) * [1.0, 1e-3, 1e12] + [0.0, 5.0, 1e14]
    center, spread, half = value_range(v)
    np.testing.assert_array_equal(center, v.max(axis=0) / 2 + v.min(axis=0) / 2)
    np.testing.assert_array_equal(half, np.abs(v - center).max(axis=0) * (1 + 2 * 2.0**-53))
    assert np.all(spread >= v.max(axis=0) - v.min(axis=0))
    with pytest.raises(FastAttentionRefused, match="v: the values of column 1"):
        value_range(np.array([[0.0, 1.7e308], [0.0, -1.7e308]]))


def _tiny_value_case():
    """Values 0 and the smallest subnormal: the exact output lies strictly between."""
    rng = np.random.default_rng(5)
    q, k = rng.random((6, 2)), rng.random((5, 2))
    v = np.array([[0.0], [2.0**-1074], [0.0], [2.0**-1074], [2.0**-1074]])
    return q, k, v


def _tiny_value_errors(res, q, k, v) -> list:
    with mpmath.workdps(60):
        to_mp = np.vectorize(mpmath.mpf, otypes=[object])
        exact = attention(to_mp(q), to_mp(k), to_mp(v), scale=1.0)  # (n, 1) mpmath
        pairs = zip(exact[:, 0], res.output[:, 0], strict=True)
        return [abs(mpmath.mpf(float(b)) - a) for a, b in pairs]


def test_subnormal_outputs_are_covered_by_the_underflow_term() -> None:
    q, k, v = _tiny_value_case()
    res = fast_attention(q, k, v, scale=1.0, eps=1e-3, allow_slower=True)
    errors = _tiny_value_errors(res, q, k, v)
    assert max(errors) > 0  # the output cannot be exact: it is rounded to the subnormal grid
    assert all(e <= res.column_bounds[0] for e in errors)


def test_planted_missing_underflow_term_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the underflow term the certified bound of the same case is violated."""
    from reference.efficiency import polynomial

    monkeypatch.setattr(polynomial, "underflow_bound", lambda **kw: np.zeros(1))
    q, k, v = _tiny_value_case()
    res = fast_attention(q, k, v, scale=1.0, eps=1e-3, allow_slower=True)
    assert any(e > res.column_bounds[0] for e in _tiny_value_errors(res, q, k, v))
