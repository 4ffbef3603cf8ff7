"""Figure plumbing shared by the claims: a headless pyplot and one way to save a figure.

matplotlib is imported lazily, so ``import verify`` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FIGURE_DPI = 110


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (figures go to files only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> None:
    """Lay out, write ``fig`` as a PNG to ``path`` and release it."""
    fig.tight_layout()
    fig.savefig(path, dpi=FIGURE_DPI)
    pyplot().close(fig)
