"""The command line: options, unknown claims, unwritable output, the smoke run end to end."""

from __future__ import annotations

import json

import pytest

import verify.__main__
from verify.report import EXIT_OK


def test_unknown_claim_is_one_clear_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "report"
    assert verify.__main__.main(["--only", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "unknown claim 'nope'" in err and "foundation" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [["--smoke", "--thorough"], ["--executor", "dask://nohost"], ["--workers", "0"],
     ["--seed", "-1"]],
)  # fmt: skip
def test_bad_options_exit_2(argv, capsys):
    assert verify.__main__.main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_list_names_every_claim(capsys):
    assert verify.__main__.main(["--list"]) == 0
    assert "foundation:" in capsys.readouterr().out


def test_output_under_a_file_is_unwritable_exit_2_nothing_left(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    code = verify.__main__.main(["--only", "foundation", "--out", str(blocker / "sub" / "report")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot write the report" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_smoke_foundation_end_to_end_on_the_local_pool(tmp_path, capsys):
    out = tmp_path / "nested" / "report"
    code = verify.__main__.main(
        ["--smoke", "--only", "foundation", "--out", str(out), "--workers", "2"]
    )
    assert code == EXIT_OK
    results = json.loads((out / "results.json").read_text())
    entry = results["claims"]["foundation"]
    assert results["mode"] == "smoke" and entry["status"] == "passed"
    assert entry["cases"] > 0 and 0 <= entry["worst_ratio"] <= 1
    assert {c["name"] for c in entry["checks"]} >= {
        "relative pattern invariance", "bias-only effect", "gradient vs finite differences",
    }  # fmt: skip
    for figure in entry["figures"]:
        assert (out / figure["path"]).read_bytes()[:4] == b"\x89PNG"
    assert "foundation" in capsys.readouterr().out
