"""Hosted-API calls made inside a run (``wattlm.integrations.llm_api``), added to its record.

The calls' IT energy becomes an ``api`` device (provenance ``estimated``); their emissions,
embodied share and water, accounted in the provider's own region, join the run's footprint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wattlm.records import DeviceEnergy, Footprint, RunRecord
from wattlm.units import Provenance, Range, g_to_kg, j_to_kwh

__all__ = ["merge_api_calls"]


def merge_api_calls(record: RunRecord, calls_in: Sequence[Any]) -> None:
    """Add the API calls' IT energy as an ``api`` device, and their footprint (own region)."""
    calls, zero = list(calls_in), Range.exact(0.0)
    it_j = sum((c.energy * (1.0 / float(c.assumptions.get("pue", 1.0))) for c in calls), zero)
    emissions = sum((c.emissions for c in calls), zero)
    embodied = sum((c.embodied for c in calls), zero)
    water = sum((c.water for c in calls), zero)
    record.devices.append(DeviceEnergy(name="api", kind="api", energy_j=it_j.central,
                                       provenance=Provenance.ESTIMATED))
    record.energy_j += it_j.central
    record.emissions_g += emissions.central
    record.provenance = Provenance.weakest(record.provenance, Provenance.ESTIMATED)
    models: dict[str, int] = {}
    for c in calls:
        key = f"{c.provider}:{c.model or 'unknown'}"
        models[key] = models.get(key, 0) + 1
    record.extra["api"] = {"calls": len(calls), "energy_j": it_j.to_dict(),
                           "emissions_g": emissions.to_dict(), "embodied_g": embodied.to_dict(),
                           "water_l": water.to_dict(), "models": models}
    fp = record.footprint
    if fp is not None:
        record.footprint = Footprint(
            energy_kwh=fp.energy_kwh + it_j.map(j_to_kwh),
            emissions_kg=fp.emissions_kg + emissions.map(g_to_kg),
            embodied_kg=fp.embodied_kg + embodied.map(g_to_kg), water_l=fp.water_l + water,
            assumptions={**fp.assumptions, "api": {
                "value": len(calls), "source": "wattlm.integrations.llm_api estimates",
                "provenance": "estimated"}})
