"""The exact backend: agreement with the dense mpmath backend, rigour of the softmax enclosure,
and the violations it must catch."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from reference.constructions.exact.backend import exact_forward, exact_model, verify_grid
from reference.constructions.exact.evaluate import _pow2_bound
from reference.constructions.exact.model import ExactModel, exact_from_spec, exact_lookup
from reference.constructions.exact.rationals import LOG2E_LOWER, to_fraction
from reference.constructions.lookup import construct_lookup
from reference.constructions.packing import cell_centers, grid_cells, pack_tables
from reference.constructions.sizes import inverse_temperature
from reference.constructions.spec import lookup_spec


def _table(d: int, L: int, K: int, Q: int, seed: int = 0) -> np.ndarray:
    T = K ** (d * (L - 1))
    return np.random.default_rng(seed).integers(0, Q, size=(L * K**d, T, d))


def test_agrees_with_dense_mpmath_on_grid_and_off_grid_inputs() -> None:
    d, L, K, Q = 1, 2, 4, 4
    digits = _table(d, L, K, Q)
    c = construct_lookup(digits, d=d, L=L, K=K, Q=Q, eta=Fraction(1, 32), backend="mpmath")
    rng = np.random.default_rng(1)
    xs = np.concatenate([cell_centers(grid_cells(d, L, K), d, K), rng.uniform(size=(4, L, d))])
    xs = xs[c.off_band(xs)]  # (B, L, d)
    out = exact_forward(c, xs)
    assert np.array_equal(out.as_float(), c.forward(xs))
    assert not out.undecided.any() and (out.digits >= 0).all()
    assert max(out.radius.ravel()) == 0  # the clamps cancel the off-match perturbation exactly
    # the model without dense weights decodes the same table the same way
    lean = exact_lookup(digits, d=d, L=L, K=K, Q=Q, eta=Fraction(1, 32))
    assert np.array_equal(exact_forward(lean, xs).values, out.values)


def test_every_grid_digit_of_a_random_table_is_proved() -> None:
    d, L, K, Q = 2, 2, 2, 4
    digits = _table(d, L, K, Q, seed=3)
    v = verify_grid(exact_lookup(digits, d=d, L=L, K=K, Q=Q, eta=Fraction(1, 32)), digits)
    assert (v.sequences, v.verified, v.wrong, v.undecided) == (16, 16, 0, 0)


def test_planted_corrupted_packed_digit_is_caught_exactly_where_it_is_read() -> None:
    d, L, K, Q = 1, 2, 4, 4
    digits = _table(d, L, K, Q, seed=2)
    broken = digits.copy()
    broken[5, 3, 0] = (broken[5, 3, 0] + 1) % Q  # row (pos 1, cell 1), context 3
    model = exact_lookup(broken, d=d, L=L, K=K, Q=Q, eta=Fraction(1, 32))
    v = verify_grid(model, digits)
    # the only sequence reading it: position 1 in cell 1, position 0 in cell 3 -> id 3·4 + 1
    assert (v.wrong, v.undecided, v.wrong_ids) == (1, 0, (13,))


def test_rounded_float64_prompt_is_proved_wrong() -> None:
    # 64 table bits do not fit float64: the stored prompt is rounded, and the exact evaluation
    # of that prompt decodes some digits wrongly (a proof, not a float observation)
    d, L, K, Q = 1, 2, 16, 16
    digits = _table(d, L, K, Q, seed=4)
    c = construct_lookup(digits, d=d, L=L, K=K, Q=Q, eta=Fraction(1, 64), check_precision=False)
    v = verify_grid(exact_model(c), digits, np.arange(0, 256, 5))
    assert v.wrong + v.undecided > 0


def test_enclosure_refuses_to_decide_when_the_softmax_is_not_sharp() -> None:
    # β = 1: the off-match mass is large; the enclosure must say "undecided", never a digit
    d, L, K, Q = 1, 2, 2, 16
    digits = _table(d, L, K, Q, seed=5)
    spec = lookup_spec(d, L, K, Q, Fraction(1, 16), 1)
    model = exact_from_spec(spec, pack_tables(digits, Q), d, L, K, Q, "deep")
    v = verify_grid(model, digits)
    assert v.undecided == v.sequences and v.wrong == 0


def test_relative_error_widens_the_enclosure() -> None:
    d, L, K, Q = 1, 2, 2, 16
    digits = _table(d, L, K, Q, seed=6)
    model = exact_lookup(digits, d=d, L=L, K=K, Q=Q, eta=Fraction(1, 16))
    assert verify_grid(model, digits, relative_error=Fraction(1, 2**20)).verified == 4
    assert verify_grid(model, digits, relative_error=Fraction(1, 2**4)).undecided == 4


def test_off_match_bound_is_rigorous() -> None:
    G = 80
    for num, den in [(1, 1), (3, 2), (16, 1), (7919, 1000), (55, 1)]:
        assert _pow2_bound(num, den, G) / 2**G >= math.exp(-num / den)
    assert inverse_temperature(1, 2, 4, 4) == 16


def test_bad_input_is_named() -> None:
    digits = _table(1, 1, 2, 2)
    model = exact_lookup(digits, d=1, L=1, K=2, Q=2, eta=Fraction(1, 8))
    with pytest.raises(ValueError, match="x: expected shape"):
        exact_forward(model, np.zeros((2, 2, 1)))
    with pytest.raises(TypeError, match="model"):
        exact_forward("model", np.zeros((1, 1)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="relative_error"):
        exact_forward(model, np.zeros((1, 1)), relative_error=Fraction(-1))
    with pytest.raises(ValueError, match="digits: expected levels"):
        exact_lookup(digits + 5, d=1, L=1, K=2, Q=2, eta=Fraction(1, 8))
    with pytest.raises(ValueError, match="digits: expected shape"):
        exact_lookup(digits[:1], d=1, L=1, K=2, Q=2, eta=Fraction(1, 8))
    with pytest.raises(ValueError, match="dyadic"):
        exact_forward(model, np.array([[Fraction(1, 3)]], dtype=object))
    with pytest.raises(TypeError, match="mpmath"):
        to_fraction("0.5")
    assert isinstance(model, ExactModel) and model.width == model.spec.width


def test_agrees_with_dense_float64_on_the_wide_decoder() -> None:
    d, L, K, Q = 1, 2, 4, 4
    digits = _table(d, L, K, Q, seed=7)
    c = construct_lookup(digits, d=d, L=L, K=K, Q=Q, eta=Fraction(1, 32), decoder="wide")
    xs = cell_centers(grid_cells(d, L, K), d, K)  # (16, L, d)
    out = exact_forward(c, xs)
    assert np.array_equal(out.as_float(), c.forward(xs)) and not out.undecided.any()


def test_backend_exact_of_construct_universal_is_the_exact_evaluation():
    import pytest

    from reference import construct_universal

    def f(x):
        return np.clip(x[..., ::-1, :] * 0.9, 0.0, 1.0)

    dense = construct_universal(f, d=1, L=2, lipschitz=1.0, eps=0.25)
    exact = construct_universal(f, d=1, L=2, lipschitz=1.0, eps=0.25, backend="exact")
    assert exact.model is None and exact.exact is not None
    assert (exact.ffn_in_widths, exact.ffn_out_widths, exact.prompt_rows) == (
        dense.ffn_in_widths,
        dense.ffn_out_widths,
        dense.prompt_rows,
    )
    x = np.random.default_rng(3).random((64, 2, 1))
    ok = exact.off_band(x)
    assert np.array_equal(exact.forward(x[ok]), dense.forward(x[ok]))
    assert np.abs(exact.forward(x[ok]) - f(x[ok])).max() <= exact.error_bound
    with pytest.raises(ValueError, match="shallow"):
        construct_universal(
            f, d=1, L=2, lipschitz=1.0, eps=0.25, backend="exact", decoder="shallow"
        )
    with pytest.raises(ValueError, match="precision_bits"):
        construct_universal(
            f, d=1, L=2, lipschitz=1.0, eps=0.25, backend="exact", precision_bits=64
        )


def test_the_lower_bound_on_log2_e_is_below_it() -> None:
    """``LOG2E_LOWER <= log2 e`` (so ``2^{−⌊gλ⌋} >= e^{−g}`` for every gap ``g``), checked at
    50 digits, and within 1e-10 of it; a value rounded up under-bounds off-match weights only
    at gaps beyond ~1e10, where no sampled test reaches."""
    with mpmath.workdps(50):
        log2e = 1 / mpmath.log(2)
        lower = mpmath.mpf(LOG2E_LOWER.numerator) / LOG2E_LOWER.denominator
        assert lower <= log2e
        assert log2e - lower < mpmath.mpf(10) ** -10
