"""The reader's side of the report: schema, HTML, links, CSV tables, progress, summary figure.

The planted violations: a results.json with a missing key or a wrong kind fails the schema; a
long table with list cells must not be printed inline; a Python repr must not reach index.md.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest
from rich.console import Console

from verify.claims import load_all
from verify.claims.base import CheckResult, Claim, ClaimContext, ClaimResult, FigureResult
from verify.report.claim_guide import MissingGuide, guide_for
from verify.report.html import render_html
from verify.report.markdown import check_verdict
from verify.report.tables import format_cell, is_inline
from verify.run.progress import LiveProgress, PlainProgress, claim_progress
from verify.run.runner import generate_report

SCHEMA = json.loads((Path(__file__).parents[2] / "verify/results.schema.json").read_text())
LONG_ROWS = [{"n": i, "errors": [0.1 * i, 1 / 3], "ratio": 1 / 7} for i in range(40)]


def _rich_claim(ctx: ClaimContext) -> ClaimResult:
    checks = [
        CheckResult("bound check", "err <= C/(2K)", r"\frac{C}{2K} \le \varepsilon", 5, True, 0.5),
        CheckResult("count", "rows = formula", "L K^d", 2, True, None, kind="exact"),
        CheckResult("tight", "reaches it", "", 3, True, 1.0, kind="attainment"),
        CheckResult("planted", "broken constant", "", 1, True, None, kind="planted"),
    ]
    result = ClaimResult("universality", "A rich fake claim", "The statement.", checks=checks)
    result.tables["long one"] = LONG_ROWS  # first: the inline table after it stays out of its list
    result.tables["small"] = [{"n": 1, "err": 0.12345678901234567}, {"n": 2, "err": 1e-17}]
    (ctx.figure_dir / "f.png").write_bytes(b"\x89PNG fake")
    result.figures.append(FigureResult("f.png", "a figure"))
    return result


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pages") / "report"
    claim = Claim("universality", "A rich fake claim", _rich_claim)
    generate_report([claim], out=out, mode="smoke", seed=4, executor_spec="serial")
    return out


def test_results_json_matches_the_schema(report: Path) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    results = json.loads((report / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    env = results["environment"]
    assert {"numpy", "sympy", "hypothesis", "mpmath"} <= set(env["packages"])
    assert env["cpu_cores"] >= 1 and env["cpu_model"]


@pytest.mark.parametrize(
    "break_it",
    [
        lambda r: r.pop("environment"),
        lambda r: r["claims"]["universality"]["checks"][0].update(kind="evidence"),
        lambda r: r["claims"]["universality"].update(worst_ratio="0.5"),
    ],
)
def test_planted_schema_violation_is_caught(report: Path, break_it) -> None:
    results = json.loads((report / "results.json").read_text())
    break_it(results)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(results, SCHEMA)


def test_index_md_has_reproduce_docs_and_no_python_reprs(report: Path) -> None:
    index = (report / "index.md").read_text()
    assert "`python -m verify --only universality --seed 4 --smoke`" in index
    assert guide_for("universality").shows in index
    assert "timings in this report mean nothing" in index
    assert "0.1235" in index and "0.12345678901234567" not in index
    assert not re.search(r"\d\.\d{12,}|\[0\.|\{'", index)  # no reprs, lists or dicts


def test_planted_checks_read_caught_never_holds(report: Path) -> None:
    index = (report / "index.md").read_text()
    row = next(line for line in index.splitlines() if line.startswith("| planted |"))
    assert "planted violation caught" in row and "holds" not in row
    assert check_verdict({"kind": "planted", "passed": False, "worst_ratio": None}).startswith(
        "**planted violation NOT caught"
    )


def test_long_tables_go_to_csv_and_small_ones_stay_inline(report: Path) -> None:
    index = (report / "index.md").read_text()
    assert not is_inline(LONG_ROWS) and "| 39 |" not in index
    link = "tables/universality-long-one.csv"
    assert f"]({link})" in index and "40 rows × 3 columns" in index
    html = (report / "index.html").read_text()
    assert re.search(r"40 rows × 3 columns \(n, errors, ratio\)</li>\s*</ul>", html)
    with (report / link).open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40 and json.loads(rows[3]["errors"]) == LONG_ROWS[3]["errors"]
    assert (report / "tables/universality-small.csv").is_file()


def test_every_link_of_the_html_pages_resolves_offline(report: Path) -> None:
    pages = [report / "index.html", *sorted((report / "docs").glob("*.html"))]
    assert len(pages) > 3
    for page in pages:
        text = page.read_text()
        assert "<script" not in text and not re.search(r'src="https?:', text)  # nothing fetched
        for target in re.findall(r'(?:href|src)="([^"]+)"', text):
            parts = urlsplit(target)
            if parts.scheme in ("http", "https", "data", "mailto"):
                continue
            path = (page.parent / unquote(parts.path)) if parts.path else page
            assert path.exists(), f"{page.name}: {target} does not resolve"
            if parts.fragment and path.suffix == ".html":
                assert f'id="{parts.fragment}"' in path.read_text(), f"{page.name}: {target}"


def test_results_record_the_thread_counts_the_run_pinned(report: Path) -> None:
    env = json.loads((report / "results.json").read_text())["environment"]
    threads = env["threads"]
    assert threads["blas"] == 1 and threads["env"]["OPENBLAS_NUM_THREADS"] == "1"
    assert "* **Threads:** BLAS 1" in (report / "index.md").read_text()
    schema = SCHEMA["properties"]["environment"]
    jsonschema.validate(env, schema)
    del env["threads"]  # planted: a results.json without them fails the schema
    with pytest.raises(jsonschema.ValidationError, match="'threads' is a required property"):
        jsonschema.validate(env, schema)


def test_html_ids_are_unique_and_the_contents_reach_every_section(report: Path) -> None:
    text = (report / "index.html").read_text()
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    contents = text[text.index('id="contents"') : text.index('id="summary"')]
    links = re.findall(r'href="#([^"]+)"', contents)
    assert {"summary", "universality", "universality-checks", "universality-tables"} <= set(links)
    assert all(f'id="{link}"' in text for link in links)


def test_duplicate_headings_get_distinct_ids_like_github() -> None:
    page = render_html('<a id="checks"></a>\n\n### Checks\n\n### Checks\n', title="t")
    assert '<h3 id="checks-1">' in page and '<h3 id="checks-2">' in page
    # planted: without the de-duplication the two headings would share one id
    assert page.count('id="checks"') == 1


def test_narrow_pages_scroll_tables_instead_of_breaking_numbers() -> None:
    from verify.report.html import CSS

    assert "overflow-x: auto" in CSS.split("table {", 1)[1].split("}", 1)[0]
    assert "white-space: nowrap" in CSS.split("th, td {", 1)[1].split("}", 1)[0]


def test_html_renders_formulas_and_figures(report: Path) -> None:
    text = (report / "index.html").read_text()
    assert text.count('<img class="math"') >= 2 and "$$" not in text
    assert '<img src="figures/summary.png"' in text and '<img src="figures/f.png"' in text
    assert (report / "figures/summary.png").stat().st_size > 10_000


def test_unparsable_formula_is_shown_as_source_not_dropped() -> None:
    page = render_html("$$\n\\notacommand{x}\n$$\n", title="t")
    assert '<code class="math-source">\\notacommand{x}</code>' in page


def test_a_formula_in_an_image_caption_stays_source_in_the_alt_text() -> None:
    page = render_html("![the line $n^*(R) = \\frac{4r}{c}$.](f.png)", title="t")
    alt = re.search(r'<img src="f.png" alt="([^"]*)"', page).group(1)
    assert alt == "the line $n^*(R) = \\frac{4r}{c}$." and "<img" not in alt


def test_inline_math_leaves_code_alone() -> None:
    page = render_html("a `$HOME$x` b $a_i$ c", title="t")
    assert "<code>$HOME$x</code>" in page and page.count('class="math"') == 1


def test_plain_progress_prints_one_line_per_claim_start_and_finish() -> None:
    log = io.StringIO()
    with claim_progress(Console(file=log), total=2) as progress:
        assert isinstance(progress, PlainProgress)
        for name in ("a", "b"):
            progress.start(name)
            progress.step("a step that stays off the log")
            progress.finish(name, "passed", 1.25)
    lines = log.getvalue().splitlines()
    assert len(lines) == 4 and "[2/2] b: passed in 1.2 s (elapsed" in lines[3]
    assert all("step" not in line for line in lines)


def test_a_terminal_gets_the_live_display() -> None:
    console = Console(file=io.StringIO(), force_terminal=True)
    with claim_progress(console, total=1) as progress:
        assert isinstance(progress, LiveProgress)


def test_every_registered_claim_has_a_guide_entry_whose_docs_page_exists() -> None:
    docs = Path(__file__).parents[2] / "docs"
    for name in load_all():
        page, _, anchor = guide_for(name).docs.partition("#")  # no guide.py: MissingGuide
        assert (docs / page).is_file()
        if anchor:
            html = render_html((docs / page).read_text(), title=page)
            assert f'id="{anchor}"' in html
    # planted: a claim folder without guide.py is named, with the file to add
    with pytest.raises(MissingGuide, match=r"add verify/claims/unguided/guide\.py"):
        guide_for("unguided")


def test_format_cell_never_prints_a_repr() -> None:
    assert format_cell({"a": 0.1 + 0.2}) == "a: 0.3"
    assert format_cell([1 / 3, None]) == "0.3333, "


def test_screenshot_skips_cleanly_without_chromium(report: Path, monkeypatch, capsys) -> None:
    import verify.report.screenshot as shot

    monkeypatch.setattr(shot, "find_chromium", lambda: None)
    assert shot.main([str(report)]) == 0 and "skipped" in capsys.readouterr().out
    assert shot.main([str(report / "missing")]) == 2  # no index.html: an error, not a skip
    command = shot.chromium_command("chromium", report / "index.html", "x.png", 800, 600)
    assert {"--disable-background-networking", "--disable-component-update"} <= set(command)
