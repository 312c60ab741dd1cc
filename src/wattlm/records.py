"""The records that flow through wattlm (units in field names).

``DeviceInfo`` describes one energy channel a sensor provides; the sampler produces ``Sample``s
(cumulative joules per channel); the tracker turns them into a ``RunRecord`` with per-device and
per-phase energy; accounting turns energy into a ``Footprint``. All are plain dataclasses that
convert to and from JSON-ready dicts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from wattlm.errors import InvalidInputError
from wattlm.units import Provenance, Range, g_to_kg, j_to_kwh

__all__ = [
    "DeviceEnergy",
    "DeviceInfo",
    "Footprint",
    "PhaseRecord",
    "RunRecord",
    "Sample",
]

DEVICE_KINDS = ("cpu", "gpu", "memory", "psys", "other", "api")


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


@dataclass(frozen=True)
class Footprint:
    """Energy, operational and embodied emissions and water of a run or an estimate.

    Every figure is a :class:`~wattlm.units.Range` carrying its provenance. ``assumptions``
    lists what was used (PUE, intensity, its year and source, lifetime, ...), each entry a dict
    with at least ``value`` and ``source`` and ``provenance``.
    """

    energy_kwh: Range
    emissions_kg: Range
    embodied_kg: Range
    water_l: Range
    assumptions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def total_kg(self) -> Range:
        """Operational plus embodied emissions."""
        return self.emissions_kg + self.embodied_kg

    def per_unit(
        self, *, tokens: float | None = None, requests: float | None = None,
        samples: float | None = None,
    ) -> dict[str, Any]:
        """Software Carbon Intensity (ISO/IEC 21031): ``(E*I + M) / R``.

        Give exactly one functional unit. Tokens are reported per 1,000 tokens; requests and
        samples per one. Returns ``{"unit", "sci_g", "energy_j", "water_ml"}``, values as Ranges.
        """
        given = {k: v for k, v in (("tokens", tokens), ("requests", requests),
                                   ("samples", samples)) if v is not None}
        if len(given) != 1:
            raise InvalidInputError("per_unit needs exactly one of tokens=, requests=, samples=")
        unit, count = next(iter(given.items()))
        if count <= 0:
            raise InvalidInputError(f"per_unit: {unit} must be > 0, got {count!r}")
        per = count / 1000.0 if unit == "tokens" else count
        label = "1000 tokens" if unit == "tokens" else unit.rstrip("s")
        return {
            "unit": label,
            "sci_g": self.total_kg * (1000.0 / per),
            "energy_j": self.energy_kwh * (3.6e6 / per),
            "water_ml": self.water_l * (1000.0 / per),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; each Range becomes ``{"low", "central", "high", "provenance"}``."""
        return {
            "energy_kwh": self.energy_kwh.to_dict(),
            "emissions_kg": self.emissions_kg.to_dict(),
            "embodied_kg": self.embodied_kg.to_dict(),
            "water_l": self.water_l.to_dict(),
            "total_kg": self.total_kg.to_dict(),
            "assumptions": self.assumptions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Footprint:
        """Inverse of :meth:`to_dict`."""
        return cls(
            energy_kwh=Range.from_dict(data["energy_kwh"]),
            emissions_kg=Range.from_dict(data["emissions_kg"]),
            embodied_kg=Range.from_dict(data["embodied_kg"]),
            water_l=Range.from_dict(data["water_l"]),
            assumptions=dict(data.get("assumptions", {})),
        )


@dataclass
class RunRecord:
    """One measured run, as stored and as printed (``wattlm show``, ``-o FILE``).

    ``emissions_g`` is operational emissions (energy x PUE x intensity), central value;
    ``footprint`` holds the full accounting when available.
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
