"""Report of a task benchmark (``wattlm tasks --report``): per task, energy against quality.

Input: the JSON rows of ``wattlm tasks --format json`` (one per (model, task)). Per task a
table (energy per 1,000 queries, quality, stars, flip rate, Pareto set) and bars of energy
beside quality; Markdown, self-contained HTML, or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from wattlm._format import format_energy, format_number
from wattlm.errors import InvalidInputError
from wattlm.report._sections import Block
from wattlm.report.html import blocks_to_html
from wattlm.report.markdown import blocks_to_markdown

__all__ = ["render_tasks", "task_bars_plot", "task_blocks"]

_HEADERS = ("model", "energy per 1k queries", "per output token", "quality", "stars",
            "flip rate", "provenance", "pareto")


def _stars(row: dict[str, Any]) -> str:
    if row.get("rating"):
        return "★" * int(row["rating"])
    return "not rated (CPU-only)" if row.get("cpu_only") else "-"


def _row(r: dict[str, Any]) -> tuple[str, ...]:
    per_query = r.get("energy_per_query_j")
    quality = r.get("quality") or {}
    fair = r.get("fairness") or {}
    return (str(r["model"]), format_energy(per_query * 1000 if per_query is not None else None),
            format_energy(r.get("energy_per_output_token_j")),
            f"{quality.get('metric', '-')} {format_number(quality.get('value'))}", _stars(r),
            format_number(fair.get("flip_rate")), str(r.get("provenance") or "-"),
            "yes" if r.get("pareto") else "")


def task_blocks(rows: Sequence[dict[str, Any]]) -> list[Block]:
    """Report blocks: one section per task with its table, plot and Pareto set."""
    blocks = [Block("heading", "Task energy benchmark", level=1),
              Block("paragraph", f"{len(rows)} (model, task) pairs. Energy per 1,000 queries "
                    "covers every measured device; stars compare with the reference in the "
                    "rating basis below (GPU runs only).")]
    tasks: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        tasks.setdefault(str(r["task"]), []).append(r)
    for task, group in tasks.items():
        blocks.append(Block("heading", task, level=2))
        blocks.append(Block("table", headers=_HEADERS, rows=tuple(_row(r) for r in group)))
        blocks.append(Block("plot", f"task:{task}", caption=f"{task}: energy per 1,000 "
                            "queries (left) and quality (right) per model"))
        front = [str(r["model"]) for r in group if r.get("pareto")]
        fair = all((r.get("fairness") or {}).get("check") for r in group)
        blocks.append(Block("paragraph", "Pareto set (energy, quality"
                            f"{', fairness' if fair else ''}"
                            f"): {', '.join(front) or 'none'}."))
        bases = sorted({str(r.get("rating_basis")) for r in group if r.get("rating_basis")})
        blocks.append(Block("list", items=tuple(f"Rating: {b}" for b in bases)))
        failed = [f"{r['model']} failed: {r.get('error')}" for r in group
                  if r.get("status") != "ok"]
        if failed:
            blocks.append(Block("list", items=tuple(failed)))
    return blocks


def task_bars_plot(group: Sequence[dict[str, Any]], task: str) -> bytes:
    """Two bar panels for one task: energy per 1,000 queries (Wh) and quality; PNG."""
    from wattlm.report.plots import _figure, _png

    fig = _figure(7.0, 3.0)
    left, right = fig.subplots(1, 2)
    names = [str(r["model"]) for r in group]
    energy = [float(r.get("energy_per_1000_queries_wh") or 0.0) for r in group]
    quality = [float((r.get("quality") or {}).get("value") or 0.0) for r in group]
    colours = ["#c0392b" if r.get("pareto") else "#7f8c8d" for r in group]
    left.barh(names, energy, color=colours)
    left.set_xlabel("Wh per 1,000 queries")
    metric = str((group[0].get("quality") or {}).get("metric", "quality")) if group else ""
    right.barh(names, quality, color=colours)
    right.set_xlabel(metric)
    right.set_yticks([])
    fig.suptitle(f"{task} (red: Pareto set)")
    return _png(fig)


def render_tasks(rows: Sequence[dict[str, Any]], fmt: str) -> str:
    """The report as ``md``, ``html`` or ``json``."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2)
    blocks = task_blocks(rows)
    if fmt == "md":
        kept = [b for b in blocks if b.kind != "plot"]
        kept.insert(2, Block("note", "Bars of energy against quality per task are in the HTML "
                             "report (wattlm tasks --report html)."))
        return blocks_to_markdown(kept)
    if fmt == "html":
        def plot(key: str) -> bytes:
            task = key.split(":", 1)[1]
            return task_bars_plot([r for r in rows if str(r["task"]) == task], task)

        return blocks_to_html(blocks, "wattlm task benchmark", plot)
    raise InvalidInputError(f"report format must be md, html or json, got {fmt!r}")
