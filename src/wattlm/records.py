"""The records that flow through wattlm (units in field names).

``DeviceInfo`` describes one energy channel a sensor provides; the sampler produces ``Sample``s
(cumulative joules per channel); the tracker turns them into a ``RunRecord`` with per-device and
per-phase energy; accounting turns energy into a ``Footprint``. All are plain dataclasses that
convert to and from JSON-ready dicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
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
    g_to_kg,
    j_to_kwh,
)

__all__ = [
    "Assumption",
    "DeviceEnergy",
    "DeviceInfo",
    "ESTIMATE_KINDS",
    "EstimateResult",
    "Footprint",
    "PhaseRecord",
    "RunRecord",
    "Sample",
    "assumptions_of",
    "estimate_kind",
]

DEVICE_KINDS = ("cpu", "gpu", "memory", "psys", "other")


@dataclass(frozen=True)
class DeviceInfo:
    """One energy channel: a GPU, a RAPL domain, the modelled CPU or memory.

    ``update_period_s`` is how often the underlying counter refreshes (0 when unknown); windows
    shorter than it are flagged. ``node`` and ``rank`` are set in distributed runs; ``model``
    is the hardware's own name where the backend knows it (``NVIDIA H100 80GB HBM3``).
    """

    name: str
    kind: str
    provenance: Provenance
    update_period_s: float = 0.0
    node: str | None = None
    rank: int | None = None
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = asdict(self)
        out["provenance"] = self.provenance.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceInfo:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"], kind=data["kind"], provenance=Provenance(data["provenance"]),
            update_period_s=float(data.get("update_period_s", 0.0)),
            node=data.get("node"), rank=data.get("rank"), model=data.get("model"),
        )


@dataclass(frozen=True)
class Sample:
    """Cumulative energy (J) of each channel at wall-clock time ``time_s`` (Unix seconds).

    ``energy_j[i]`` belongs to the run's ``i``-th device; counters start at 0 when the run starts.
    """

    time_s: float
    energy_j: tuple[float, ...]


@dataclass
class DeviceEnergy:
    """Energy of one channel over a run or a phase; ``model`` is the hardware's own name."""

    name: str
    kind: str
    energy_j: float
    provenance: Provenance
    mean_power_w: float = 0.0
    peak_power_w: float = 0.0
    node: str | None = None
    rank: int | None = None
    degraded: bool = False
    model: str | None = None

    def __post_init__(self) -> None:
        self.peak_power_w = max(self.peak_power_w, self.mean_power_w)  # see RunRecord

    @property
    def energy(self) -> Energy:
        """IT energy of this channel (J, with its provenance)."""
        return Energy.exact(self.energy_j, self.provenance)

    @property
    def energy_kwh(self) -> float:
        """Energy in kWh."""
        return j_to_kwh(self.energy_j)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (adds ``energy_kwh``)."""
        out = asdict(self)
        out["provenance"] = self.provenance.value
        out["energy_kwh"] = self.energy_kwh
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceEnergy:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"], kind=data["kind"], energy_j=float(data["energy_j"]),
            provenance=Provenance(data["provenance"]),
            mean_power_w=float(data.get("mean_power_w", 0.0)),
            peak_power_w=float(data.get("peak_power_w", 0.0)),
            node=data.get("node"), rank=data.get("rank"), degraded=bool(data.get("degraded")),
            model=data.get("model"),
        )


@dataclass
class PhaseRecord:
    """A named phase of a run; nested phases have names joined by ``/`` (``train/epoch-1``)."""

    name: str
    start_s: float
    duration_s: float
    energy_j: float
    device_energy_j: dict[str, float] = field(default_factory=dict)

    @property
    def energy(self) -> Energy:
        """IT energy of the phase (J)."""
        return Energy.exact(self.energy_j)

    @property
    def energy_kwh(self) -> float:
        """Energy in kWh."""
        return j_to_kwh(self.energy_j)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (adds ``energy_kwh``)."""
        out = asdict(self)
        out["energy_kwh"] = self.energy_kwh
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhaseRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"], start_s=float(data["start_s"]),
            duration_s=float(data["duration_s"]), energy_j=float(data["energy_j"]),
            device_energy_j={k: float(v) for k, v in data.get("device_energy_j", {}).items()},
        )


