"""What if the same work ran in another region, at other hours, on other hardware or PUE.

Every scenario keeps the work fixed and changes one factor of operational emissions
``E x PUE x I`` (E: IT energy in kWh, I: grid intensity in g/kWh):

* **region**: the same E and PUE at another grid's annual intensity (the lowest-carbon
  countries, or the regions of one cloud provider, or a given list);
* **hours**: the same E and PUE at the lowest-carbon contiguous window of a supplied intensity
  series, as long as the run (whole series cells);
* **hardware**: E scaled by the estimator's ratio of energy per FLOP, ``(TDP / peak FLOP/s)``
  of the other part over that of the current one; utilisation (MFU) and the power fraction are
  assumed equal on both, so they cancel;
* **pue**: the same E and I at another PUE.

Scenarios are sorted by saving (grams, largest first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from wattlm._format import format_duration, format_number
from wattlm.errors import InvalidInputError, UnknownNameError
from wattlm.records import RunRecord
from wattlm.units import Energy, Mass, kwh_to_j

__all__ = ["Basis", "Scenario", "WhatIfResult", "basis_from_report", "basis_of",
           "hardware_energy_ratio", "whatif"]


class _Figures(Protocol):
    @property
    def energy_kwh(self) -> float: ...
    @property
    def pue(self) -> float: ...
    @property
    def emissions_g(self) -> float: ...


class _TypedFigures:
    """``energy``, ``facility_energy`` and ``emissions`` as quantities, from the float fields."""

    @property
    def energy(self: _Figures) -> Energy:
        """IT energy (J)."""
        return Energy.exact(kwh_to_j(self.energy_kwh))

    @property
    def facility_energy(self: _Figures) -> Energy:
        """IT energy x PUE (J)."""
        return Energy.of(Energy.exact(kwh_to_j(self.energy_kwh)) * self.pue)

    @property
    def emissions(self: _Figures) -> Mass:
        """Operational emissions (g)."""
        return Mass.exact(self.emissions_g)


@dataclass(frozen=True)
class Basis(_TypedFigures):
    """The run or estimate being varied: IT energy, PUE, intensity, duration, place, hardware."""

    energy_kwh: float
    pue: float
    intensity_g_per_kwh: float
    duration_s: float | None
    region: str | None
    hardware: str | None
    label: str

    @property
    def emissions_g(self) -> float:
        """Operational emissions ``E x PUE x I`` (g)."""
        from wattlm.carbon.accounting import operational_g

        return operational_g(self.energy_kwh, self.pue, self.intensity_g_per_kwh)


@dataclass(frozen=True)
class Scenario(_TypedFigures):
    """One alternative and what it would emit."""

    kind: str
    label: str
    energy_kwh: float
    pue: float
    intensity_g_per_kwh: float
    emissions_g: float
    saving_g: float
    saving_pct: float
    note: str = ""

    @property
    def saving(self) -> Mass:
        """Emissions saved against the basis (g; negative when it emits more)."""
        return Mass(self.saving_g, self.saving_g, self.saving_g)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class WhatIfResult:
    """The baseline and the scenarios, sorted by saving (largest first)."""

    basis: Basis
    scenarios: list[Scenario] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self) -> list[dict[str, Any]]:
        """One row per scenario, largest saving first."""
        return [s.to_dict() for s in self.scenarios]

    def best(self) -> Scenario | None:
        """The scenario that saves the most, if any saves anything."""
        return self.scenarios[0] if self.scenarios and self.scenarios[0].saving_g > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"basis": asdict(self.basis), "baseline_emissions_g": self.basis.emissions_g,
                "scenarios": self.table(), "notes": list(self.notes)}


def _scenario(basis: Basis, kind: str, label: str, energy_kwh: float, pue: float,
              intensity: float, note: str = "") -> Scenario:
    from wattlm.carbon.accounting import operational_g

    emissions = operational_g(energy_kwh, pue, intensity)
    saving = basis.emissions_g - emissions
    pct = saving / basis.emissions_g * 100.0 if basis.emissions_g > 0 else 0.0
    return Scenario(kind, label, energy_kwh, pue, intensity, emissions, saving, pct, note)


def _catalog_name(name: str) -> str | None:
    """The catalogue name of device ``name``, or ``None`` when the catalogue lacks it."""
    from wattlm.catalog.hardware import get_hardware

    try:
        return get_hardware(name).name
    except UnknownNameError:
        return None


def basis_of(subject: Any) -> Basis:
    """What :func:`whatif` varies, from a run record or an estimate.

    Raises:
        InvalidInputError: the subject has no energy, or no intensity can be found.
    """
    if isinstance(subject, Basis):
        return subject
    if isinstance(subject, RunRecord):
        intensity = subject.intensity_g_per_kwh
        if intensity is None:
            from wattlm.carbon.intensity import resolve_region

            intensity = resolve_region(subject.region).intensity_g_per_kwh
        from wattlm.catalog.hardware import match_device

        parts = (match_device(d.model or d.name) for d in subject.devices if d.kind == "gpu")
        hardware = next((p.name for p in parts if p is not None), None)
        return Basis(subject.energy_kwh, subject.pue or 1.0, float(intensity), subject.duration_s,
                     subject.region, hardware,
                     f"run {subject.id}" if subject.id is not None else "this run")
    from wattlm.report._data import build_report_data

    data = build_report_data(subject)
    if data.intensity_g_per_kwh is None:
        raise InvalidInputError("the estimate carries no grid intensity; give it a region")
    hardware = _catalog_name(data.hardware.split(" x ")[-1]) if data.hardware else None
    return Basis(data.energy_kwh.central, data.pue or 1.0, data.intensity_g_per_kwh,
                 data.duration_s, data.region, hardware, data.kind)


def basis_from_report(source: str | dict[str, Any]) -> Basis:
    """What :func:`whatif` varies, from a JSON report (a path or the parsed dict).

    The JSON is what ``wattlm report RUN --format json`` or ``wattlm estimate train ...
    --report json`` writes (``render(subject, "json")``): IT energy, PUE, intensity, duration,
    region and hardware are read from it.

    Raises:
        InvalidInputError: the file cannot be read, is not JSON, or is not a wattlm report.
    """
    import json

    data: Any = source
    if not isinstance(source, dict):
        from wattlm import _validate

        text = _validate.read_text(source, "report")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"{source} is not JSON ({e.msg}, line {e.lineno}); give "
                                    "a run id or a JSON report from `wattlm report RUN "
                                    "--format json`") from e
    energy = data.get("energy_kwh") if isinstance(data, dict) else None
    intensity = data.get("intensity_g_per_kwh") if isinstance(data, dict) else None
    if not isinstance(energy, dict) or not isinstance(energy.get("central"), (int, float)) \
            or not isinstance(intensity, (int, float)):
        raise InvalidInputError(f"{source if isinstance(source, str) else 'the report'} is not "
                                "a wattlm JSON report with energy_kwh and intensity_g_per_kwh; "
                                "write one with `wattlm report RUN --format json -o r.json`")
    hardware = str(data.get("hardware") or "")
    pue = data.get("pue")
    duration = data.get("duration_s")
    kind = str(data.get("kind") or "report")
    subject_id = data.get("subject_id")
    label = (f"run {subject_id}" if kind == "measured run" and subject_id not in (None, "-")
             else f"{kind} ({data.get('title')})")
    return Basis(float(energy["central"]), float(pue) if isinstance(pue, (int, float)) else 1.0,
                 float(intensity), float(duration) if isinstance(duration, (int, float))
                 else None, data.get("region") or None,
                 next((n for n in (_catalog_name(part.split(" x ")[-1].strip())
                                   for part in hardware.split(",") if part.strip()) if n), None),
                 label)


def hardware_energy_ratio(current: str, other: str, precision: str = "bf16") -> float:
    """Energy on ``other`` over energy on ``current`` for the same FLOPs.

    ``(TDP_other / peak_other) / (TDP_current / peak_current)`` at ``precision``: the
    estimator's energy ``FLOPs / (peak x MFU) x TDP x power fraction`` with MFU and the power
    fraction equal on both parts.

    Raises:
        UnknownNameError: a part not in the catalogue ("did you mean").
        InvalidInputError: a part without a TDP or a peak figure.
    """
    from wattlm.catalog.hardware import get_hardware

    cur, new = get_hardware(current), get_hardware(other)
    cur_j_per_flop = cur.require_tdp_w() / cur.peak_flops(precision)
    new_j_per_flop = new.require_tdp_w() / new.peak_flops(precision)
    return new_j_per_flop / cur_j_per_flop


def _region_candidates(regions: str | Sequence[str], basis: Basis) -> tuple[list[Any], str]:
    """The grids to try, and a note saying which were looked at."""
    from wattlm.carbon.intensity import PROVIDERS, resolve_region, search_regions

    if isinstance(regions, str):
        key = regions.strip().lower()
        if key == "auto":
            provider = resolve_region(basis.region).provider if basis.region else None
            if provider is not None:
                return (search_regions(None, provider=provider),
                        f"looked at the regions of {provider}, the run's provider")
            return ([g for p in PROVIDERS for g in search_regions(None, provider=p)],
                    f"looked at the cloud regions of {', '.join(PROVIDERS)} (the run is not in "
                    "a cloud region; choose with --provider or --region)")
        if key == "all":
            return ([g for g in search_regions(None) if g.provider or (
                g.country_iso2 and g.code == g.country_iso2)],
                "looked at every country and every cloud region")
        if key in PROVIDERS:
            return search_regions(None, provider=key), f"looked at the regions of {key}"
        raise InvalidInputError(f"regions must be 'auto', 'all', a provider "
                                f"({', '.join(PROVIDERS)}) or a list of regions, "
                                f"got {regions!r}")
    return [resolve_region(r) for r in regions], "looked at the regions given"


def _region_scenarios(basis: Basis, regions: str | Sequence[str], top: int,
                      notes: list[str]) -> list[Scenario]:
    """The ``top`` lowest-carbon candidates; a cloud region uses its provider's PUE."""
    candidates, note = _region_candidates(regions, basis)
    notes.append(note)
    seen: set[str] = set()
    scenarios = []
    for grid in sorted(candidates, key=lambda g: (g.intensity_g_per_kwh * (g.pue or basis.pue),
                                                   g.code)):
        if grid.code in seen or grid.code == basis.region:
            continue
        seen.add(grid.code)
        year = f", {grid.year}" if grid.year else ""
        pue = grid.pue if grid.provider and grid.pue else basis.pue
        published = grid.provider is not None and grid.pue is not None
        pue_note = (f"{grid.provider}'s published PUE {format_number(pue)}" if published
                    else "same PUE")
        scenarios.append(_scenario(basis, "region", f"{grid.name} ({grid.code})",
                                   basis.energy_kwh, pue, grid.intensity_g_per_kwh,
                                   f"annual average{year}; {pue_note}"))
        if len(seen) >= top:
            break
    return scenarios


