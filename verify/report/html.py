r"""Render the report's Markdown as one HTML page that reads offline: no script, no network.

Formulas (``$$ … $$`` blocks and ``$ … $`` inline, outside code) are drawn by matplotlib's
mathtext into SVG images embedded as ``data:`` URIs, with the LaTeX source as their ``alt``
text (docs/report.md, "The HTML report", says why). A formula mathtext cannot parse is shown as
its LaTeX source in ``<code>``, never dropped. Links to ``*.md`` pages become links to the
``*.html`` pages rendered beside them.

>>> from verify.report.html import render_html
>>> page = render_html("# Title\n\nThe bound\n\n$$\n\\frac{C}{2K}\n$$\n", title="t")
>>> '<h1 id="title">Title</h1>' in page and 'alt="\\frac{C}{2K}"' in page and "<script" not in page
True
"""

from __future__ import annotations

import base64
import html
import io
import re
from functools import lru_cache, partial

from markdown_it import MarkdownIt

# mathtext spells a few LaTeX commands differently from the sympy/LaTeX the claims write.
MATH_SUBSTITUTIONS = ((r"\\le(?![a-zA-Z])", r"\\leq"), (r"\\ge(?![a-zA-Z])", r"\\geq"))
_PLACEHOLDER = "MATHPLACEHOLDER{}X"
_INLINE_MATH = re.compile(r"(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\w$])")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")

CSS = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b;
       max-width: 62rem; margin: 2rem auto; padding: 0 1.5rem; }
h1, h2, h3, h4 { line-height: 1.25; } h2 { border-bottom: 1px solid #ccc; padding-top: 1rem; }
code, pre { font: 0.9em/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: #f4f4f4; }
pre { padding: 0.6rem; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.92em;
        display: block; max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.55rem; text-align: left; white-space: nowrap; }
td:first-child { white-space: normal; } /* names wrap between words; numbers never */
p, li { overflow-wrap: anywhere; }
@media (max-width: 40rem) { body { margin: 1rem auto; padding: 0 0.75rem; }
  table { font-size: 0.78em; } th, td { padding: 0.15rem 0.3rem; } }
th { background: #f0f0f0; } tr:nth-child(even) td { background: #fafafa; }
img { max-width: 100%; height: auto; }
img.math { vertical-align: middle; max-width: none; }
div.math { margin: 0.6rem 0 0.9rem 1.5rem; overflow-x: auto; }
blockquote { border-left: 4px solid #d9822b; margin: 1rem 0; padding: 0.2rem 1rem;
             background: #fff6ec; }
"""


def _mathtext_source(latex: str) -> str:
    for pattern, replacement in MATH_SUBSTITUTIONS:
        latex = re.sub(pattern, replacement, latex)
    return latex


@lru_cache(maxsize=512)
def math_svg(latex: str, fontsize: float = 13.0) -> str | None:
    r"""The formula as an SVG ``data:`` URI, or ``None`` when mathtext cannot parse it.

    >>> from verify.report.html import math_svg
    >>> math_svg(r"\frac{C}{2K} \le \varepsilon").startswith("data:image/svg+xml;base64,")
    True
    >>> math_svg(r"\notacommand{x}") is None
    True
    """
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    buffer = io.BytesIO()
    try:
        mathtext.math_to_image(
            f"${_mathtext_source(latex)}$", buffer, prop=FontProperties(size=fontsize), format="svg"
        )
    except ValueError:
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _math_html(latex: str, display: bool) -> str:
    uri = math_svg(latex.strip())
    source = html.escape(latex.strip(), quote=True)
    if uri is None:
        element = f'<code class="math-source">{source}</code>'
    else:
        element = f'<img class="math" src="{uri}" alt="{source}" title="{source}">'
    return f'<div class="math">{element}</div>' if display else element


def _protect_math(markdown: str) -> tuple[str, list[tuple[str, str]]]:
    """Replace formulas outside code by placeholders; return the text and, per formula, its
    LaTeX source and HTML."""
    rendered: list[tuple[str, str]] = []

    def hold(latex: str, display: bool) -> str:
        rendered.append((latex.strip(), _math_html(latex, display)))
        return _PLACEHOLDER.format(len(rendered) - 1)

    out: list[str] = []
    lines = markdown.split("\n")
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.strip() == "$$":
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "$$"), None)
            if end is not None:
                out += ["", hold("\n".join(lines[i + 1 : end]), True), ""]
                i = end + 1
                continue
        elif not in_fence:
            spans = [m.group(0) for m in _CODE_SPAN.finditer(line)]  # code stays as written
            texts = _CODE_SPAN.sub("\0", line).split("\0")
            rebuilt = [_INLINE_MATH.sub(lambda m: hold(m.group(1), False), texts[0])]
            for span, rest in zip(spans, texts[1:], strict=True):
                rebuilt += [span, _INLINE_MATH.sub(lambda m: hold(m.group(1), False), rest)]
            line = "".join(rebuilt)
        out.append(line)
        i += 1
    return "\n".join(out), rendered


def _relink_markdown_pages(body: str) -> str:
    """``href="x.md"`` / ``href="x.md#a"`` (relative) → the rendered ``x.html``."""
    return re.sub(r'href="(?![a-z]+:)([^"#]+)\.md(#[^"]*)?"', r'href="\1.html\2"', body)


def heading_id(text: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.

    >>> from verify.report.html import heading_id
    >>> heading_id("§2 Exact identities (any weights)")
    '2-exact-identities-any-weights'
    """
    text = re.sub(r"<[^>]+>", "", html.unescape(text)).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _add_heading_ids(body: str) -> str:
    """Each heading gets its GitHub anchor, made unique as GitHub does (``checks``,
    ``checks-1``, …) and never equal to an ``id`` the page already has (the claims' anchors).

    >>> from verify.report.html import _add_heading_ids
    >>> _add_heading_ids('<a id="a"></a><h3>A</h3><h3>A</h3>')
    '<a id="a"></a><h3 id="a-1">A</h3><h3 id="a-2">A</h3>'
    """
    taken = set(re.findall(r'\sid="([^"]*)"', body))

    def add(match: re.Match) -> str:
        level, inner = match.group(1), match.group(2)
        base = anchor = heading_id(inner)
        count = 0
        while anchor in taken:
            count += 1
            anchor = f"{base}-{count}"
        taken.add(anchor)
        return f'<h{level} id="{anchor}">{inner}</h{level}>'

    return re.sub(r"<h([1-6])>(.*?)</h\1>", add, body)


def _keep_source(source: str, match: re.Match[str]) -> str:
    """The attribute text before a formula's placeholder, then the formula as LaTeX source."""
    return match.group(1) + html.escape(f"${source}$", quote=True)


def render_html(markdown: str, *, title: str) -> str:
    """A complete HTML page of ``markdown`` (tables on, raw HTML passed through)."""
    text, formulas = _protect_math(markdown)
    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    for index, (source, element) in enumerate(formulas):
        placeholder = _PLACEHOLDER.format(index)
        # inside an attribute (an image's alt text) a formula stays LaTeX source
        body = re.sub(
            rf'(\s(?:alt|title)="[^"]*?){placeholder}', partial(_keep_source, source), body
        )
        body = body.replace(f"<p>{placeholder}</p>", element).replace(placeholder, element)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{_relink_markdown_pages(_add_heading_ids(body))}</body>\n</html>\n"
    )
