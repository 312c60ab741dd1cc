"""The one accounting path: device energy -> :class:`~wattlm.records.Footprint`.

Measured runs (:func:`account_run`) and analytic estimates both call :func:`footprint`::

    operational_g = energy_kwh * PUE * intensity_g_per_kwh
    embodied_kg   = devices * (device_kg + host_share_kg) * duration_s / lifetime_s
    water_l       = energy_kwh * WUE_site + energy_kwh * PUE * EWIF_grid

``energy_kwh`` is IT (device) energy, before PUE. Formulas, defaults and sources:
``docs/methodology/accounting.md``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from wattlm._caches import cached
from wattlm.carbon.embodied import embodied_share
from wattlm.carbon.intensity import GridIntensity, resolve_region
from wattlm.carbon.pue import choose_pue
from wattlm.carbon.series import IntensitySeries
from wattlm.carbon.water import grid_water_intensity, onsite_wue
from wattlm.errors import AccountingWarning, InvalidInputError, warn
from wattlm.records import Footprint
from wattlm.units import Provenance, Range

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.config import Settings
    from wattlm.records import RunRecord, Sample

__all__ = ["account_run", "footprint"]

WORLD_WARNING = ("no region given: using the world-average grid intensity {value:.4g} g/kWh "
                 "({year}); pass region= (e.g. 'FR', 'aws:us-east-1') or set WATTLM_REGION")


@cached
def _world_warning_state() -> dict[str, bool]:
    """Whether W201 was emitted in this process (tests reset it through the cache registry)."""
    return {"emitted": False}


def _warn_world_once(text: str) -> None:
    state = _world_warning_state()
    if not state["emitted"]:
        state["emitted"] = True
        warn(text, AccountingWarning, "W201")


def _energy_range(energy_kwh: float | Range) -> Range:
    if isinstance(energy_kwh, Range):
        if energy_kwh.low < 0:
            raise InvalidInputError(f"energy_kwh must be >= 0, got a range down to "
                                    f"{energy_kwh.low!r} kWh")
        return energy_kwh
    if isinstance(energy_kwh, bool):
        raise InvalidInputError(f"energy_kwh must be a number of kWh, got {energy_kwh!r}")
    try:
        value = float(energy_kwh)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"energy_kwh must be a number of kWh, got {energy_kwh!r}") from e
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"energy_kwh must be a finite number >= 0 (device energy in "
                                f"kWh), got {energy_kwh!r}")
    return Range.exact(value)


def _intensity_assumption(grid: GridIntensity | None, value: float,
                          provenance: Provenance | None, source: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "value": value, "unit": "g/kWh", "source": source,
        "provenance": provenance.value if provenance else None,
        "year": grid.year if grid else None,
    }
    if grid is not None:
        entry["region"] = grid.code
        entry["region_name"] = grid.name
    return entry


def footprint(
    energy_kwh: float | Range,
    *,
    region: str | None = None,
    intensity: float | None = None,
    year: int | None = None,
    pue: float | None = None,
    duration_s: float | None = None,
    hardware: str | None = None,
    devices: int = 1,
    intensity_series: IntensitySeries | None = None,
    energy_timeline: Sequence[tuple[float, float]] | None = None,
    wue_l_per_kwh: float | None = None,
) -> Footprint:
    """Account for device energy: operational and embodied emissions, and water.

    Args:
        energy_kwh: device (IT) energy in kWh, before PUE; a number or a :class:`Range`.
        region: country (``"FR"``, ``"FRA"``, ``"France"``) or cloud region
            (``"aws:eu-west-3"``); None means the world average (``assumed``, warning W201)
            unless ``intensity`` is given.
        intensity: grid intensity in gCO2e/kWh; overrides the region's value.
        year: data year of the region's intensity (latest when None).
        pue: power usage effectiveness; default: the provider's figure for a cloud region,
            else 1.0 (``assumed``).
        duration_s: run time in seconds (needed for embodied emissions).
        hardware: accelerator name from the hardware catalogue; None: embodied not counted.
        devices: number of accelerators.
        intensity_series: a time-varying intensity; with ``energy_timeline`` the run's
            intensity is energy-weighted over it.
        energy_timeline: ``(unix_time_s, cumulative_energy_j)`` samples of the run.
        wue_l_per_kwh: on-site water usage effectiveness, overriding the default.

    Returns:
        A :class:`~wattlm.records.Footprint` whose figures are Ranges with provenance.

    Raises:
        InvalidInputError: negative or non-finite energy, intensity, PUE, duration; a year with
            no data; a bad energy timeline.
        UnknownNameError: unknown region, provider or hardware.
    """
    energy = _energy_range(energy_kwh)
    if duration_s is not None and not 0 <= float(duration_s) < math.inf:
        raise InvalidInputError(f"duration_s must be a finite number >= 0 seconds, "
                                f"got {duration_s!r}")
    warnings_list: list[str] = []
    assumptions: dict[str, dict[str, Any]] = {}

    grid: GridIntensity | None = None
    if region is not None or intensity is None:
        grid = resolve_region(region, year=year)
        if region is None:
            text = WORLD_WARNING.format(value=grid.intensity_g_per_kwh, year=grid.year)
            _warn_world_once(text)
            warnings_list.append(f"W201: {text}")

    if intensity is not None:
        if isinstance(intensity, bool) or not (0 <= float(intensity) < math.inf):
            raise InvalidInputError(f"intensity must be a finite number >= 0 g/kWh, "
                                    f"got {intensity!r}")
        value_g = float(intensity)
        int_prov: Provenance | None = None
        int_source = "given by the user"
    else:
        assert grid is not None
        value_g = grid.intensity_g_per_kwh
        int_prov = grid.provenance
        int_source = grid.source

    if intensity_series is not None and energy_timeline is not None:
        weighted = intensity_series.energy_weighted(
            energy_timeline, value_g, f"{int_source}" + (f", {grid.year}" if grid else ""))
        for text in weighted.warnings:
            warnings_list.append(warn(text, AccountingWarning, "W202"))
        assumptions["intensity_series"] = {
            "value": weighted.intensity_g_per_kwh, "unit": "g/kWh",
            "source": intensity_series.source, "covered_fraction": weighted.covered_fraction,
            "fallback_g_per_kwh": value_g, "provenance": Provenance.ESTIMATED.value}
        value_g = weighted.intensity_g_per_kwh
        int_prov = Provenance.ESTIMATED
        int_source = f"energy-weighted over {intensity_series.source}"
    elif (intensity_series is None) != (energy_timeline is None):
        raise InvalidInputError("intensity_series and energy_timeline go together: give both "
                                "to energy-weight the intensity, or neither")
    assumptions["intensity"] = _intensity_assumption(grid, value_g, int_prov, int_source)

    provider = grid.provider if grid is not None else None
    cloud_region = grid.code.partition(":")[2] if provider and grid else ""
    pue_choice = choose_pue(pue, provider, cloud_region)
    assumptions["pue"] = pue_choice.to_assumption()
    pue_range = Range.exact(pue_choice.value, pue_choice.provenance)

    intensity_range = Range.exact(value_g, int_prov)
    emissions_kg = energy * pue_range * intensity_range / 1000.0

    share = embodied_share(hardware, duration_s, devices)
    assumptions.update(share.assumptions)

    wue = onsite_wue(provider, wue_l_per_kwh)
    ewif = grid_water_intensity(grid.country_iso2 if grid else None)
    assumptions["wue"] = wue.to_assumption()
    assumptions["grid_water"] = ewif.to_assumption()
    water_l = energy * wue.value + energy * pue_range * ewif.value

    assumptions["warnings"] = {"value": warnings_list, "source": "wattlm accounting",
                               "provenance": None}
    return Footprint(energy_kwh=energy, emissions_kg=emissions_kg,
                     embodied_kg=share.embodied_kg, water_l=water_l, assumptions=assumptions)


def _gpu_hardware(record: RunRecord) -> tuple[str | None, int, list[str]]:
    """Match the run's GPU names to the catalogue: (hardware, count, notes)."""
    gpus = [d.model or d.name for d in record.devices if d.kind == "gpu"]
    if not gpus:
        return None, 1, []
    from wattlm.catalog.hardware import match_device

    matched: Counter[str] = Counter()
    for name in gpus:
        part = match_device(name)
        if part is not None:
            matched[part.name] += 1
    if not matched:
        return None, 1, [f"embodied not counted: GPU {gpus[0]!r} is not in the catalogue"]
    hardware, count = matched.most_common(1)[0]
    notes = []
    if count < len(gpus):
        notes.append(f"embodied counted for {count} of {len(gpus)} GPUs ({hardware})")
    return hardware, count, notes


