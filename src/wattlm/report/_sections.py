"""The report as a list of blocks (headings, paragraphs, tables, plots) shared by Markdown and HTML.

Blocks hold plain, unescaped text; each renderer escapes for its own format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wattlm._format import (
    MISSING,
    format_count,
    format_duration,
    format_energy,
    format_length,
    format_number,
    format_power,
    format_range,
)
from wattlm.report._data import EquivalentRow, ReportData
from wattlm.units import M_PER_KM, Energy, Range, kwh_to_j

__all__ = ["Block", "assumption_rows", "build_blocks", "embodied_text", "energy_text",
           "equivalent_text", "mass_text", "plot_specs", "volume_text"]


@dataclass(frozen=True)
class Block:
    """One piece of a report.

    ``kind`` is ``heading`` (``level``, ``text``), ``paragraph`` (``text``), ``table``
    (``headers``, ``rows``), ``list`` (``items``), ``plot`` (``text`` = plot key, ``caption``)
    or ``note`` (``text``).
    """

    kind: str
    text: str = ""
    level: int = 2
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    items: tuple[str, ...] = ()
    caption: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def energy_text(value_kwh: Range | None) -> str:
    """An energy Range given in kWh, printed by the one formatter (``1.23 kWh (1.1–1.4 kWh)``)."""
    if value_kwh is None:
        return MISSING
    return format_range(Energy(kwh_to_j(value_kwh.low), kwh_to_j(value_kwh.central),
                               kwh_to_j(value_kwh.high)), "energy")


def mass_text(value_g: Range | None) -> str:
    """Emissions given in g, in mg, g, kg, t or kt CO2e, whichever reads best."""
    return MISSING if value_g is None else f"{format_range(value_g, 'mass')} CO2e"


def volume_text(value_l: Range | None) -> str:
    """Water given in L, in mL, L or m³."""
    return format_range(value_l, "volume")


def equivalent_text(e: EquivalentRow) -> str:
    """``label: value unit`` (``smartphone charges: 0.1 charges``)."""
    if e.unit == "km":
        return f"{e.label}: {format_length(e.value * M_PER_KM)}"
    return f"{e.label}: {format_number(e.value)} {e.unit}"


def embodied_text(data: ReportData) -> str:
    """The embodied share, or why it was not counted (instead of a bare "0 g")."""
    entry = data.assumptions.get("embodied")
    source = str(entry.get("source") or "") if isinstance(entry, Mapping) else ""
    if source.startswith("not counted") and (data.embodied_g is None
                                              or data.embodied_g.high == 0):
        return source
    return mass_text(data.embodied_g)


def _value_text(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(float(value))
    return str(value if value is not None else "-")


def assumption_rows(assumptions: dict[str, Any]) -> tuple[tuple[str, str, str, str], ...]:
    """``(name, value with unit and low–high, source, provenance)`` per assumption."""
    rows = []
    for name, entry in sorted(assumptions.items()):
        if name == "warnings":  # shown under Warnings
            continue
        if not isinstance(entry, Mapping):
            entry = {"value": entry}
        text = _value_text(entry.get("value"))
        low, high = entry.get("low"), entry.get("high")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low != high:
            text += f" ({format_number(float(low))}–{format_number(float(high))})"
        if entry.get("unit") and entry.get("value") is not None:
            text += f" {entry['unit']}"
        rows.append((name, text, str(entry.get("source") or "-"),
                     str(entry.get("provenance") or "-")))
    return tuple(rows)


def _prov(value: Range | None) -> str:
    return value.provenance.value if value is not None and value.provenance else "-"


def plot_specs(data: ReportData) -> list[tuple[str, str]]:
    """The plots this report would show: ``(key, caption)``."""
    specs: list[tuple[str, str]] = []
    if data.samples and data.device_infos and len(data.samples) >= 2:
        specs.append(("power", "Power of each device over the run"))
    if data.devices or data.phases:
        specs.append(("energy", "Energy by device and by phase"))
    elif data.components:
        specs.append(("energy", "Energy by component"))
    specs.append(("emissions", "Emissions (low–high whiskers) and everyday equivalents"))
    return specs


def _device_blocks(devices: list[dict[str, Any]], total_j: float) -> list[Block]:
    """Energy by device; in a distributed run with each device's node and rank, and by node."""
    distributed = any(d.get("node") is not None or d.get("rank") is not None for d in devices)
    rows = []
    for d in devices:
        share = float(d["energy_j"]) / total_j * 100 if total_j > 0 else 0.0
        row: tuple[str, ...] = (str(d["name"]), str(d["kind"]), format_energy(float(d["energy_j"])),
               f"{format_number(share)} %", format_power(float(d.get("mean_power_w", 0.0))),
               format_power(float(d.get("peak_power_w", 0.0))),
               str(d.get("provenance")) + (" (degraded)" if d.get("degraded") else ""))
        if distributed:
            row += (str(d.get("node") if d.get("node") is not None else "-"),
                    str(d.get("rank") if d.get("rank") is not None else "-"))
        rows.append(row)
    headers = ("device", "kind", "energy", "share", "mean power", "peak power", "provenance")
    blocks = [Block("heading", "Energy by device"), Block(
        "table", headers=headers + (("node", "rank") if distributed else ()), rows=tuple(rows))]
    if distributed:
        by_node: dict[str, list[float]] = {}
        for d in devices:
            entry = by_node.setdefault(str(d.get("node") or "-"), [0.0, 0.0])
            entry[0] += float(d["energy_j"])
            entry[1] += 1
        blocks += [Block("heading", "Energy by node", level=3), Block(
            "table", headers=("node", "devices", "energy", "share"), rows=tuple(
                (node, format_count(count), format_energy(energy),
                 f"{format_number(energy / total_j * 100)} %" if total_j > 0 else "-")
                for node, (energy, count) in sorted(by_node.items())))]
    return blocks


