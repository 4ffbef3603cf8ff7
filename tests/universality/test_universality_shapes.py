"""verify.claims.universality.shapes: the width-depth table equals the built models, and its checks
fail on planted violations (an extra FFN layer, a wrong formula, a shallow error over the bound)."""

from __future__ import annotations

import pytest

from verify.claims.universality.shapes import (
    DECODER_NAMES,
    SHAPE_FIELDS,
    check_shallow_error,
    check_shapes,
    planted_extra_layer,
    planted_wrong_prompt,
    shape_job,
    table_rows,
)


@pytest.fixture(scope="module")
def rows():
    return [shape_job((dec, 1, 2, 1.0, 0.25, 0)) for dec in DECODER_NAMES]


def test_built_models_equal_the_formulas(rows):
    assert all(r["built"] and not r["mismatches"] for r in rows)
    check = check_shapes(rows)
    assert check.passed and check.kind == "exact" and check.cases == 3 * len(SHAPE_FIELDS)
    shallow = rows[0]
    assert (shallow["depth_in"], shallow["depth_out"]) == (1, 1)
    assert shallow["ffn_out_units"] == 1344 and shallow["model_width"] == 25
    assert [r["built = formula"] for r in table_rows(rows)] == ["yes"] * 3


def test_shallow_error_check_is_a_bound_that_can_fail(rows):
    check = check_shallow_error(rows)
    assert check.kind == "bound" and check.passed and 0 < check.worst_ratio <= 1
    broken = [dict(rows[0], held_out_error_ratio=1.5)]
    assert not check_shallow_error(broken).passed


def test_planted_extra_layer_is_caught():
    check = planted_extra_layer(("shallow", 1, 2, 1.0, 0.25, 0))
    assert check.kind == "planted" and check.passed
    assert any(m.startswith("depth_out") for m in check.details["mismatches"])


def test_planted_wrong_formula_is_caught(rows):
    wrong = dict(rows[0], parameters=rows[0]["parameters"] + 1)
    wrong["mismatches"] = ["parameters: formula off by one"]
    assert not check_shapes([wrong]).passed
    deep_as_shallow = dict(rows[2], decoder="shallow")  # depths 3 and 10: not the paper's shape
    assert not check_shapes([deep_as_shallow]).passed


def test_refused_sizes_are_reported_not_built():
    row = shape_job(("wide", 1, 2, 0.5, 0.125, 0))
    assert not row["built"] and row["refused"].startswith("refused: dense FFN weights")
    assert row["parameters"] > 2**24  # from the formula, never allocated


def test_planted_wrong_prompt_is_caught_by_the_bound_check():
    check = planted_wrong_prompt(("shallow", 1, 2, 1.0, 0.25, 0))
    assert check.kind == "planted" and check.passed and check.details["caught_with_ratio"] > 1
