"""Everyday equivalents of a footprint (km by car, smartphone charges, household-days).

Each comes from ``carbon/data/equivalents.csv`` with its source: the US EPA Greenhouse Gas
Equivalencies Calculator (car, smartphone) and the US EIA (household electricity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wattlm.carbon._tables import parse_float, read_table
from wattlm.errors import DataError, InvalidInputError
from wattlm.units import M_PER_KM, kg_to_g

__all__ = ["Equivalent", "equivalents"]

_TABLE = "equivalents.csv"


@dataclass(frozen=True)
class Equivalent:
    """``value`` ``unit`` of ``label`` (e.g. 12.3 km of driving an average car)."""

    key: str
    label: str
    value: float
    unit: str
    source: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {"key": self.key, "label": self.label, "value": self.value, "unit": self.unit,
                "source": self.source}

    def __str__(self) -> str:
        from wattlm._format import format_length, format_number

        if self.unit == "km":  # 3.32e-06 km reads as 3.32 mm
            return f"{format_length(self.value * M_PER_KM)} of {self.label}"
        if self.unit in self.label.split():  # "smartphone charges", "days of electricity ..."
            return f"{format_number(self.value)} {self.label}"
        return f"{format_number(self.value)} {self.unit} of {self.label}"


def _check(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def equivalents(emissions_kg: float, energy_kwh: float) -> list[Equivalent]:
    """Everyday equivalents of ``emissions_kg`` (kg CO2e) and ``energy_kwh`` (kWh).

    Emission-based: km by an average US gasoline car, smartphone charges (EPA).
    Energy-based: days of an average US home's electricity (EIA).

    Raises:
        InvalidInputError: a negative or non-finite input.
    """
    emissions_g = kg_to_g(_check("emissions_kg", emissions_kg))
    energy = _check("energy_kwh", energy_kwh)
    out: list[Equivalent] = []
    for row in read_table(_TABLE):
        per_unit = parse_float(row["amount_per_unit"], _TABLE, "amount_per_unit")
        if row["basis"] == "emissions":
            amount = emissions_g
        elif row["basis"] == "energy":
            amount = energy
        else:
            raise DataError(f"carbon/data/{_TABLE}: basis must be emissions or energy, "
                            f"got {row['basis']!r}")
        out.append(Equivalent(row["key"], row["label"], amount / per_unit, row["unit"],
                              f"{row['source']} <{row['source_url']}>"))
    return out
