"""The result types shared by runs and estimates: ``Footprint``, ``Assumption``, ``EstimateResult``.

A :class:`Footprint` holds typed quantities (:class:`~wattlm.units.Energy` in J,
:class:`~wattlm.units.Mass` in g, :class:`~wattlm.units.Volume` in L) under the names every result
uses: ``energy``, ``facility_energy``, ``emissions``, ``embodied``, ``water``. Field names and
units: ``docs/api.md``. :mod:`wattlm.records` re-exports everything here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from wattlm.errors import InvalidInputError
from wattlm.units import (
    G_PER_KG,
    J_PER_KWH,
    Energy,
    Mass,
    Provenance,
    Quantity,
    Range,
    Volume,
)

__all__ = [
    "ESTIMATE_KINDS",
    "Assumption",
    "EstimateResult",
    "Footprint",
    "assumptions_of",
    "estimate_kind",
]

_ASSUMPTION_KEYS = ("value", "unit", "source", "provenance")
_TOKENS_PER_UNIT = 1000.0  # SCI per 1,000 tokens


class Assumption(dict[str, Any]):
    """One input of an accounting or an estimate: its value, unit, source and provenance.

    It is the dict it is stored as (``{"value", "unit", "source", "provenance", **details}``,
    provenance as its string), so JSON, ``isinstance(a, dict)`` and ``a["value"]`` keep working,
    with typed views: ``a.value``, ``a.unit``, ``a.source``, ``a.provenance`` (a
    :class:`~wattlm.units.Provenance`) and ``a.details`` (``year``, ``region``, ``low``/``high``,
    ``period``...).
    """

    def __init__(self, value: Any, unit: str = "", source: str = "",
                 provenance: Provenance | str | None = None,
                 details: Mapping[str, Any] | None = None) -> None:
        prov = Provenance(provenance) if provenance else None
        super().__init__(value=value, unit=unit, source=source,
                         provenance=prov.value if prov else None, **dict(details or {}))

    @property
    def value(self) -> Any:
        """The value used."""
        return self["value"]

    @property
    def unit(self) -> str:
        """Its unit (``g/kWh``, ``years``; empty for a plain number)."""
        return str(self.get("unit") or "")

    @property
    def source(self) -> str:
        """Where it came from."""
        return str(self.get("source") or "")

    @property
    def provenance(self) -> Provenance | None:
        """How strong it is (None for a value given by the user)."""
        prov = self.get("provenance")
        return Provenance(prov) if prov else None

    @property
    def details(self) -> dict[str, Any]:
        """Everything else the source says."""
        return {k: v for k, v in self.items() if k not in _ASSUMPTION_KEYS}

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for JSON."""
        return dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Any) -> Assumption:
        """An Assumption from a stored dict (or a bare value: no unit, no source)."""
        if isinstance(data, Assumption):
            return data
        if not isinstance(data, Mapping):
            return cls(data)
        return cls(data.get("value"), str(data.get("unit") or ""), str(data.get("source") or ""),
                   data.get("provenance") or None,
                   {k: v for k, v in data.items() if k not in _ASSUMPTION_KEYS})


def assumptions_of(entries: Mapping[str, Any] | None) -> dict[str, Assumption]:
    """Every entry of an assumptions mapping as an :class:`Assumption`."""
    return {str(k): Assumption.from_dict(v) for k, v in (entries or {}).items()}


def _legacy(value: Range | float, cls: type[Quantity], factor: float) -> Any:
    """A quantity from a typed value, or from a plain Range/number in the JSON unit."""
    if isinstance(value, Quantity):
        return cls.of(value)
    r = value if isinstance(value, Range) else Range.exact(float(value))
    return cls(r.low * factor, r.central * factor, r.high * factor, r.provenance)


