"""One neutral description of what a report shows, built from a run or an estimate.

Every renderer (Markdown, HTML, model card, disclosure, JSON) reads a :class:`ReportData`, so a
measured run and an analytic estimate are reported the same way; only ``kind`` and the
provenance labels say which one it is. Internal units: J, s, W, g, L; kWh only for display.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from wattlm import _validate
from wattlm._format import (
    format_duration,
    format_energy,
    format_power,
    format_quantity,
    format_range,
)
from wattlm.errors import InvalidInputError, WattlmError
from wattlm.records import (
    Assumption,
    DeviceInfo,
    EstimateResult,
    Footprint,
    RunRecord,
    Sample,
    estimate_kind,
)
from wattlm.units import Provenance, Range, g_to_kg, j_to_kwh

__all__ = ["UNITS", "EquivalentRow", "ReportData", "build_report_data", "check_units"]

UNITS = ("tokens", "requests", "samples")
"""Functional units of the SCI table (``render(..., tokens=N)``, ``wattlm report --tokens N``)."""


@dataclass(frozen=True)
class EquivalentRow:
    """``value`` ``unit`` of ``label``, with its source."""

    label: str
    value: float
    unit: str
    source: str


@dataclass
class ReportData:
    """Everything a report prints, in internal units, with provenance.

    Attributes:
        kind: ``"measured run"``, ``"training estimate"``, ``"inference estimate"`` or
            ``"estimate"``.
        title: heading (the project or model name; user-supplied, escape before HTML).
        energy_kwh: IT energy (devices), before PUE.
        facility_energy_kwh: energy x PUE.
        emissions_g: operational emissions (energy x PUE x intensity); None when unknown.
        embodied_g: the run's share of manufacturing emissions (None when not accounted).
        water_l: water (None when not accounted).
        components: ``(name, kWh)`` energy by component of an estimate (accelerators, host,
            facility overhead); a run's components are its devices.
    """

    kind: str
    title: str
    subject_id: str
    created_at: str
    energy_kwh: Range
    facility_energy_kwh: Range
    emissions_g: Range | None
    embodied_g: Range | None
    water_l: Range | None
    pue: float | None
    pue_source: str
    intensity_g_per_kwh: float | None
    intensity_source: str
    region: str | None
    duration_s: float | None
    provenance: Provenance | None
    method: str
    hardware: str
    devices: list[dict[str, Any]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    assumptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    equivalents: list[EquivalentRow] = field(default_factory=list)
    per_unit: list[dict[str, Any]] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    components: list[tuple[str, float]] = field(default_factory=list)
    device_infos: list[DeviceInfo] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def total_g(self) -> Range | None:
        """Operational plus embodied emissions (None when the operational part is unknown)."""
        if self.emissions_g is None:
            return None
        return self.emissions_g + self.embodied_g if self.embodied_g else self.emissions_g

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the source record or estimate is under ``"subject"``)."""
        def rng(r: Range | None) -> dict[str, Any] | None:
            return None if r is None else r.to_dict()

        return {
            "kind": self.kind, "title": self.title, "subject_id": self.subject_id,
            "created_at": self.created_at,
            "energy_kwh": rng(self.energy_kwh),
            "facility_energy_kwh": rng(self.facility_energy_kwh),
            "emissions_g": rng(self.emissions_g), "embodied_g": rng(self.embodied_g),
            "total_g": rng(self.total_g), "water_l": rng(self.water_l),
            "pue": self.pue, "pue_source": self.pue_source,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "intensity_source": self.intensity_source, "region": self.region,
            "duration_s": self.duration_s,
            "provenance": self.provenance.value if self.provenance else None,
            "method": self.method, "hardware": self.hardware, "devices": self.devices,
            "phases": self.phases,
            "components": [{"name": n, "energy_kwh": e} for n, e in self.components],
            "assumptions": self.assumptions, "warnings": self.warnings,
            "equivalents": [e.__dict__ for e in self.equivalents],
            "per_unit": [{k: (v.to_dict() if isinstance(v, Range) else v) for k, v in row.items()}
                         for row in self.per_unit],
            "subject": self.raw,
        }


def _assumption_value(assumptions: Mapping[str, Any], key: str) -> tuple[Any, str]:
    entry = assumptions.get(key)
    if not isinstance(entry, Mapping):
        return None, ""
    return entry.get("value"), str(entry.get("source") or "")


def _equivalents(emissions_g: float, energy_kwh: float) -> list[EquivalentRow]:
    from wattlm.carbon.equivalents import equivalents

    try:
        found = equivalents(g_to_kg(max(emissions_g, 0.0)), max(energy_kwh, 0.0))
    except WattlmError:  # a report must not fail for want of an equivalent (NaN, bad table)
        return []
    return [EquivalentRow(e.label, e.value, e.unit, e.source) for e in found]