def _timeline(samples: Sequence[Sample]) -> list[tuple[float, float]]:
    return [(s.time_s, float(sum(s.energy_j))) for s in samples]


def account_run(record: RunRecord, samples: Sequence[Sample] | None = None, *,
                settings: Settings | None = None) -> Footprint:
    """Account for a measured run through :func:`footprint`.

    Region, PUE and intensity come from the record and ``settings``; with an Electricity Maps
    token configured, the live hourly history of the run's zone is energy-weighted over the
    samples (or the latest live value is used), falling back to the annual value on failure.
    Embodied emissions are counted for GPUs whose names match the hardware catalogue.
    """
    if settings is None:
        from wattlm.config import resolve_settings
        settings = resolve_settings()
    region = record.region or settings.region
    intensity = settings.intensity_g_per_kwh
    notes: list[str] = []
    series: IntensitySeries | None = None
    timeline = _timeline(samples) if samples and len(samples) >= 2 else None
    if settings.intensity_series and intensity is None and timeline is not None:
        from wattlm.carbon.series import load_series

        series = load_series(settings.intensity_series, allow_gaps=True)
    elif settings.electricitymaps_token and intensity is None:
        from wattlm.carbon.live import ElectricityMapsClient, live_intensity, live_series
        grid = resolve_region(region)
        client = ElectricityMapsClient(settings.electricitymaps_token)
        if timeline is not None:
            series, notes = live_series(grid, client)
        if series is None:
            live, more = live_intensity(grid, client)
            notes += more
            if not more:
                intensity = live.intensity_g_per_kwh
    hardware, devices, hw_notes = _gpu_hardware(record)
    result = footprint(
        Range.exact(record.energy_kwh, record.provenance), region=region, intensity=intensity,
        pue=settings.pue, duration_s=record.duration_s, hardware=hardware, devices=devices,
        intensity_series=series, energy_timeline=timeline if series is not None else None)
    extra = notes + hw_notes
    if extra:
        result.assumptions["warnings"]["value"].extend(extra)
    return result
