"""The dashboard's HTML pages: the runs list, one run, and error pages.

A run page is the HTML report of :mod:`wattlm.report` (same blocks, same escaping) with the
PNG plots replaced by a server-drawn SVG power chart and a navigation bar added. Every user
string (project, command, device names, warnings) goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Sequence
from urllib.parse import urlencode

from wattlm._format import format_duration, format_energy, format_mass
from wattlm.carbon.accounting import emissions_of
from wattlm.dashboard.chart import power_svg
from wattlm.records import DeviceInfo, RunRecord, Sample
from wattlm.report._data import build_report_data
from wattlm.report._sections import Block, build_blocks
from wattlm.report.html import blocks_to_html

__all__ = ["error_page", "run_page", "runs_page"]

_CSS_LINK = '<link rel="stylesheet" href="/static/dashboard.css">'


def _nav(extra: str = "") -> str:
    return (f'<nav><a href="/">wattlm runs</a>{extra}'
            '<span class="api"><a href="/api/runs">JSON</a></span></nav>')


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n{_CSS_LINK}\n</head>\n<body>\n{body}\n"
            "</body>\n</html>\n")


def _run_href(run_id: int | None) -> str:
    return f"/runs/{int(run_id)}" if run_id is not None else "/"


def runs_page(records: Sequence[RunRecord], *, project: str | None, projects: Sequence[str],
              location: str, limit: int) -> str:
    """The list of runs, newest first, with a project filter (a plain GET form).

    Args:
        records: the runs to list (already filtered and limited).
        project: the active project filter, if any.
        projects: known project names, offered as suggestions.
        location: where the store is, shown in the header.
        limit: how many runs at most were asked for.
    """
    options = "".join(f'<option value="{html.escape(p, quote=True)}"></option>'
                      for p in projects)
    current = html.escape(project or "", quote=True)
    form = ('<form method="get" action="/" class="filter"><label>project '
            f'<input name="project" list="projects" value="{current}"></label>'
            f'<datalist id="projects">{options}</datalist> '
            f'<label>at most <input name="limit" type="number" min="1" value="{limit}"></label> '
            '<button type="submit">filter</button>'
            + (' <a href="/">all projects</a>' if project else "") + "</form>")
    heading = "Runs" + (f" of project {html.escape(project)}" if project else "")
    if not records:
        table = ("<p>No runs here yet: measure one with <code>wattlm run -- CMD</code> or "
                 "<code>with wattlm.track(): ...</code></p>")
    else:
        rows = []
        for r in records:
            project_href = "/?" + urlencode({"project": r.project})
            grams = emissions_of(r)  # running / interrupted: what was measured so far
            state = r.status + (" (degraded)" if r.degraded else "")
            rows.append(
                "<tr>"
                f'<td><a href="{_run_href(r.id)}">{r.id}</a></td>'
                f"<td>{html.escape(r.started_at)}</td>"
                f'<td><a href="{html.escape(project_href, quote=True)}">'
                f"{html.escape(r.project)}</a></td>"
                f'<td class="num">{format_duration(r.duration_s)}</td>'
                f'<td class="num">{format_energy(r.energy_j)}</td>'
                f'<td class="num">{format_mass(grams)}</td>'
                f"<td>{html.escape(r.region or '-')}</td>"
                f"<td>{html.escape(r.provenance.value if r.provenance else '-')}</td>"
                f"<td>{html.escape(state)}</td>"
                "</tr>")
        table = ("<table><thead><tr><th>run</th><th>started</th><th>project</th>"
                 "<th>duration</th><th>energy</th><th>emissions (CO2e)</th>"
                 "<th>region</th><th>provenance</th><th>status</th></tr></thead><tbody>"
                 + "".join(rows) + "</tbody></table>")
    body = (f"{_nav()}\n<h1>{heading}</h1>\n<p class=\"note\">Store: {html.escape(location)}. "
            f"Newest first, at most {limit}.</p>\n{form}\n{table}")
    return _page("wattlm runs", body)


def run_page(record: RunRecord, devices: Sequence[DeviceInfo], samples: Sequence[Sample]) -> str:
    """One run: the report's figures, devices, phases, footprint and warnings, and a power chart."""
    data = build_report_data(record, devices=list(devices), samples=list(samples))
    marker = f"wattlm-power-chart-{secrets.token_hex(8)}"  # unguessable: no user text matches
    chart_blocks = [Block("heading", "Power over time"), Block("paragraph", marker)]
    blocks: list[Block] = []
    for block in build_blocks(data):
        if block.kind == "plot":
            continue
        if block.kind == "heading" and block.text == "Plots":  # the chart replaces the PNGs
            blocks += chart_blocks
            continue
        blocks.append(block)
    if chart_blocks[1] not in blocks:  # no "Plots" section: put the chart before the method
        at = next((i for i, b in enumerate(blocks) if b.kind == "heading"
                   and b.text in ("Method", "Warnings")), len(blocks))
        blocks[at:at] = chart_blocks
    page = blocks_to_html(blocks, f"wattlm run {record.id}: {record.project}")
    svg = power_svg(devices, samples)
    chart = (f'<figure class="power">{svg}<figcaption>Power of each device between stored '
             f"samples (ΔE/Δt); {len(samples)} samples stored.</figcaption></figure>"
             if svg is not None else
             f'<p class="note">Too few samples to draw power over time ({len(samples)} '
             "stored).</p>")
    page = page.replace(f"<p>{marker}</p>", chart, 1)
    run_id = int(record.id) if record.id is not None else 0
    nav = _nav(f' / run {run_id} · <a href="/api/runs/{run_id}">JSON</a> · '
               f'<a href="/api/runs/{run_id}/samples">samples JSON</a> · '
               f'<a href="/?{html.escape(urlencode({"project": record.project}), quote=True)}">'
               f"other runs of {html.escape(record.project)}</a>")
    page = page.replace("</head>", f"{_CSS_LINK}\n</head>", 1)
    return page.replace("<body>\n", f"<body>\n{nav}\n", 1)


def error_page(status: int, title: str, message: str) -> str:
    """A small page for 400, 404 and 500 answers (message escaped)."""
    body = (f"{_nav()}\n<h1>{status} {html.escape(title)}</h1>\n<p>{html.escape(message)}</p>\n"
            f'<p><a href="/">Back to the runs</a></p>')
    return _page(f"{status} {title}", body)

