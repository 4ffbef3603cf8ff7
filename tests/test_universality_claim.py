"""Smoke run of the report claim ``universality``: every check passes, figures are written."""

from __future__ import annotations

import json

from verify.claims import load_all
from verify.claims.base import ClaimContext


def test_universality_claim_smoke(tmp_path):
    claim = load_all()["universality"]
    assert claim.order == 30
    result = claim.run(ClaimContext(figure_dir=tmp_path, mode="smoke"))
    assert result.passed, [c.name for c in result.checks if not c.passed]
    names = {c.name for c in result.checks}
    assert {"understated constant caught", "corrupted prompt row caught"} <= names
    for fig in result.figures:
        assert (tmp_path / fig.filename).stat().st_size > 10_000
    json.dumps(result.tables)  # tables are JSON-ready
    json.dumps([c.to_json() for c in result.checks])
