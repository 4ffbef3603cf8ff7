"""The report's tables: every table as a CSV file under ``tables/``, small ones also inline.

``results.json`` keeps the full rows; ``index.md`` shows a table inline only when it is small and
flat (at most :data:`INLINE_MAX_ROWS` rows and :data:`INLINE_MAX_COLUMNS` columns of scalars),
with numbers formatted to 4 significant digits; every table is linked as CSV.

>>> from verify.report.tables import format_cell, table_path
>>> format_cell(0.12345678901234567), format_cell([1.0, 2.5e-17]), format_cell(True)
('0.1235', '1, 2.5e-17', 'yes')
>>> table_path("capacity", "construction vs bounds")
'tables/capacity-construction-vs-bounds.csv'
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

TABLE_DIR = "tables"
INLINE_MAX_ROWS = 12
INLINE_MAX_COLUMNS = 8


def table_path(claim: str, table: str) -> str:
    """The CSV's path relative to the report folder."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{claim} {table}".lower()).strip("-")
    return f"{TABLE_DIR}/{slug}.csv"


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    """The union of the rows' keys, in first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns


def format_cell(value: Any) -> str:
    """A cell as a reader wants it: 4 significant digits, lists as comma-separated values,
    booleans as yes/no, missing as empty; never a Python repr."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(format_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {format_cell(v)}" for k, v in value.items())
    return str(value)


def is_inline(rows: list[dict[str, Any]]) -> bool:
    """Small and flat enough to read inline in index.md."""
    return (
        0 < len(rows) <= INLINE_MAX_ROWS
        and len(columns_of(rows)) <= INLINE_MAX_COLUMNS
        and all(not isinstance(v, (list, dict)) for row in rows for v in row.values())
    )


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of row dictionaries with formatted cells.

    >>> from verify.report.tables import markdown_table
    >>> print(markdown_table([{"n": 1, "err": 0.123456}, {"n": 2}]))
    | n | err |
    |---|---|
    | 1 | 0.1235 |
    | 2 |  |
    """
    columns = columns_of(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = (format_cell(row.get(c)).replace("|", "\\|").replace("\n", " ") for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _csv_cell(value: Any) -> Any:
    # full precision for data; nested values as JSON so a CSV reader can parse them back
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "" if value is None else value


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """``rows`` as CSV at ``path`` (header = :func:`columns_of`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = columns_of(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _csv_cell(row.get(c)) for c in columns})


def write_tables(folder: Path, claims: dict[str, dict[str, Any]]) -> list[str]:
    """Every claim table as CSV under ``folder/tables``; returns the relative paths written."""
    written = []
    for entry in claims.values():
        for name, rows in entry.get("tables", {}).items():
            relative = table_path(entry["name"], name)
            write_csv(folder / relative, rows)
            written.append(relative)
    return written
