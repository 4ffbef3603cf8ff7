"""A failing property must reach the user: pytest, run with this project's configuration
(``filterwarnings = error`` among it), prints the falsifying example and no ``INTERNALERROR``.

With every warning an error, a dependency's deprecation warning raised while Hypothesis's plugin
wrote the report crashed pytest itself and the failing example was lost (issue 16).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAILING_PROPERTY = """
from hypothesis import given, settings, strategies as st


@settings(database=None)
@given(st.integers())
def test_fails(x):
    assert x < 5
"""


def test_failing_property_prints_its_example(tmp_path: Path) -> None:
    (tmp_path / "test_planted_failure.py").write_text(FAILING_PROPERTY)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir",
         str(tmp_path), "-p", "no:cacheprovider", "-q", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 1, (
        run.stdout + run.stderr
    )  # 1: tests failed (3 would be INTERNALERROR)
    assert "INTERNALERROR" not in run.stdout + run.stderr
    assert "Falsifying example: test_fails(" in run.stdout
    assert "x=5" in run.stdout
