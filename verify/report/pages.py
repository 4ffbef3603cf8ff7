"""The reader's files of a report folder, next to results.json: index.md, index.html, the
summary figure, tables/*.csv and a copy of the project's docs (so every link from the report
resolves wherever the folder is moved, offline).

>>> from verify.report.pages import docs_source
>>> (docs_source() / "report.md").is_file()  # in a checkout
True
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from verify.report.html import render_html
from verify.report.markdown import SUMMARY_FIGURE_PATH
from verify.report.summary_figure import write_summary_figure
from verify.report.tables import write_tables

DOCS_DIR = "docs"


def docs_source() -> Path:
    """The checkout's ``docs/`` folder (the suite is installed editable from a clone)."""
    return Path(__file__).resolve().parents[2] / DOCS_DIR


def copy_docs(folder: Path) -> list[str]:
    """Copy the docs pages into ``folder/docs`` as Markdown and as HTML; return their names."""
    source = docs_source()
    if not source.is_dir():
        return []
    target = folder / DOCS_DIR
    target.mkdir(exist_ok=True)
    names = []
    for page in sorted(source.glob("*.md")):
        shutil.copyfile(page, target / page.name)
        html = render_html(page.read_text(encoding="utf-8"), title=page.stem)
        (target / page.with_suffix(".html").name).write_text(html, encoding="utf-8")
        names.append(page.name)
    return names


def add_summary_figure(folder: Path, results: dict[str, Any]) -> None:
    """Draw the summary figure and record its path in ``results`` (``None`` when no claim has
    evidence to draw)."""
    drawn = write_summary_figure(folder / SUMMARY_FIGURE_PATH, results)
    results["summary_figure"] = SUMMARY_FIGURE_PATH if drawn else None


def write_pages(folder: Path, results: dict[str, Any], markdown: str) -> None:
    """index.html (from index.md's ``markdown``), tables/*.csv and docs/ into ``folder``."""
    write_tables(folder, results["claims"])
    copy_docs(folder)
    title = f"Prompt-tuning limits: {results['mode']} run, seed {results['seed']}"
    (folder / "index.html").write_text(render_html(markdown, title=title), encoding="utf-8")
