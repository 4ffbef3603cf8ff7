"""The mutant corpus stays applicable: every entry names one place of the current code, its
replacement still parses and changes the file, and its tests exist. (Running the corpus is the
documented job ``python -m tests.strength.mutation``; too slow for the test suite.)"""

from __future__ import annotations

import ast

import pytest

from tests.strength.mutation import ROOT, Mutant, load_corpus, occurrences

CORPUS = load_corpus()


def test_ids_are_unique() -> None:
    ids = [m.id for m in CORPUS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("mutant", CORPUS, ids=[m.id for m in CORPUS])
def test_mutant_names_one_place_and_parses(mutant: Mutant) -> None:
    assert occurrences(mutant) == 1, f"{mutant.id}: update `old` in tests/strength/mutants.toml"
    source = (ROOT / mutant.file).read_text()
    mutated = source.replace(mutant.old, mutant.new)
    assert mutated != source
    ast.parse(mutated)
    assert all((ROOT / path).exists() for path in mutant.test_paths())