#: More functional units than this (10^18 tokens, requests or samples) is surely a mistake.
MAX_UNITS = 1e18


def check_units(units: dict[str, Any] | None) -> dict[str, float]:
    """Validate functional-unit counts (``{"tokens": 1e6}``).

    Raises:
        InvalidInputError: an unknown unit, or a count that is not a number > 0.
    """
    out: dict[str, float] = {}
    for unit, count in (units or {}).items():
        if unit not in UNITS:
            raise InvalidInputError(f"unknown functional unit {unit!r}; choose from "
                                    f"{', '.join(UNITS)}")
        if count is None:
            continue
        if not isinstance(count, (int, float)):
            raise InvalidInputError(f"{unit} must be a finite number > 0 (how many {unit} the "
                                    f"work served), got {_validate.shown(count)}")
        out[unit] = _validate.positive(count, unit, high=MAX_UNITS)
    return out


def _per_unit(footprint: Any, counts: dict[str, Any],
              labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for unit in UNITS:
        count = counts.get(unit)
        if isinstance(count, (int, float)) and not isinstance(count, bool) and count > 0:
            row = dict(footprint.per_unit(**{unit: float(count)}))
            if labels and unit in labels:
                row["unit"] = labels[unit]
            rows.append(row)
    return rows


def _run_state(record: RunRecord) -> tuple[str, str | None]:
    """(status text, degraded text or None): running and interrupted runs are said to be so."""
    status = record.status + (f" (exit code {record.exit_code})"
                              if record.exit_code is not None else "")
    if record.status in ("running", "interrupted"):
        status += ": the figures are those of what was measured so far"
    degraded = None
    if record.degraded:
        sensor = any(w.startswith(("W101", "W109")) for w in record.warnings)
        degraded = ("yes: a sensor failed during the run (see warnings)" if sensor
                    else "yes (see warnings)")
    return status, degraded


def _from_run(record: RunRecord, devices: list[DeviceInfo] | None,
              samples: list[Sample] | None, units: dict[str, float]) -> ReportData:
    from wattlm.carbon.accounting import emissions_of, footprint_of

    prov = record.provenance
    fp = footprint_of(record)  # a running or interrupted run: the energy measured so far
    energy = fp.energy.kwh if fp is not None else Range.exact(record.energy_kwh, prov)
    pue = record.pue
    intensity = record.intensity_g_per_kwh
    assumptions: dict[str, Any] = dict(fp.assumptions) if fp else {}
    pue_value, pue_source = _assumption_value(assumptions, "pue")
    int_value, int_source = _assumption_value(assumptions, "intensity")
    if isinstance(pue_value, (int, float)):
        pue = float(pue_value)
    if isinstance(int_value, (int, float)):
        intensity = float(int_value)
    emissions: Range | None
    if fp is not None:  # the footprint's energy is IT energy, before PUE
        emissions = fp.emissions.g
        embodied: Range | None = fp.embodied.g
        water: Range | None = fp.water.l
        # extra["sensor_readings"] is the sampler's reading count, not a functional unit: only
        # tokens/requests recorded with the run, or counts given by the user, are used.
        counts: dict[str, Any] = {k: record.extra.get(k) for k in ("tokens", "requests")}
        if units:
            counts = dict(units)
        per_unit = _per_unit(fp, counts)
    else:
        grams = emissions_of(record)  # a listing's summary: the stored figure; None: unknown
        emissions = (None if grams is None else
                     Range.exact(grams, Provenance.weakest(prov, Provenance.ESTIMATED)))
        embodied, water, per_unit = None, None, []
    facility = energy * pue
    device_rows = [d.to_dict() for d in record.devices]
    phase_rows = [p.to_dict() for p in record.phases]
    kinds = sorted({f"{d.kind}" for d in record.devices})
    hardware = ", ".join(d.name for d in record.devices) or "no device recorded"
    status, degraded = _run_state(record)
    facts = [
        ("Run", str(record.id) if record.id is not None else "(not saved)"),
        ("Project", record.project),
        ("Started", record.started_at or "-"),
        ("Duration", format_duration(record.duration_s)),
        ("Host", record.host or "-"),
        ("Status", status),
        ("Mean / peak power", f"{format_power(record.mean_power_w)} / "
                              f"{format_power(record.peak_power_w)}"),
    ]
    if record.command:
        facts.append(("Command", " ".join(record.command)))
    if record.net_energy_j is not None:
        facts.append(("Energy above idle baseline",
                      f"{format_energy(record.net_energy_j)} "
                      f"(baseline {format_power(record.baseline_power_w)})"))
    if degraded is not None:
        facts.append(("Degraded", degraded))
    method = (
        "Measured with wattlm: energy counters or sampled power of each device "
        f"({', '.join(kinds) or 'none'}) integrated over the run; operational emissions = "
        "energy x PUE x grid carbon intensity; embodied = manufacturing emissions x run time / "
        "device lifetime; water = on-site WUE x energy + grid water intensity x energy x PUE."
    )
    return ReportData(
        kind="measured run", title=record.project or "run",
        subject_id=str(record.id) if record.id is not None else "-",
        created_at=_now(), energy_kwh=energy, facility_energy_kwh=facility,
        emissions_g=emissions, embodied_g=embodied, water_l=water, pue=pue,
        pue_source=pue_source or "run setting", intensity_g_per_kwh=intensity,
        intensity_source=int_source or "run setting", region=record.region,
        duration_s=record.duration_s, provenance=prov, method=method, hardware=hardware,
        devices=device_rows, phases=phase_rows, assumptions=assumptions,
        warnings=list(record.warnings),
        equivalents=_equivalents(emissions.central, facility.central)
        if emissions is not None else [],
        per_unit=per_unit, facts=facts, device_infos=list(devices or []),
        samples=list(samples or []), raw=record.to_dict(),
    )


def _component_rows(raw: dict[str, Any], energy: Range, facility: Range,
                    kind: str) -> list[tuple[str, float]]:
    """Accelerators, host and facility overhead (kWh, central) of an estimate."""
    def central(key: str) -> float | None:
        value = raw.get(key)
        if isinstance(value, dict) and isinstance(value.get("central"), (int, float)):
            return float(value["central"])
        return None

    rows: list[tuple[str, float]] = []
    if kind == "inference estimate":
        acc_j, host_j = (central("accelerators_energy_per_request_j"),
                         central("host_energy_per_request_j"))
        acc = j_to_kwh(acc_j) if acc_j is not None else None
        host = j_to_kwh(host_j) if host_j is not None else None
    else:
        acc = central("accelerators_energy_kwh")
        it = central("it_energy_kwh")
        host = it - acc if it is not None and acc is not None else None
    if acc is not None:
        rows.append(("accelerators", acc))
    if host is not None and host > 0:
        rows.append(("host (CPU, memory, ...)", host))
    overhead = facility.central - energy.central
    if rows and overhead > 0:
        rows.append(("facility overhead (PUE)", overhead))
    return rows


def _from_estimate(estimate: Any, units: dict[str, float]) -> ReportData:
    kind = estimate_kind(estimate)
    fp = getattr(estimate, "footprint", None)
    energy = fp.energy_kwh if fp is not None else getattr(estimate, "energy_kwh", None)
    if not isinstance(energy, Range):
        raise InvalidInputError(f"cannot report a {type(estimate).__name__}: it has no "
                                "energy_kwh Range and no footprint")
    raw: dict[str, Any] = estimate.to_dict() if hasattr(estimate, "to_dict") else {}
    assumptions: dict[str, Any] = {}
    for source in (getattr(estimate, "assumptions", None), fp.assumptions if fp else None):
        if isinstance(source, dict):
            for key, value in source.items():
                assumptions.setdefault(str(key), Assumption.from_dict(value))
    pue_value, pue_source = _assumption_value(assumptions, "pue")
    int_value, int_source = _assumption_value(assumptions, "intensity")
    pue_source = pue_source or str(_assumption_value(assumptions, "pue_source")[0] or "")
    pue = float(pue_value) if isinstance(pue_value, (int, float)) else None
    intensity = float(int_value) if isinstance(int_value, (int, float)) else None
    facility = energy * (pue or 1.0)
    if fp is not None:
        emissions = fp.emissions.g
        embodied: Range | None = fp.embodied.g
        water: Range | None = fp.water.l
    else:
        emissions = facility * (intensity or 0.0)
        embodied, water = None, None

    def pick(key: str) -> Any:
        value = raw.get(key, getattr(estimate, key, None))
        if value is None and key in assumptions:
            value = assumptions[key].get("value")
        if isinstance(value, Range):
            value = value.central
        if isinstance(value, dict) and "central" in value:
            value = value["central"]
        return value

    model = pick("model")
    hardware = pick("hardware")
    devices = pick("devices")
    if isinstance(devices, float) and devices.is_integer():
        devices = int(devices)
    title = str(getattr(model, "name", model) or "estimate")
    hw_text = str(getattr(hardware, "name", hardware) or "-")
    if devices:
        hw_text = f"{devices} x {hw_text}"
    facts = [("Estimate", kind), ("Model", title), ("Hardware", hw_text)]
    for key in ("flops", "device_hours", "duration_s", "input_tokens", "output_tokens",
                "batch_size", "tokens", "mfu"):
        value = raw.get(key)
        dimension = {"duration_s": "duration", "flops": "flop"}.get(key, "number")
        if isinstance(value, dict) and "central" in value:
            facts.append((key.replace("_", " "),
                          format_range(Range.from_dict(value), dimension)))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            facts.append((key.replace("_", " "), format_quantity(float(value), dimension)))
    duration = raw.get("duration_s")
    if isinstance(duration, dict):
        duration = duration.get("central")
    method = str(raw.get("method") or getattr(estimate, "method", "") or (
        "Analytic estimate with wattlm: FLOPs (6·N·D for training, a roofline for inference) "
        "divided by the hardware's effective throughput give device time; device time x "
        "average device power x PUE gives energy; the low/central/high range propagates the "
        "ranges of utilisation (MFU) and power fraction."))
    counts: dict[str, Any] = {k: raw.get(k) for k in UNITS}
    labels: dict[str, str] = {}
    tokens = assumptions.get("tokens", {}).get("value")
    out_tokens = assumptions.get("output_tokens", {}).get("value")
    if kind == "inference estimate":  # the estimate is of one request
        counts = {"requests": 1.0, "tokens": out_tokens}
        labels = {"tokens": "1000 output tokens"}
    elif kind == "training estimate" and counts.get("tokens") is None:
        counts["tokens"] = tokens
        labels = {"tokens": "1000 training tokens"}
    if units:
        counts, labels = dict(units), {}
    intensity_entry = assumptions.get("intensity", {})
    region = str(raw.get("region") or intensity_entry.get("region") or "") or None
    return ReportData(
        kind=kind, title=title, subject_id="-", created_at=_now(), energy_kwh=energy,
        facility_energy_kwh=facility, emissions_g=emissions, embodied_g=embodied,
        water_l=water, pue=pue, pue_source=pue_source or "-", intensity_g_per_kwh=intensity,
        intensity_source=int_source or "-", region=region,
        duration_s=float(duration) if isinstance(duration, (int, float)) else None,
        provenance=energy.provenance or Provenance.ESTIMATED, method=method, hardware=hw_text,
        assumptions=assumptions, warnings=_estimate_warnings(raw, fp),
        equivalents=_equivalents(emissions.central, facility.central),
        per_unit=_per_unit(fp, counts, labels) if fp is not None else [], facts=facts,
        components=_component_rows(raw, energy, facility, kind), raw=raw,
    )


def _estimate_warnings(raw: dict[str, Any], fp: Footprint | None) -> list[str]:
    """The estimate's own warnings and its accounting's (W201: no region...), once each."""
    out: list[str] = []
    for text in [*(raw.get("warnings") or []), *(fp.warnings if fp is not None else [])]:
        if str(text) not in out:
            out.append(str(text))
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def build_report_data(subject: Any, *, devices: list[DeviceInfo] | None = None,
                      samples: list[Sample] | None = None,
                      units: dict[str, Any] | None = None) -> ReportData:
    """Describe a :class:`~wattlm.records.RunRecord` or an estimate for the renderers.

    Args:
        subject: a run record, a training or inference estimate (anything with an
            ``energy_kwh`` Range or a ``footprint``), or an existing :class:`ReportData`.
        devices: the run's channels, for the power-over-time plot.
        samples: the run's cumulative energy samples, for the power-over-time plot.
        units: functional units the work served (``{"tokens": 1_000_000}``, ``requests``,
            ``samples``) for the SCI table; they replace the run's recorded ``tokens`` and
            ``requests`` (an inference estimate defaults to one request and its output
            tokens, a training estimate to its training tokens).

    Raises:
        InvalidInputError: ``subject`` is neither a run nor an estimate; a bad unit count.
    """
    if isinstance(subject, ReportData):
        return subject
    counts = check_units(units)
    if isinstance(subject, RunRecord):
        return _from_run(subject, devices, samples, counts)
    if isinstance(subject, EstimateResult) or hasattr(subject, "footprint"):
        return _from_estimate(subject, counts)
    raise InvalidInputError(f"cannot report a {type(subject).__name__}: give a RunRecord "
                            "(wattlm.track(...).result, store.get_run(id)) or an estimate "
                            "(wattlm.estimate_training / estimate_inference)")