def build_blocks(data: ReportData) -> list[Block]:
    """The report's content, in order."""
    blocks: list[Block] = [Block("heading", f"Energy and carbon report: {data.title}", level=1)]
    provenance = data.provenance.value if data.provenance else "unknown"
    where = f" in {data.region}" if data.region else ""
    weakest = ("the weakest source among the devices" if data.kind == "measured run"
               else "the weakest of the inputs")
    blocks.append(Block("paragraph", (
        f"This {data.kind}{where} used {energy_text(data.energy_kwh)} of electricity in its "
        f"devices ({energy_text(data.facility_energy_kwh)} with facility overhead) and "
        f"emitted {mass_text(data.emissions_g)} from that electricity. Energy figures are "
        f"{provenance} ({weakest}).")))

    fig_rows = [
        ("Energy, IT equipment", energy_text(data.energy_kwh), _prov(data.energy_kwh)),
        (f"Energy incl. facility (PUE {format_number(data.pue)})",
         energy_text(data.facility_energy_kwh), _prov(data.facility_energy_kwh)),
        ("Operational emissions", mass_text(data.emissions_g), _prov(data.emissions_g)),
        ("Embodied emissions (share)", embodied_text(data), _prov(data.embodied_g)),
        ("Total emissions", mass_text(data.total_g), _prov(data.total_g)),
        ("Water", volume_text(data.water_l), _prov(data.water_l)),
    ]
    blocks += [Block("heading", "Key figures"),
               Block("table", headers=("quantity", "value (low–high)", "provenance"),
                     rows=tuple(fig_rows))]

    blocks += [Block("heading", "Location, PUE and grid intensity"), Block("table",
               headers=("item", "value", "source"), rows=(
                   ("Location", data.region or "not given",
                    "run setting" if data.kind == "measured run" else "estimate input"),
                   ("Grid carbon intensity",
                    f"{format_number(data.intensity_g_per_kwh)} g CO2e/kWh",
                    data.intensity_source),
                   ("PUE", format_number(data.pue), data.pue_source),
               ))]

    if data.facts:
        blocks += [Block("heading", "Details"),
                   Block("table", headers=("item", "value"), rows=tuple(data.facts))]

    total_j = sum(float(d.get("energy_j", 0.0)) for d in data.devices) or 0.0
    rows: list[tuple[str, ...]]
    if data.devices:
        blocks += _device_blocks(data.devices, total_j)
    if data.phases:
        rows = []
        for p in data.phases:
            share = float(p["energy_j"]) / total_j * 100 if total_j > 0 else 0.0
            rows.append((str(p["name"]), format_duration(float(p["duration_s"])),
                         format_energy(float(p["energy_j"])), f"{format_number(share)} %"))
        blocks += [Block("heading", "Energy by phase"), Block(
            "paragraph", "Nested phases (a/b) are part of their parent; shares are of the "
                         "run's total."),
            Block("table", headers=("phase", "duration", "energy", "share"),
                  rows=tuple(rows))]

    if data.components:
        total = sum(v for _, v in data.components)
        rows = [(name, format_energy(kwh_to_j(value)),
                 f"{format_number(value / total * 100)} %" if total > 0 else "-")
                for name, value in data.components]
        blocks += [Block("heading", "Energy by component"), Block(
            "table", headers=("component", "energy", "share"), rows=tuple(rows))]

    blocks.append(Block("heading", "Plots", extra={"kind": data.kind}))
    for key, caption in plot_specs(data):
        blocks.append(Block("plot", key, caption=caption))

    if data.per_unit:
        rows = [(str(r["unit"]), mass_text(r["sci"]), format_range(r["energy"], "energy_j"),
                 volume_text(r["water"]))
                for r in data.per_unit]
        blocks += [Block("heading", "Per functional unit (SCI, ISO/IEC 21031)"),
                   Block("paragraph", "SCI = (E·I + M) / R: operational plus embodied "
                                      "emissions per functional unit R."),
                   Block("table", headers=("per", "SCI", "energy", "water"), rows=tuple(rows))]

    if data.equivalents:
        blocks += [Block("heading", "Equivalents"), Block("list", items=tuple(
            equivalent_text(e) for e in data.equivalents)),
            Block("paragraph", "Sources: " + "; ".join(sorted({e.source
                                                                for e in data.equivalents})))]

    blocks += [Block("heading", "Method"), Block("paragraph", data.method)]
    if data.assumptions:
        blocks += [Block("heading", "Assumptions"), Block(
            "table", headers=("assumption", "value (low–high) unit", "source", "provenance"),
            rows=assumption_rows(data.assumptions))]
    blocks.append(Block("heading", "Warnings"))
    if data.warnings:
        blocks.append(Block("list", items=tuple(data.warnings)))
    else:
        blocks.append(Block("paragraph", "None."))
    from wattlm import __version__

    blocks.append(Block("note", f"Generated by wattlm {__version__} on {data.created_at}. "
                                "Provenance: measured = hardware counter, integrated = sampled "
                                "power, modelled = utilisation x TDP, estimated = analytic "
                                "model, assumed = a default nobody set."))
    return blocks
