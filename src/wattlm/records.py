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
from wattlm.results import (
    ESTIMATE_KINDS,
    Assumption,
    EstimateResult,
    Footprint,
    assumptions_of,
    estimate_kind,
)
from wattlm.units import Energy, Mass, Provenance, Volume, g_to_kg, j_to_kwh

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
