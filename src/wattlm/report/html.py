"""Self-contained HTML report: inline CSS, plots as base64 PNG, no script, no network.

Every piece of text, including user-supplied project names, commands and warnings, goes
through :func:`html.escape`; the page has no ``<script>`` element at all.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence

from wattlm.report import plots
from wattlm.report._data import ReportData
from wattlm.report._sections import Block, build_blocks, equivalent_text

__all__ = ["blocks_to_html", "plot_for", "render_html"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;
margin:2rem auto;padding:0 1rem;color:#1d2125;line-height:1.45}
h1{font-size:1.6rem;border-bottom:2px solid #7a9a5b;padding-bottom:.3rem}
h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #d0d4d8;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#f1f3f4}
figure{margin:1rem 0}figcaption{font-size:.85rem;color:#555}
img{max-width:100%;height:auto}
.note{font-size:.85rem;color:#555}
"""


def plot_for(data: ReportData, key: str) -> bytes:
    """PNG bytes of one of the report's plots (``power``, ``energy``, ``emissions``)."""
    if key == "power":
        return plots.power_over_time(data.device_infos, data.samples)
    if key == "energy":
        by_device = [(str(d["name"]), float(d["energy_kwh"])) for d in data.devices]
        by_phase = [(str(p["name"]), float(p["energy_kwh"])) for p in data.phases]
        if not by_device and not by_phase:
            return plots.energy_breakdown_plot(list(data.components), [], ("by component", ""))
        return plots.energy_breakdown_plot(by_device, by_phase)
    if key == "emissions":
        parts = [] if data.emissions_g is None else [
            ("operational", data.emissions_g.low, data.emissions_g.central,
             data.emissions_g.high)]
        if data.embodied_g is not None:
            parts.append(("embodied", data.embodied_g.low, data.embodied_g.central,
                          data.embodied_g.high))
        equivalents = [equivalent_text(e) for e in data.equivalents]
        return plots.emissions_plot(parts, equivalents)
    raise KeyError(key)


def _image(png: bytes, caption: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    text = html.escape(caption)
    return (f'<figure><img alt="{text}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{text}</figcaption></figure>")


def blocks_to_html(blocks: Sequence[Block], title: str,
                   plot: Callable[[str], bytes] | None = None) -> str:
    """A complete HTML page from report blocks; ``plot(key)`` draws plot blocks."""
    body: list[str] = []
    can_plot = plot is not None and plots.available()
    missing_noted = False
    for block in blocks:
        if block.kind == "heading":
            level = min(max(block.level, 1), 6)
            body.append(f"<h{level}>{html.escape(block.text)}</h{level}>")
        elif block.kind == "paragraph":
            body.append(f"<p>{html.escape(block.text)}</p>")
        elif block.kind == "note":
            body.append(f'<p class="note">{html.escape(block.text)}</p>')
        elif block.kind == "list":
            items = "".join(f"<li>{html.escape(i)}</li>" for i in block.items)
            body.append(f"<ul>{items}</ul>")
        elif block.kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                           for row in block.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif block.kind == "plot":
            if can_plot and plot is not None:
                try:
                    body.append(_image(plot(block.text), block.caption))
                except Exception as e:  # noqa: BLE001 - a plot must not cost the report
                    body.append(f'<p class="note">{html.escape(block.caption)}: could not be '
                                f"drawn ({html.escape(str(e))}).</p>")
            elif not missing_noted:
                body.append(f'<p class="note">{html.escape(plots.MISSING_NOTE)}</p>')
                missing_noted = True
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def render_html(data: ReportData) -> str:
    """The full self-contained HTML report of a run or an estimate."""
    return blocks_to_html(build_blocks(data), f"wattlm report: {data.title}",
                          lambda key: plot_for(data, key))
