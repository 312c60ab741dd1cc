"""The serve-bench report: a table per level, the energy-vs-throughput curve and its knee.

Markdown or self-contained HTML (plots inline as PNG through :mod:`wattlm.report.plots`'s
Agg figure; without matplotlib the tables alone, with the usual note). Numbers go through
:mod:`wattlm._format`.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wattlm._format import format_duration, format_number, format_power, format_quantity
from wattlm.errors import InvalidInputError

__all__ = ["HEADERS", "curve_plot", "estimate_line", "latency_plot", "render", "row",
           "write_report"]

HEADERS = ("level", "run", "J/output token", "J/request", "tokens/s", "TTFT p50",
            "TTFT p99", "ITL p50", "ITL p99", "power", "idle power", "provenance")


def _j(value: float | None) -> str:
    return format_quantity(value, "energy_j")


def row(level: dict[str, Any]) -> list[str]:
    """One level as table cells (formatted for people)."""
    knee = " (knee)" if level.get("is_knee") else ""
    return [level["label"] + knee, str(level["run_id"]) if level["run_id"] is not None else "–",
            _j(level["energy_per_output_token_j"]), _j(level["energy_per_request_j"]),
            format_number(level["throughput_tokens_per_s"]),
            format_duration(level["ttft_s"]["p50"]), format_duration(level["ttft_s"]["p99"]),
            format_duration(level["itl_s"]["p50"]), format_duration(level["itl_s"]["p99"]),
            format_power(level["power_w"]), format_power(level["idle_power_w"]),
            str(level["provenance"])]


def estimate_line(level: dict[str, Any]) -> str:
    """One line: the estimator's figure for this level, or why there is none."""
    est = level.get("estimate") or {}
    if not est.get("available"):
        return f"{level['label']}: no estimator comparison ({est.get('reason', 'not run')})"
    e = est["energy_per_output_token_j"]
    return (f"{level['label']}: estimate {_j(e['central'])} ({_j(e['low'])}–{_j(e['high'])}) "
            f"per output token for {est['model']} on {est['hardware']}, batch "
            f"{est['batch_size']}; measured/estimate "
            f"{format_number(est['measured_over_estimate'])}")


def curve_plot(levels: Sequence[dict[str, Any]]) -> bytes:
    """PNG: energy per output token against throughput, the knee marked."""
    from wattlm.report.plots import _figure, _png

    pts = [(lv["throughput_tokens_per_s"], lv["energy_per_output_token_j"], lv)
           for lv in levels if lv["energy_per_output_token_j"] is not None]
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color="#4c7a34")
    for x, y, lv in pts:
        ax.annotate(lv["label"] + (" (knee)" if lv.get("is_knee") else ""), (x, y),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("throughput (output tokens/s)")
    ax.set_ylabel("energy per output token (J)")
    ax.set_title("Energy vs throughput (steady state)")
    return bytes(_png(fig))


def latency_plot(levels: Sequence[dict[str, Any]]) -> bytes:
    """PNG: TTFT and ITL (p50, p99) against throughput."""
    from wattlm.report.plots import _figure, _png

    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    xs = [lv["throughput_tokens_per_s"] for lv in levels]
    for key, name in (("ttft_s", "TTFT"), ("itl_s", "ITL")):
        for p, style in (("p50", "-"), ("p99", "--")):
            ys = [lv[key][p] if lv[key][p] is not None else float("nan") for lv in levels]
            ax.plot(xs, ys, style, marker="o", label=f"{name} {p}")
    ax.set_xlabel("throughput (output tokens/s)")
    ax.set_ylabel("seconds")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Latency vs throughput")
    return bytes(_png(fig))


def _markdown(levels: Sequence[dict[str, Any]]) -> str:
    from wattlm.serving.bench import EXCLUDED

    head = "| " + " | ".join(HEADERS) + " |\n|" + "---|" * len(HEADERS)
    rows = ["| " + " | ".join(row(lv)) + " |" for lv in levels]
    parts = ["# serve-bench report", "", f"Server {levels[0]['url']}, model "
             f"`{levels[0]['model']}`. {EXCLUDED}; each level is a stored run "
             "(`wattlm show RUN`).", "", head, *rows, "", "## Estimator comparison", ""]
    parts += [f"* {estimate_line(lv)}" for lv in levels]
    warnings = [w for lv in levels for w in lv.get("warnings", [])]
    if warnings:
        parts += ["", "## Warnings", "", *[f"* {w}" for w in warnings]]
    return "\n".join(parts) + "\n"


def _html(levels: Sequence[dict[str, Any]]) -> str:
    from wattlm.report import plots
    from wattlm.serving.bench import EXCLUDED

    def cells(tag: str, items: Sequence[str]) -> str:
        return "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in items)

    rows = "".join(f"<tr>{cells('td', row(lv))}</tr>" for lv in levels)
    body = [f"<h1>serve-bench report</h1><p>Server {html.escape(levels[0]['url'])}, model "
            f"<code>{html.escape(str(levels[0]['model']))}</code>. {html.escape(EXCLUDED)}.</p>",
            f"<table><tr>{cells('th', HEADERS)}</tr>{rows}</table>"]
    if plots.available():
        for png, caption in ((curve_plot(levels), "Energy per output token vs throughput"),
                             (latency_plot(levels), "Latency vs throughput")):
            data = base64.b64encode(png).decode("ascii")
            body.append(f"<figure><img alt=\"{caption}\" src=\"data:image/png;base64,{data}\">"
                        f"<figcaption>{caption}</figcaption></figure>")
    else:
        body.append(f"<p class=\"note\">{html.escape(plots.MISSING_NOTE)}</p>")
    body.append("<h2>Estimator comparison</h2><ul>" + "".join(
        f"<li>{html.escape(estimate_line(lv))}</li>" for lv in levels) + "</ul>")
    warnings = [w for lv in levels for w in lv.get("warnings", [])]
    if warnings:
        body.append("<h2>Warnings</h2><ul>" + "".join(
            f"<li>{html.escape(w)}</li>" for w in warnings) + "</ul>")
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>serve-bench</title>"
            "</head><body>" + "".join(body) + "</body></html>\n")


def render(levels: Sequence[dict[str, Any]], fmt: str) -> str:
    """The report as ``md`` or ``html`` text."""
    if not levels:
        raise InvalidInputError("no level to report")
    if fmt == "md":
        return _markdown(levels)
    if fmt == "html":
        return _html(levels)
    raise InvalidInputError(f"a serve-bench report is md or html, not {fmt!r}")


def write_report(levels: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Write the report; the format follows the suffix (``.md``, ``.html``)."""
    target = Path(path)
    fmt = "md" if target.suffix.lower() == ".md" else "html"
    target.write_text(render(levels, fmt), encoding="utf-8")