def _best_window(series: Any, duration_s: float) -> tuple[float, float, int]:
    """(start Unix s, mean intensity, cells) of the lowest-mean contiguous window."""
    cells = max(1, math.ceil(duration_s / series.step_s - 1e-9))
    times, values = series.times_s, series.values_g_per_kwh
    if cells > len(values):
        raise InvalidInputError(f"the intensity series covers {len(values)} x "
                                f"{format_duration(series.step_s)}, shorter than the run "
                                f"({format_duration(duration_s)})")
    best: tuple[float, float, int] | None = None
    for start in range(len(values) - cells + 1):
        if times[start + cells - 1] - times[start] > (cells - 1) * series.step_s + 1e-6:
            continue  # a gap inside the window
        mean = sum(values[start:start + cells]) / cells
        if best is None or mean < best[1]:
            best = (times[start], mean, cells)
    if best is None:
        raise InvalidInputError("the intensity series has no gap-free window as long as the run")
    return best


def whatif(
    subject: Any,
    *,
    regions: str | Sequence[str] | None = "auto",
    top: int = 5,
    series: Any = None,
    hardware: Sequence[str] = (),
    current_hardware: str | None = None,
    precision: str = "bf16",
    pue: float | None = None,
) -> WhatIfResult:
    """The same run or estimate in other regions, hours, hardware or PUE, sorted by saving.

    Args:
        subject: a :class:`~wattlm.records.RunRecord`, an estimate, or a :class:`Basis`.
        regions: ``"auto"`` (the regions of the run's cloud provider, or every provider's
            cloud regions when the run is not in one: the result's notes say which), ``"all"``
            (countries and cloud regions), a provider (``"aws"``, ``"gcp"``, ``"azure"``), a
            list of regions, or None to skip. A cloud region uses its provider's published
            PUE; a country keeps the run's PUE.
        top: how many of the lowest-carbon regions to list.
        series: a :class:`~wattlm.carbon.series.IntensitySeries` (or a CSV path) of hourly
            intensities; adds the lowest-carbon window as long as the run.
        hardware: other parts to compare (catalogue names).
        current_hardware: the part the run used (default: its GPUs if in the catalogue).
        precision: precision for the hardware ratio (``bf16``, ``fp16``, ``fp32``...).
        pue: another PUE to try.

    Raises:
        InvalidInputError: bad ``top``/``pue``, hardware asked without a known current part,
            a series shorter than the run.
        UnknownNameError: an unknown region or hardware name.
    """
    from wattlm import _validate

    if not isinstance(top, int):
        raise InvalidInputError(f"top must be a whole number >= 1, got {_validate.shown(top)}")
    top = _validate.count(top, "top", low=1, high=10_000)
    if pue is not None:
        pue = _validate.pue(pue)
    if current_hardware is not None:
        from wattlm.catalog.hardware import get_hardware

        current_hardware = _validate.text(current_hardware, "current_hardware")
        get_hardware(current_hardware)  # unknown: "did you mean", before any work
        if not hardware:
            raise InvalidInputError("current_hardware is only used to compare hardware: add "
                                    "hardware= (CLI: --hardware NAME), or drop it")
    basis = basis_of(subject)
    result = WhatIfResult(basis)
    scenarios: list[Scenario] = []
    if regions is not None:
        scenarios += _region_scenarios(basis, regions, top, result.notes)
    if series is not None:
        if not hasattr(series, "values_g_per_kwh"):
            from wattlm.carbon.series import load_series

            series = load_series(series)
        if basis.duration_s is None:
            raise InvalidInputError("the lowest-carbon hours need the run's duration")
        from datetime import datetime, timezone

        start, mean, cells = _best_window(series, basis.duration_s)
        when = datetime.fromtimestamp(start, tz=timezone.utc).isoformat(timespec="minutes")
        scenarios.append(_scenario(
            basis, "hours", f"start at {when}", basis.energy_kwh, basis.pue, mean,
            f"lowest mean of {cells} x {format_duration(series.step_s)} in {series.source}"))
    if hardware:
        current = current_hardware or basis.hardware
        if current is None:
            raise InvalidInputError("comparing hardware needs the part the run used, and its "
                                    "devices are not in the hardware catalogue: pass "
                                    "current_hardware= (CLI: --current-hardware), e.g. "
                                    "'A100-80GB' (see `wattlm hardware`)")
        for name in hardware:
            ratio = hardware_energy_ratio(current, name, precision)
            scenarios.append(_scenario(
                basis, "hardware", name, basis.energy_kwh * ratio, basis.pue,
                basis.intensity_g_per_kwh,
                f"energy x {format_number(ratio)} (TDP / peak {precision} FLOP/s vs {current})"))
    if pue is not None:
        scenarios.append(_scenario(basis, "pue", f"PUE {format_number(pue)}", basis.energy_kwh,
                                   pue, basis.intensity_g_per_kwh,
                                   f"from PUE {format_number(basis.pue)}"))
    scenarios.sort(key=lambda s: (-s.saving_g, s.kind, s.label))
    result.scenarios = scenarios
    if not scenarios and regions is None:
        result.notes.append("no scenario asked for: give regions, series, hardware or pue")
    return result

