"""Rendering of a variant comparison (moved here from ``wattlm.compare.variants``).

Functions take a ``ComparisonResult`` (duck-typed, so this layer does not import
``wattlm.compare``): recommendations in plain sentences, a text table, Markdown, HTML and the
energy-against-quality plot.
"""

from __future__ import annotations

from typing import Any

from wattlm._format import format_count, format_energy, format_number, format_quantity
from wattlm.units import wh_to_j

__all__ = ["comparison_plot", "recommendations", "text_table", "to_html", "to_markdown"]


def _j(value: float | None) -> str:
    return format_quantity(value, "energy_j")


def _pct(new: float, old: float) -> float | None:
    return (new - old) / old * 100.0 if old else None


def _sentence(result: Any, v: Any, base: Any, on_front: bool) -> str:
    change = _pct(v.energy_per_item_j or 0.0, base.energy_per_item_j)
    if change is None:
        energy = f"{v.name} uses {_j(v.energy_per_item_j)} per item (baseline: 0 J)"
    elif change < 0:
        energy = f"{v.name} cuts energy per item by {-change:.0f} %"
    else:
        energy = f"{v.name} uses {change:.0f} % more energy per item"
    energy += f" than {base.name} ({_j(v.energy_per_item_j)} vs {_j(base.energy_per_item_j)})"
    if result.has_quality and v.quality is not None and base.quality is not None:
        delta = v.quality - base.quality
        q = (f"{result.quality_name} {format_number(base.quality)} → "
             f"{format_number(v.quality)}")
        tail = (f" for a loss of {format_number(-delta)} in {q}" if delta < 0 else
                f" and gains {format_number(delta)} in {q}" if delta > 0 else f" with the same {q}")
    else:
        speed = _pct(v.latency_per_item_s or 0.0, base.latency_per_item_s or 0.0)
        tail = ("" if speed is None else
                f"; latency per item {'+' if speed >= 0 else ''}{speed:.0f} %")
    parts = [f"{energy}{tail}."]
    if v.distinguishable is False:
        parts.append(f"Over {v.windows} windows it is not distinguishable from {base.name}.")
    if v.make_energy_j is not None:
        made = f"Making it cost {_j(v.make_energy_j)}"
        if v.break_even_queries is not None:
            made += f"; it pays back after {format_count(v.break_even_queries)} queries"
        else:
            made += f"; no break-even: {v.break_even_reason}"
        parts.append(made + ".")
    if not on_front:
        parts.append("It is dominated by another variant: drop it.")
    return " ".join(parts)


def recommendations(result: Any) -> list[str]:
    """Plain sentences with numbers, each variant against the baseline."""
    out: list[str] = []
    base = result.base
    front = result.pareto()
    if base is None or base.energy_per_item_j is None:
        out.append(f"The baseline {result.baseline!r} did not complete, so no variant can be "
                   "compared with it.")
    else:
        out.extend(_sentence(result, v, base, v.name in front) for v in result.succeeded
                   if v.name != base.name and v.energy_per_item_j is not None)
    ok = [v for v in result.succeeded if v.energy_per_item_j is not None]
    if ok:
        best = min(ok, key=lambda v: (v.energy_per_item_j or 0.0, v.name))
        out.append(f"Lowest energy per item: {best.name} ({_j(best.energy_per_item_j)} per item).")
    if result.max_quality_loss is not None:
        chosen = result.best_within(result.max_quality_loss)
        if chosen is not None:
            saving = result.saving(chosen)["saving_per_1000_queries_wh"]
            out.append(f"Within a quality loss of {format_number(result.max_quality_loss)}: "
                       f"{chosen.name} saves {format_energy(wh_to_j(saving))} per 1,000 queries.")
        else:
            out.append(f"No variant saves energy within a quality loss of "
                       f"{format_number(result.max_quality_loss)}.")
    if front:
        what = result.quality_name if result.has_quality else "latency"
        fair = " and fairness" if all(v.fairness is not None for v in result.succeeded) else ""
        out.append(f"Pareto set (energy per item against {what}{fair}): {', '.join(front)}.")
    out.extend(f"{v.name} failed: {v.error}" for v in result.variants if not v.ok)
    out.extend(w for v in result.variants for w in v.warnings if w.startswith("W701"))
    return out


def text_table(result: Any) -> tuple[list[str], list[list[str]]]:
    """Headers and rows formatted for people."""
    headers = ["variant", "status", "per item", "± (windows)", "per token", "items/s",
               "latency/batch", result.quality_name, "flip rate", "made for", "break-even",
               "provenance", "pareto"]
    front = set(result.pareto())
    rows = []
    for v in result.variants:
        fair = v.fairness.flip_rate if v.fairness is not None else None
        rows.append([v.name, v.status, _j(v.energy_per_item_j), _j(v.energy_per_item_stdev_j),
                     _j(v.energy_per_token_j), format_number(v.throughput_items_per_s),
                     format_quantity(v.latency_s, "duration"),
                     format_number(v.quality, 4) if v.quality is not None else "-",
                     format_number(fair), _j(v.make_energy_j),
                     format_count(v.break_even_queries) if v.break_even_queries is not None
                     else "-", v.provenance.value if v.provenance else "-",
                     "yes" if v.name in front else ""])
    return headers, rows


def comparison_plot(result: Any) -> bytes:
    """Energy per item against quality (or latency) with the Pareto front, as PNG bytes."""
    from wattlm.report.plots import pareto_plot

    front = set(result.pareto())
    points = []
    for v in result.succeeded:
        second = v.quality if result.has_quality else v.latency_per_item_s
        if v.energy_per_item_j is not None and second is not None:
            points.append((v.name, v.energy_per_item_j, second, v.name in front))
    y_label = (result.quality_name if result.has_quality
               else "latency per item (s, lower is better)")
    return pareto_plot(points, x_label="energy per item (J)", y_label=y_label)


def to_markdown(result: Any) -> str:
    """Markdown: table, Pareto set, recommendations."""
    from wattlm.report.markdown import md_table

    headers, rows = text_table(result)
    recs = "\n".join(f"- {' '.join(r.split())}" for r in recommendations(result))
    return (f"# Variant comparison\n\n{result.inputs} inputs per variant; baseline "
            f"{result.baseline}.\n\n{md_table(headers, rows)}\n\n## Recommendations\n\n"
            f"{recs}\n")


def to_html(result: Any) -> str:
    """A self-contained HTML page with the table, the plot and the recommendations."""
    from wattlm.report._sections import Block
    from wattlm.report.html import blocks_to_html

    headers, rows = text_table(result)
    what = result.quality_name if result.has_quality else "latency"
    blocks = [Block("heading", "Variant comparison", level=1),
              Block("paragraph", f"{result.inputs} inputs per variant; baseline "
                                 f"{result.baseline}."),
              Block("table", headers=tuple(headers), rows=tuple(tuple(r) for r in rows)),
              Block("plot", "pareto", caption=f"Energy per item against {what}; red: Pareto set"),
              Block("heading", "Recommendations"),
              Block("list", items=tuple(recommendations(result)))]
    return blocks_to_html(blocks, "wattlm variant comparison", lambda _key: comparison_plot(result))