_ASSUMPTION_KEYS = ("value", "unit", "source", "provenance")
_TOKENS_PER_UNIT = 1000.0  # SCI per 1,000 tokens


@dataclass(frozen=True)
class Assumption(Mapping[str, Any]):
    """One input of an accounting or an estimate: its value, unit, source and provenance.

    ``details`` holds what else the source says (``year``, ``region``, ``low``/``high``,
    ``period``...). An Assumption reads like the dict it is stored as (``a["value"]``,
    ``a.get("source")``), so JSON and older callers see the same keys.
    """

    value: Any
    unit: str = ""
    source: str = ""
    provenance: Provenance | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.provenance is not None and not isinstance(self.provenance, Provenance):
            object.__setattr__(self, "provenance", Provenance(self.provenance))

    def to_dict(self) -> dict[str, Any]:
        """``{"value", "unit", "source", "provenance", **details}`` for JSON."""
        return {"value": self.value, "unit": self.unit, "source": self.source,
                "provenance": self.provenance.value if self.provenance else None,
                **self.details}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Any) -> Assumption:
        """An Assumption from a stored dict (or a bare value: no unit, no source)."""
        if isinstance(data, Assumption):
            return data
        if not isinstance(data, Mapping):
            return cls(data)
        prov = data.get("provenance")
        return cls(data.get("value"), str(data.get("unit") or ""), str(data.get("source") or ""),
                   Provenance(prov) if prov else None,
                   {k: v for k, v in data.items() if k not in _ASSUMPTION_KEYS})

    def __getitem__(self, key: str) -> Any:
        if key in _ASSUMPTION_KEYS:
            return self.to_dict()[key]
        return self.details[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(_ASSUMPTION_KEYS) + len(self.details)


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
    assumptions: dict[str, Assumption]
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


@dataclass
class RunRecord:
    """One measured run, as stored and as printed (``wattlm show``, ``-o FILE``).

    Stored fields are floats in base units (``energy_j``, ``emissions_g``, ``duration_s``);
    ``emissions_g`` is operational emissions (energy x PUE x intensity), central value, and
    ``footprint`` holds the full accounting when available. The typed views ``energy``,
    ``facility_energy``, ``emissions``, ``embodied``, ``water`` and ``total`` have the same
    names and meaning as on :class:`Footprint` and the estimates; a figure that is not known
    (a run not yet accounted) is None, never 0.
    """

    id: int | None
    project: str
    started_at: str
    duration_s: float
    energy_j: float
    devices: list[DeviceEnergy] = field(default_factory=list)
    phases: list[PhaseRecord] = field(default_factory=list)
    region: str | None = None
    intensity_g_per_kwh: float | None = None
    pue: float = 1.0
    emissions_g: float = 0.0
    provenance: Provenance | None = None
    degraded: bool = False
    warnings: list[str] = field(default_factory=list)
    status: str = "finished"
    exit_code: int | None = None
    command: list[str] | None = None
    host: str = ""
    mean_power_w: float = 0.0
    peak_power_w: float = 0.0
    baseline_power_w: float | None = None
    net_energy_j: float | None = None
    footprint: Footprint | None = None
    distributed: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The peak over windows that cover the run is at least the run's mean; a sampler peak
        # below it means windows were left out (too short to trust), so the mean is the best
        # lower bound of the peak. The one place this is enforced, for every reader.
        self.peak_power_w = max(self.peak_power_w, self.mean_power_w)

    @property
    def energy(self) -> Energy:
        """IT (device) energy, before PUE (J, with the weakest device provenance)."""
        if self.footprint is not None:
            return self.footprint.energy
        return Energy.exact(self.energy_j, self.provenance)

    @property
    def facility_energy(self) -> Energy:
        """IT energy x PUE (J)."""
        if self.footprint is not None:
            return self.footprint.facility_energy
        return Energy.of(self.energy * self.pue)

    @property
    def emissions(self) -> Mass | None:
        """Operational emissions (g CO2e); None when the run has not been accounted."""
        if self.footprint is not None:
            return self.footprint.emissions
        if self.intensity_g_per_kwh is None:
            return None
        return Mass.of(self.energy.kwh * self.pue * self.intensity_g_per_kwh)

    @property
    def embodied(self) -> Mass | None:
        """The run's share of manufacturing emissions (g CO2e); None when not accounted."""
        return self.footprint.embodied if self.footprint is not None else None

    @property
    def water(self) -> Volume | None:
        """Water (L); None when not accounted."""
        return self.footprint.water if self.footprint is not None else None

    @property
    def total(self) -> Mass | None:
        """Operational plus embodied emissions (g CO2e); None when not accounted."""
        return self.footprint.total if self.footprint is not None else None

    def part(self, name: str) -> Footprint | None:
        """The footprint of one phase or device (by name), as its share of the run's.

        Every figure is the run's scaled by the part's share of the run's energy (exact for a
        constant intensity; with an intensity series, the run's mean intensity). None when the
        run has no footprint yet.

        Raises:
            InvalidInputError: no phase or device has this name.
        """
        found = [p.energy_j for p in self.phases if p.name == name] or [
            d.energy_j for d in self.devices if d.name == name]
        if not found:
            known = [p.name for p in self.phases] + [d.name for d in self.devices]
            raise InvalidInputError(f"run {self.id} has no phase or device {name!r}; it has: "
                                    f"{', '.join(known) or 'none'}")
        fp = self.footprint
        if fp is None:
            return None
        share = found[0] / self.energy_j if self.energy_j > 0 else 0.0
        return Footprint(energy=Energy.exact(found[0], fp.energy.provenance),
                         emissions=fp.emissions * share, embodied=fp.embodied * share,
                         water=fp.water * share, assumptions=fp.assumptions,
                         facility_energy=fp.facility_energy * share)

    @property
    def energy_kwh(self) -> float:
        """Gross energy in kWh (device energy, before PUE)."""
        return j_to_kwh(self.energy_j)

    @property
    def net_energy_kwh(self) -> float | None:
        """Energy above the idle baseline in kWh, when a baseline was taken."""
        return None if self.net_energy_j is None else j_to_kwh(self.net_energy_j)

    @property
    def emissions_kg(self) -> float:
        """Operational emissions in kg CO2e (central value)."""
        return g_to_kg(self.emissions_g)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the interface names (``energy_kwh``, ``emissions_kg``, ...)."""
        return {
            "id": self.id,
            "project": self.project,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "energy_j": self.energy_j,
            "energy_kwh": self.energy_kwh,
            "net_energy_kwh": self.net_energy_kwh,
            "net_energy_j": self.net_energy_j,
            "baseline_power_w": self.baseline_power_w,
            "emissions_g": self.emissions_g,
            "emissions_kg": self.emissions_kg,
            "region": self.region,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "pue": self.pue,
            "provenance": self.provenance.value if self.provenance else None,
            "degraded": self.degraded,
            "warnings": list(self.warnings),
            "status": self.status,
            "exit_code": self.exit_code,
            "command": self.command,
            "host": self.host,
            "mean_power_w": self.mean_power_w,
            "peak_power_w": self.peak_power_w,
            "devices": [d.to_dict() for d in self.devices],
            "phases": [p.to_dict() for p in self.phases],
            "footprint": self.footprint.to_dict() if self.footprint else None,
            "distributed": self.distributed,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Inverse of :meth:`to_dict`."""
        prov = data.get("provenance")
        fp = data.get("footprint")
        return cls(
            id=data.get("id"), project=data.get("project", ""),
            started_at=data.get("started_at", ""), duration_s=float(data.get("duration_s", 0.0)),
            energy_j=float(data.get("energy_j", 0.0)),
            devices=[DeviceEnergy.from_dict(d) for d in data.get("devices", [])],
            phases=[PhaseRecord.from_dict(p) for p in data.get("phases", [])],
            region=data.get("region"), intensity_g_per_kwh=data.get("intensity_g_per_kwh"),
            pue=float(data.get("pue", 1.0)), emissions_g=float(data.get("emissions_g", 0.0)),
            provenance=Provenance(prov) if prov else None,
            degraded=bool(data.get("degraded")), warnings=list(data.get("warnings", [])),
            status=data.get("status", "finished"), exit_code=data.get("exit_code"),
            command=data.get("command"), host=data.get("host", ""),
            mean_power_w=float(data.get("mean_power_w", 0.0)),
            peak_power_w=float(data.get("peak_power_w", 0.0)),
            baseline_power_w=data.get("baseline_power_w"), net_energy_j=data.get("net_energy_j"),
            footprint=Footprint.from_dict(fp) if fp else None,
            distributed=data.get("distributed"), extra=dict(data.get("extra", {})),
        )