@dataclass(frozen=True, init=False)
class Footprint:
    """Energy, operational and embodied emissions and water of a run or an estimate.

    Attributes:
        energy: IT (device) energy, before PUE (:class:`~wattlm.units.Energy`, J).
        facility_energy: ``energy`` x PUE (J).
        emissions: operational emissions, ``energy`` x PUE x grid intensity
            (:class:`~wattlm.units.Mass`, g CO2e).
        embodied: the share of manufacturing emissions (g CO2e).
        water: on-site plus grid water (:class:`~wattlm.units.Volume`, L).
        assumptions: every input used (PUE, intensity, lifetime, warnings...), each an
            :class:`Assumption`.

    ``energy_kwh``, ``emissions_kg``, ``embodied_kg``, ``water_l`` and ``total_kg`` are the
    same figures as plain Ranges in the JSON units. The constructor takes typed quantities; a
    plain Range or number is read in those JSON units (kWh, kg, L), as before.
    """

    energy: Energy
    emissions: Mass
    embodied: Mass
    water: Volume
    assumptions: dict[str, Any]  # each an Assumption (a dict with typed views)
    facility_energy: Energy

    def __init__(
        self, energy: Range | float | None = None, emissions: Range | float | None = None,
        embodied: Range | float | None = None, water: Range | float | None = None,
        assumptions: Mapping[str, Any] | None = None, *,
        facility_energy: Range | float | None = None, energy_kwh: Range | None = None,
        emissions_kg: Range | None = None, embodied_kg: Range | None = None,
        water_l: Range | None = None,
    ) -> None:
        energy = energy if energy is not None else energy_kwh
        emissions = emissions if emissions is not None else emissions_kg
        embodied = embodied if embodied is not None else embodied_kg
        water = water if water is not None else water_l
        if energy is None or emissions is None or embodied is None or water is None:
            raise InvalidInputError("Footprint needs energy, emissions, embodied and water")
        notes = assumptions_of(assumptions)
        it = _legacy(energy, Energy, J_PER_KWH)
        if facility_energy is None:
            pue = notes.get("pue")
            factor = float(pue.value) if pue is not None and isinstance(
                pue.value, (int, float)) and not isinstance(pue.value, bool) else 1.0
            facility = it * Range.exact(factor, pue.provenance if pue else None)
        else:
            facility = _legacy(facility_energy, Energy, J_PER_KWH)
        object.__setattr__(self, "energy", it)
        object.__setattr__(self, "facility_energy", facility)
        object.__setattr__(self, "emissions", _legacy(emissions, Mass, G_PER_KG))
        object.__setattr__(self, "embodied", _legacy(embodied, Mass, G_PER_KG))
        object.__setattr__(self, "water", _legacy(water, Volume, 1.0))
        object.__setattr__(self, "assumptions", notes)

    @property
    def total(self) -> Mass:
        """Operational plus embodied emissions (g CO2e)."""
        return self.emissions + self.embodied

    @property
    def warnings(self) -> list[str]:
        """The accounting's warnings (``assumptions["warnings"]``)."""
        entry = self.assumptions.get("warnings")
        return list(entry.value) if entry is not None and isinstance(entry.value, list) else []

    @property
    def energy_kwh(self) -> Range:
        """IT energy in kWh (plain Range)."""
        return self.energy.kwh

    @property
    def emissions_kg(self) -> Range:
        """Operational emissions in kg CO2e (plain Range)."""
        return self.emissions.kg

    @property
    def embodied_kg(self) -> Range:
        """Embodied emissions in kg CO2e (plain Range)."""
        return self.embodied.kg

    @property
    def water_l(self) -> Range:
        """Water in litres (plain Range)."""
        return self.water.l

    @property
    def total_kg(self) -> Range:
        """Operational plus embodied emissions in kg CO2e (plain Range)."""
        return self.total.kg

    def per_unit(
        self, *, tokens: float | None = None, requests: float | None = None,
        samples: float | None = None,
    ) -> dict[str, Any]:
        """Software Carbon Intensity (ISO/IEC 21031): ``(E*I + M) / R``.

        Give exactly one functional unit. Tokens are reported per 1,000 tokens; requests and
        samples per one. Returns ``{"unit", "sci_g", "energy_j", "water_ml"}``, values as plain
        Ranges in those units, and ``{"sci", "energy", "water"}`` as typed quantities.
        """
        given = {k: v for k, v in (("tokens", tokens), ("requests", requests),
                                   ("samples", samples)) if v is not None}
        if len(given) != 1:
            raise InvalidInputError("per_unit needs exactly one of tokens=, requests=, samples=")
        unit, count = next(iter(given.items()))
        if count <= 0:
            raise InvalidInputError(f"per_unit: {unit} must be > 0, got {count!r}")
        per = count / _TOKENS_PER_UNIT if unit == "tokens" else count
        label = "1000 tokens" if unit == "tokens" else unit.rstrip("s")
        sci, energy, water = self.total / per, self.energy / per, self.water / per
        return {"unit": label, "sci_g": sci.g, "energy_j": energy.j, "water_ml": water.ml,
                "sci": sci, "energy": energy, "water": water}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, each figure in base units and in the interface units.

        Base units: ``energy_j``, ``facility_energy_j``, ``emissions_g``, ``embodied_g``,
        ``total_g``; interface units, as before: ``energy_kwh``, ``emissions_kg``,
        ``embodied_kg``, ``water_l``, ``total_kg``. Each Range is ``{"low", "central", "high",
        "provenance"}``.
        """
        return {
            "energy_kwh": self.energy_kwh.to_dict(),
            "emissions_kg": self.emissions_kg.to_dict(),
            "embodied_kg": self.embodied_kg.to_dict(),
            "water_l": self.water_l.to_dict(),
            "total_kg": self.total_kg.to_dict(),
            "energy_j": self.energy.to_dict(),
            "facility_energy_j": self.facility_energy.to_dict(),
            "emissions_g": self.emissions.to_dict(),
            "embodied_g": self.embodied.to_dict(),
            "total_g": self.total.to_dict(),
            "assumptions": {k: v.to_dict() for k, v in self.assumptions.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Footprint:
        """Inverse of :meth:`to_dict` (reads the base-unit keys first, then the older ones)."""
        def typed(base: str, legacy: str, kind: type[Quantity]) -> Range:
            if isinstance(data.get(base), dict):
                return kind.of(Range.from_dict(data[base]))
            return Range.from_dict(data[legacy])

        facility = data.get("facility_energy_j")
        return cls(
            energy=typed("energy_j", "energy_kwh", Energy),
            emissions=typed("emissions_g", "emissions_kg", Mass),
            embodied=typed("embodied_g", "embodied_kg", Mass),
            water=Volume.of(Range.from_dict(data["water_l"])),
            assumptions=dict(data.get("assumptions", {})),
            facility_energy=Energy.of(Range.from_dict(facility))
            if isinstance(facility, dict) else None,
        )


ESTIMATE_KINDS = ("training estimate", "inference estimate", "estimate")


@runtime_checkable
class EstimateResult(Protocol):
    """What reports and what-if read from an estimate (training, inference, or any other).

    ``kind`` is one of :data:`ESTIMATE_KINDS`; ``footprint`` is the accounting of the estimate's
    IT energy (the same names and meaning as a run's: ``energy``, ``facility_energy``,
    ``emissions``, ``embodied``, ``water``); ``assumptions`` lists every input used.
    """

    @property
    def kind(self) -> str:
        """``"training estimate"``, ``"inference estimate"`` or ``"estimate"``."""

    @property
    def footprint(self) -> Footprint:
        """The accounting of the estimate's IT energy."""

    @property
    def assumptions(self) -> Mapping[str, Any]:
        """Every input and default used, by name."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""


def estimate_kind(estimate: Any) -> str:
    """The estimate's ``kind``; for estimate types that predate the attribute, their type."""
    kind = getattr(estimate, "kind", None)
    if isinstance(kind, str) and kind in ESTIMATE_KINDS:
        return kind
    names = {"TrainingEstimate": "training estimate", "InferenceEstimate": "inference estimate"}
    return names.get(type(estimate).__name__, "estimate")
