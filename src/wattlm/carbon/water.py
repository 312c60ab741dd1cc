"""Water: on-site cooling (WUE) and the water consumed to generate the electricity (EWIF).

``water_l = energy_kwh * WUE_site + energy_kwh * PUE * EWIF_grid`` where WUE is litres per kWh
of IT energy and EWIF litres consumed (evaporated) per kWh generated.
"""

from __future__ import annotations

from dataclasses import dataclass

from wattlm._caches import cached
from wattlm.carbon._tables import parse_float, read_table
from wattlm.errors import DataError
from wattlm.units import Provenance, Range

__all__ = ["WaterFactor", "grid_water_intensity", "onsite_wue", "provider_wue"]

_TABLE = "water.csv"


@dataclass(frozen=True)
class WaterFactor:
    """A water factor (L/kWh) as a Range, with its source and period."""

    value: Range
    source: str
    period: str

    def to_assumption(self) -> dict[str, object]:
        """Entry for ``Footprint.assumptions``."""
        return {"value": self.value.central, "low": self.value.low, "high": self.value.high,
                "unit": "L/kWh", "source": self.source, "period": self.period,
                "provenance": self.value.provenance.value if self.value.provenance else None}


@cached
def _rows() -> dict[tuple[str, str], dict[str, str]]:
    return {(r["key"], r["metric"]): r for r in read_table(_TABLE)}


def _factor(key: str, metric: str, provenance: Provenance) -> WaterFactor:
    row = _rows().get((key, metric))
    if row is None:
        raise DataError(f"carbon/data/{_TABLE} has no {metric} row for {key!r}")
    low, central, high = (parse_float(row[c], _TABLE, c) for c in
                          ("low_l_per_kwh", "central_l_per_kwh", "high_l_per_kwh"))
    value = Range(low, central, high, provenance)
    if row["source_kind"] == "assumption":
        value = value.with_provenance(Provenance.ASSUMED)
    return WaterFactor(value, row["source"], row["period"])


def provider_wue(provider: str) -> float | None:
    """Return the provider's published on-site WUE (L/kWh), None when it publishes none."""
    row = _rows().get((provider, "wue_site"))
    if row is None or row["source_kind"] == "assumption":
        return None
    return parse_float(row["central_l_per_kwh"], _TABLE, "central_l_per_kwh")


def onsite_wue(provider: str | None, wue_l_per_kwh: float | None = None) -> WaterFactor:
    """On-site WUE: the user's value, the provider's figure, or the local-machine default."""
    if wue_l_per_kwh is not None:
        from wattlm import _validate

        value = _validate.bounded(wue_l_per_kwh, "wue_l_per_kwh", low=0.0, unit="L/kWh")
        return WaterFactor(Range.exact(value), "given by the user", "")
    return _factor(provider or "local", "wue_site", Provenance.ESTIMATED)


def grid_water_intensity(country_iso2: str | None) -> WaterFactor:
    """Water consumed per kWh generated: the US average for the US, a proxy range elsewhere."""
    if country_iso2 == "US":
        return _factor("USA", "ewif_consumption", Provenance.ESTIMATED)
    return _factor("default", "ewif_consumption", Provenance.ASSUMED)
