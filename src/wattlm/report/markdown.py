"""Markdown report: tables and text to paste into a paper, README or model card."""

from __future__ import annotations

import re
from collections.abc import Sequence

from wattlm.report._data import ReportData
from wattlm.report._sections import Block, build_blocks

__all__ = ["blocks_to_markdown", "md_cell", "md_table", "md_text", "render_markdown"]


#: Characters that start raw HTML, links and images (and the escape itself), escaped.
_INLINE = str.maketrans({"\\": "\\\\", "<": "\\<", "[": "\\[", "]": "\\]"})
#: A line start that opens a block: heading, quote, list, rule, setext line, table, fence.
_BLOCK_START = re.compile(r"^(?:[#>+*=|`~-]|\d+[.)])")


def _inline(text: str) -> str:
    """One line, with no raw HTML, link or image syntax left live."""
    return " ".join(str(text).split()).translate(_INLINE)


def md_text(text: str) -> str:
    """Inert text: what a user wrote cannot become markup in the report.

    Line breaks are flattened (no injected block), backslashes, ``<``, ``[`` and ``]`` are
    backslash-escaped (no raw HTML, live link or image: ``![p](http://e/p.png)`` stays text),
    and a leading block marker (``#``, ``>``, ``-``, ``|``, ``1.`` ...) is escaped.
    """
    flat = _inline(text)
    match = _BLOCK_START.match(flat)
    if match is None:
        return flat
    marker = match.group(0)
    return flat[:len(marker) - 1] + "\\" + flat[len(marker) - 1:]


def md_cell(text: str) -> str:
    """A table cell: pipes and what :func:`md_text` escapes inline, line breaks flattened."""
    return _inline(text).replace("|", "\\|")


def md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(md_cell(h) for h in headers) + " |",
             "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def blocks_to_markdown(blocks: Sequence[Block]) -> str:
    """Render report blocks as Markdown (plots become a pointer to the HTML report)."""
    out: list[str] = []
    plots_noted = False
    command = "wattlm report RUN --format html"
    for block in blocks:
        if block.kind == "heading" and block.extra.get("kind", "measured run") != "measured run":
            command = "--report html on the estimate command, or render(estimate, 'html')"
        if block.kind == "heading":
            out.append("#" * block.level + " " + _inline(block.text))  # "## 4. Method" stays
        elif block.kind == "paragraph":
            out.append(md_text(block.text))
        elif block.kind == "note":
            out.append(f"_{md_text(block.text)}_")
        elif block.kind == "table":
            out.append(md_table(block.headers, block.rows))
        elif block.kind == "list":
            out.append("\n".join(f"- {md_text(' '.join(item.split()))}" for item in block.items))
        elif block.kind == "plot" and not plots_noted:
            out.append(f"Plots are in the HTML report (`{command}`).")
            plots_noted = True
    return "\n\n".join(out) + "\n"


def render_markdown(data: ReportData) -> str:
    """The full Markdown report of a run or an estimate."""
    return blocks_to_markdown(build_blocks(data))
