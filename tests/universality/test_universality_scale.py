"""Full-grid proofs at scale and the measured precision law
(verify/claims/universality/scale.py)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from verify.claims.universality.scale.grids import (
    check_grid_rows,
    dense_job,
    merge_scale_rows,
    random_digits,
    scale_items,
    scale_job,
)
from verify.claims.universality.scale.precision_law import (
    bits_needed_job,
    check_precision_law,
    decodes_at,
    round_significand,
)


def test_random_tables_use_every_digit() -> None:
    digits = random_digits(2, 2, 2, 16, seed=0)  # 8 rows x 4 contexts x 2 channels = 64 digits
    assert len(np.unique(digits)) >= 14
    assert np.array_equal(digits, random_digits(2, 2, 2, 16, seed=0))


def test_full_grid_is_proved_in_chunks() -> None:
    items = scale_items([(1, 3, 2, 4)], seed=1, chunk=3)
    assert [(it[5], it[6]) for it in items] == [(0, 3), (3, 6), (6, 8)]
    (row,) = merge_scale_rows([scale_job(it) for it in items])
    assert (row["sequences"], row["verified"], row["wrong"], row["undecided"]) == (8, 8, 0, 0)
    assert row["table_bits"] == 8 and row["grid_sequences"] == 8
    assert check_grid_rows([row], "n", "s").passed


def test_planted_corrupted_packed_digit_fails_the_grid_check() -> None:
    row = scale_job((2, 2, 2, 4, 0, 0, 16, (1, 0, 0)))
    (merged,) = merge_scale_rows([row])
    assert merged["wrong"] == 1 and merged["undecided"] == 0
    check = check_grid_rows([merged], "n", "s")
    assert not check.passed and check.kind == "exact" and "1 wrong" in check.counterexample


def test_dense_backend_rows_decode_a_random_table() -> None:
    row = dense_job((1, 2, 2, 4, "float64", None, "deep", 0))
    assert (row["sequences"], row["verified"], row["wrong"]) == (4, 4, 0)
    assert check_grid_rows([row], "n", "s").details["largest"]["float64"]["dL"] == 2


def test_round_significand() -> None:
    assert round_significand(Fraction(3, 8), 1) == Fraction(1, 2)  # tie to even
    assert round_significand(Fraction(5, 16), 3) == Fraction(5, 16)
    assert round_significand(Fraction(13, 16), 2) == Fraction(3, 4)


def test_precision_law_point_lies_between_the_bounds() -> None:
    for model in ("prompt", "attention"):
        row = bits_needed_job((1, 2, 2, 4, 0, model))
        assert row["table_bits"] < row["bits_needed"] <= row["predicted"]
        assert row["fails_below"]
    assert check_precision_law([row]).passed
    with pytest.raises(ValueError, match="model"):
        decodes_at(1, 2, 2, 4, random_digits(1, 2, 2, 4, 0), 8, "float", np.arange(4))


def test_planted_understated_precision_is_caught() -> None:
    row = bits_needed_job((1, 3, 2, 4, 0, "attention"))
    check = check_precision_law([{**row, "understated": row["table_bits"] - 2}], "understated")
    assert not check.passed and check.worst_ratio > 1
