"""Energy disclosure for a general-purpose AI model, in the shape of the EU AI Act's Annex XI.

Regulation (EU) 2024/1689 (the AI Act, OJ L, 12.7.2024), Article 53(1), point (a), obliges
providers of general-purpose AI models to keep technical documentation containing at least the
information in Annex XI. Annex XI, Section 1, point 2 asks for (d) the computational resources
used to train the model (e.g. number of floating-point operations), training time and other
relevant details, and (e) the known or estimated energy consumption of the model; where the
energy consumption is unknown it may be based on information about the computational
resources used. This module writes those two points, with the method, assumptions and
provenance behind each figure. It is a documentation aid, not legal advice.
"""

from __future__ import annotations

from typing import Any

from wattlm._format import format_duration, format_number
from wattlm.report._data import ReportData, build_report_data
from wattlm.report._sections import (
    Block,
    assumption_rows,
    embodied_text,
    energy_text,
    mass_text,
    volume_text,
)
from wattlm.report.markdown import blocks_to_markdown
from wattlm.units import Provenance

__all__ = ["LEGAL_BASIS", "disclosure_blocks", "render_disclosure"]

LEGAL_BASIS = (
    "Regulation (EU) 2024/1689 (Artificial Intelligence Act), Article 53(1), point (a), and "
    "Annex XI, Section 1, point 2(d) (computational resources used to train the model, "
    "training time) and point 2(e) (known or estimated energy consumption of the model; where "
    "unknown, it may be based on information about the computational resources used)."
)


def _status(data: ReportData) -> str:
    prov = data.provenance
    if prov in (Provenance.MEASURED, Provenance.INTEGRATED):
        return "known (measured with hardware energy counters or sampled power)"
    if prov == Provenance.MODELLED:
        return "estimated (modelled from utilisation and rated power; no energy counter)"
    return "estimated (analytic estimate from the computational resources used)"


def disclosure_blocks(data: ReportData, *, model_name: str | None = None,
                      provider: str | None = None) -> list[Block]:
    """The disclosure's content as report blocks."""
    name = model_name or data.title
    blocks = [Block("heading", f"Energy disclosure: {name}", level=1),
              Block("paragraph", f"Legal basis: {LEGAL_BASIS}")]
    if provider:
        blocks.append(Block("paragraph", f"Provider: {provider}"))
    blocks += [
        Block("heading", "1. Energy consumption (Annex XI, Section 1, point 2(e))"),
        Block("table", headers=("quantity", "value (low–high)", "provenance"), rows=(
            ("Status", _status(data), data.provenance.value if data.provenance else "-"),
            ("Energy of the computing equipment", energy_text(data.energy_kwh),
             str(data.energy_kwh.provenance or "-")),
            (f"Energy including data-centre overhead (PUE {format_number(data.pue)})",
             energy_text(data.facility_energy_kwh),
             str(data.facility_energy_kwh.provenance or "-")),
        )),
        Block("heading", "2. Computational resources and training time "
                         "(Annex XI, Section 1, point 2(d))"),
        Block("table", headers=("item", "value"), rows=tuple(
            [("Hardware", data.hardware),
             ("Duration", "-" if data.duration_s is None else
              format_duration(data.duration_s)),
             *(f for f in data.facts if f[0] != "Duration")])),
        Block("heading", "3. Method"), Block("paragraph", data.method),
        Block("paragraph", "Boundary: the energy of the computing equipment (accelerators, "
                           "processors and memory as measured or modelled); the facility "
                           "figure multiplies it by the power usage effectiveness (PUE)."),
    ]
    rows = assumption_rows(data.assumptions)
    blocks += [Block("heading", "4. Assumptions and sources"),
               Block("table", headers=("assumption", "value (low–high) unit", "source",
                                       "provenance"),
                     rows=tuple(rows)) if rows else Block("paragraph", "None recorded.")]
    blocks += [
        Block("heading", "5. Related figures (beyond Annex XI)"),
        Block("table", headers=("quantity", "value"), rows=(
            ("Location", data.region or "not given"),
            ("Grid carbon intensity", f"{format_number(data.intensity_g_per_kwh)} g CO2e/kWh "
                                      f"({data.intensity_source})"),
            ("Operational emissions", mass_text(data.emissions_g)),
            ("Embodied emissions (share)", embodied_text(data)),
            ("Water", volume_text(data.water_l)),
        )),
        Block("heading", "6. Limitations and warnings"),
        Block("list", items=tuple(data.warnings) or ("No warnings were recorded.",)),
        Block("note", f"Prepared with wattlm on {data.created_at}. Provenance: measured = "
                      "hardware energy counter; integrated = sampled power; modelled = "
                      "utilisation x rated power; estimated = analytic model; assumed = a "
                      "default. This document supports, and does not replace, the provider's "
                      "own technical documentation; it is not legal advice."),
    ]
    return blocks


def render_disclosure(subject: Any, *, model_name: str | None = None,
                      provider: str | None = None) -> str:
    """The energy disclosure of a run or an estimate, as Markdown."""
    data = build_report_data(subject)
    return blocks_to_markdown(disclosure_blocks(data, model_name=model_name, provider=provider))
