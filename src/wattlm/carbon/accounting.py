"""The one accounting path: IT energy -> :class:`~wattlm.records.Footprint`.

One :class:`Accountant`, resolved once from the settings (region, PUE, intensity or series,
live provider), serves measured runs (:func:`account_run`), estimates (:func:`footprint`) and
every running figure (callback logs, Prometheus)::

    operational_g = energy_kwh * PUE * intensity_g_per_kwh
    embodied_g    = devices * (device + host share) * duration_s / lifetime_s
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
from wattlm._format import format_number
from wattlm.carbon.embodied import embodied_share
from wattlm.carbon.intensity import GridIntensity, resolve_region
from wattlm.carbon.pue import PueChoice, choose_pue
from wattlm.carbon.series import IntensitySeries
from wattlm.carbon.water import grid_water_intensity, onsite_wue
from wattlm.errors import AccountingWarning, InvalidInputError, WattlmError, warn
from wattlm.records import Assumption, Footprint, assumptions_of
from wattlm.units import Energy, Mass, Provenance, Range, Volume, j_to_kwh, kg_to_g, kwh_to_j

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.config import Settings
    from wattlm.records import RunRecord, Sample

__all__ = ["Accountant", "account_run", "apply_footprint", "emissions_of", "footprint",
           "footprint_of", "operational_g", "settle_run"]

WORLD_WARNING = ("no region given: using the world-average grid intensity {value} g/kWh "
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
    from wattlm import _validate

    return Range.exact(_validate.bounded(energy_kwh, "energy_kwh", low=0.0, unit="kWh"))


def operational_g(energy_kwh: float, pue: float, intensity_g_per_kwh: float) -> float:
    """Operational grams CO2e: ``energy_kwh x PUE x intensity``, in this one order.

    Every caller multiplies in this order (a footprint's central value is the same product), so
    figures agree to the last digit.
    """
    return energy_kwh * pue * intensity_g_per_kwh


def _intensity_assumption(grid: GridIntensity | None, value: float,
                          provenance: Provenance | None, source: str) -> Assumption:
    details: dict[str, Any] = {"year": grid.year if grid else None}
    if grid is not None:
        details["region"] = grid.code
        details["region_name"] = grid.name
    return Assumption(value, "g/kWh", source, provenance, details)


def _check_intensity(intensity: float | None) -> float | None:
    if intensity is None:
        return None
    from wattlm import _validate

    return _validate.bounded(intensity, "intensity", low=0.0, unit="g/kWh")


class Accountant:
    """The one object that turns IT energy (+ duration, devices) into a :class:`Footprint`.

    Resolved once (:meth:`resolve`, :meth:`from_settings`): the grid (region or world
    average, W201), the intensity (given, annual, an intensity series, or the live provider),
    the PUE (given, the provider's published figure, or 1.0 assumed) and the water factors.
    The tracker, the Trainer callback, Prometheus, what-if, ``wattlm show --region``, reports,
    the dashboard and pandas all call it, so the same energy gives the same figures everywhere::

        emissions_g = j_to_kwh(energy_j) * pue * intensity_g_per_kwh

    :meth:`emissions_g` is that product on a float, for hot loops (one multiplication).
    """

    def __init__(self, *, grid: GridIntensity | None, intensity: Assumption, pue: PueChoice,
                 wue: Any, ewif: Any, warnings: Sequence[str] = (),
                 series: IntensitySeries | None = None, series_path: str | None = None,
                 live_token: str | None = None) -> None:
        self.grid = grid
        self.intensity = intensity
        self.pue = pue
        self._wue = wue
        self._ewif = ewif
        self._warnings = list(warnings)
        self._series = series
        self._series_path = series_path
        self._live_token = live_token
        self._live_checked = False
        self._intensity_g_per_kwh = float(intensity.value)

    # -- resolution ------------------------------------------------------------------------
    @classmethod
    def resolve(cls, region: str | None = None, *, intensity: float | None = None,
                year: int | None = None, pue: float | None = None,
                wue_l_per_kwh: float | None = None, series: IntensitySeries | None = None,
                series_path: str | None = None, live_token: str | None = None) -> Accountant:
        """Resolve the grid, intensity, PUE and water factors once.

        Raises:
            InvalidInputError: a negative or non-finite intensity, PUE or WUE; a year with no
                data.
            UnknownNameError: unknown region or provider.
        """
        value_g = _check_intensity(intensity)
        warnings_list: list[str] = []
        grid: GridIntensity | None = None
        if region is not None or value_g is None:
            grid = resolve_region(region, year=year)
            if region is None:
                text = WORLD_WARNING.format(value=format_number(grid.intensity_g_per_kwh),
                                            year=grid.year)
                _warn_world_once(text)
                warnings_list.append(f"W201: {text}")
        if value_g is not None:
            note = _intensity_assumption(grid, value_g, None, "given by the user")
            live_token, series_path = None, None  # the user's value wins over configured ones
        else:
            assert grid is not None
            note = _intensity_assumption(grid, grid.intensity_g_per_kwh, grid.provenance,
                                         grid.source)
        provider = grid.provider if grid is not None else None
        cloud_region = grid.code.partition(":")[2] if provider and grid else ""
        return cls(grid=grid, intensity=note, pue=choose_pue(pue, provider, cloud_region),
                   wue=onsite_wue(provider, wue_l_per_kwh),
                   ewif=grid_water_intensity(grid.country_iso2 if grid else None),
                   warnings=warnings_list, series=series, series_path=series_path,
                   live_token=live_token)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *,
                      region: str | None = None) -> Accountant:
        """The accountant of ``settings`` (resolved now when None); ``region`` overrides."""
        if settings is None:
            from wattlm.config import resolve_settings
            settings = resolve_settings()
        return cls.resolve(region or settings.region, intensity=settings.intensity_g_per_kwh,
                           pue=settings.pue, series_path=settings.intensity_series,
                           live_token=settings.electricitymaps_token)

    # -- figures ---------------------------------------------------------------------------
    @property
    def pue_value(self) -> float:
        """The PUE used."""
        return self.pue.value

    @property
    def intensity_g_per_kwh(self) -> float:
        """The intensity used when no series weights it (g CO2e/kWh)."""
        return float(self.intensity.value)

    @property
    def region(self) -> str | None:
        """The grid's code (``FR``, ``aws:eu-west-3``, ``WORLD``), None for a given intensity."""
        return self.grid.code if self.grid is not None else None

    def emissions_g(self, energy_j: float) -> float:
        """Operational grams CO2e of ``energy_j`` joules of IT energy, at the resolved intensity.

        The same product, in the same order, as the footprint's central value, so a running
        figure and the stored one agree to the last digit.
        """
        return operational_g(j_to_kwh(energy_j), self.pue.value, self._intensity_g_per_kwh)

    def emissions_so_far_g(self, energy_j: float, start_s: float, now_s: float) -> float:
        """Operational grams of ``energy_j`` spent between two Unix times (a running figure).

        With an intensity series, its mean over the window (constant power assumed) replaces
        the annual value; with a live provider, its latest value (fetched once). Otherwise
        exactly :meth:`emissions_g`.
        """
        if (self._series is not None or self._series_path is not None) and now_s > start_s:
            series, _ = self._timeline_series([(start_s, 0.0), (now_s, energy_j)])
            if series is not None:
                weighted = series.energy_weighted([(start_s, 0.0), (now_s, energy_j)],
                                                  self._intensity_g_per_kwh)
                return operational_g(j_to_kwh(energy_j), self.pue.value,
                                     weighted.intensity_g_per_kwh)
        self._live()
        return self.emissions_g(energy_j)

    def _live(self) -> None:
        """Replace the annual intensity by the live provider's latest value (once, lazily)."""
        if self._live_checked or not self._live_token or self.grid is None:
            return
        self._live_checked = True
        from wattlm.carbon.live import ElectricityMapsClient, live_intensity

        live, notes = live_intensity(self.grid, ElectricityMapsClient(self._live_token))
        self._warnings += notes
        if not notes:
            self.intensity = _intensity_assumption(self.grid, live.intensity_g_per_kwh,
                                                   Provenance.MEASURED, live.source)
            self._intensity_g_per_kwh = live.intensity_g_per_kwh

    def _timeline_series(self, timeline: Sequence[tuple[float, float]] | None
                         ) -> tuple[IntensitySeries | None, list[str]]:
        if timeline is None:
            return None, []
        if self._series is None and self._series_path is not None:
            from wattlm.carbon.series import load_series

            self._series = load_series(self._series_path, allow_gaps=True)
        if self._series is not None:
            return self._series, []
        if self._live_token and self.grid is not None:
            from wattlm.carbon.live import ElectricityMapsClient, live_series

            return live_series(self.grid, ElectricityMapsClient(self._live_token))
        return None, []

    def footprint(self, energy: Energy | Range | float, *, duration_s: float | None = None,
                  hardware: str | None = None, devices: int = 1,
                  timeline: Sequence[tuple[float, float]] | None = None) -> Footprint:
        """Account for IT energy: operational and embodied emissions, and water.

        Args:
            energy: IT energy before PUE: an :class:`~wattlm.units.Energy` (J), or a number
                or plain Range in kWh.
            duration_s: run time in seconds (needed for embodied emissions).
            hardware: accelerator name from the hardware catalogue; None: embodied not counted.
            devices: number of accelerators.
            timeline: ``(unix_time_s, cumulative_energy_j)`` samples; with an intensity series
                (or the live provider's history) the intensity is energy-weighted over it.

        Raises:
            InvalidInputError: negative or non-finite energy or duration, a bad timeline.
            UnknownNameError: unknown hardware.
        """
        it = _energy(energy)
        if duration_s is not None and not 0 <= float(duration_s) < math.inf:
            raise InvalidInputError(f"duration_s must be a finite number >= 0 seconds, "
                                    f"got {duration_s!r}")
        series, notes = self._timeline_series(timeline)
        if series is None:
            self._live()
        warnings_list = self._warnings + notes
        assumptions: dict[str, Assumption] = {}
        note = self.intensity
        if series is not None:
            assert timeline is not None
            weighted = series.energy_weighted(
                timeline, note.value, note.source + (f", {self.grid.year}" if self.grid else ""))
            for text in weighted.warnings:
                warnings_list.append(warn(text, AccountingWarning, "W202"))
            assumptions["intensity_series"] = Assumption(
                weighted.intensity_g_per_kwh, "g/kWh", series.source, Provenance.ESTIMATED,
                {"covered_fraction": weighted.covered_fraction,
                 "fallback_g_per_kwh": note.value})
            note = _intensity_assumption(self.grid, weighted.intensity_g_per_kwh,
                                         Provenance.ESTIMATED,
                                         f"energy-weighted over {series.source}")
        assumptions["intensity"] = note
        assumptions["pue"] = Assumption.from_dict(self.pue.to_assumption())
        pue_range = Range.exact(self.pue.value, self.pue.provenance)
        intensity_range = Range.exact(float(note.value), note.provenance)
        facility = it * pue_range
        emissions = Mass.of(it.kwh * pue_range * intensity_range)
        share = embodied_share(hardware, duration_s, devices)
        assumptions.update(assumptions_of(share.assumptions))
        assumptions["wue"] = Assumption.from_dict(self._wue.to_assumption())
        assumptions["grid_water"] = Assumption.from_dict(self._ewif.to_assumption())
        water = Volume.of(it.kwh * self._wue.value + it.kwh * pue_range * self._ewif.value)
        assumptions["warnings"] = Assumption(warnings_list, "", "wattlm accounting")
        return Footprint(energy=it, emissions=emissions, embodied=Mass.of(
            _kg_to_g_range(share.embodied_kg)), water=water, assumptions=assumptions,
            facility_energy=facility)

    def account_run(self, record: RunRecord,
                    samples: Sequence[Sample] | None = None) -> Footprint:
        """The footprint of a measured run: its energy, duration and catalogue GPUs."""
        timeline = _timeline(samples) if samples and len(samples) >= 2 else None
        hardware, devices, hw_notes = _gpu_hardware(record)
        result = self.footprint(Energy.exact(record.energy_j, record.provenance),
                                duration_s=record.duration_s, hardware=hardware,
                                devices=devices, timeline=timeline)
        if hw_notes:
            result.assumptions["warnings"].value.extend(hw_notes)
        if hardware is None:
            reason = (hw_notes[0].removeprefix("embodied ") if hw_notes
                      else "not counted: the run measured no GPU")
            result.assumptions["embodied"] = Assumption(0.0, "g CO2e", reason)
        return result


def _kg_to_g_range(value: Range) -> Range:
    return Range(kg_to_g(value.low), kg_to_g(value.central), kg_to_g(value.high),
                 value.provenance)


def _energy(energy: Energy | Range | float) -> Energy:
    """IT energy as an :class:`Energy`; a number or a plain Range is in kWh."""
    if isinstance(energy, Energy):
        if energy.low < 0:
            raise InvalidInputError(f"energy must be >= 0, got a range down to {energy.low!r} J")
        return energy
    kwh = _energy_range(energy)
    return Energy(kwh_to_j(kwh.low), kwh_to_j(kwh.central), kwh_to_j(kwh.high), kwh.provenance)


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

    A shortcut for ``Accountant.resolve(...).footprint(...)``.

    Args:
        energy_kwh: device (IT) energy before PUE: a number or a plain :class:`Range` in kWh,
            or an :class:`~wattlm.units.Energy` (J).
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
        A :class:`~wattlm.records.Footprint` whose figures are typed quantities with
        provenance.

    Raises:
        InvalidInputError: negative or non-finite energy, intensity, PUE, duration; a year with
            no data; a bad energy timeline.
        UnknownNameError: unknown region, provider or hardware.
    """
    energy = _energy(energy_kwh)
    if (intensity_series is None) != (energy_timeline is None):
        raise InvalidInputError("intensity_series and energy_timeline go together: give both "
                                "to energy-weight the intensity, or neither")
    from wattlm import _validate

    if duration_s is not None:
        duration_s = _validate.bounded(duration_s, "duration_s", low=0.0, unit="seconds")
    devices = _validate.count(devices, "devices", low=1)
    accountant = Accountant.resolve(region, intensity=intensity, year=year, pue=pue,
                                    wue_l_per_kwh=wue_l_per_kwh, series=intensity_series)
    return accountant.footprint(energy, duration_s=duration_s, hardware=hardware,
                                devices=devices, timeline=energy_timeline)


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
    """Account for a measured run with the accountant of ``settings`` (and the run's region).

    With an intensity series or an Electricity Maps token configured, the intensity is
    energy-weighted over the samples (or the latest live value is used), falling back to the
    annual value on failure. Embodied emissions are counted for GPUs whose names match the
    hardware catalogue.
    """
    accountant = Accountant.from_settings(settings, region=record.region)
    return accountant.account_run(record, samples)


def apply_footprint(record: RunRecord, fp: Footprint) -> None:
    """Make ``record`` carry ``fp``: emissions, the intensity and PUE used, its warnings."""
    record.footprint = fp
    record.emissions_g = fp.emissions.central
    intensity, pue = fp.assumptions.get("intensity"), fp.assumptions.get("pue")
    if intensity is not None and isinstance(intensity.value, (int, float)):
        record.intensity_g_per_kwh = float(intensity.value)
    if pue is not None and isinstance(pue.value, (int, float)):
        record.pue = float(pue.value)
    record.warnings.extend(w for w in fp.warnings if w not in record.warnings)


UNFINISHED = ("running", "interrupted")


def footprint_of(record: RunRecord) -> Footprint | None:
    """The footprint to show for a stored run, never a made-up 0.

    A finished run has its stored footprint. A run still running, or interrupted (its writer
    killed), has none yet: it gets the footprint of the energy measured so far, at its region's
    annual intensity (the stored intensity when it has one). None otherwise (a listing's summary
    without the footprint, a run whose accounting failed, an unknown region in an old record).
    """
    if record.footprint is not None:
        return record.footprint
    if record.status not in UNFINISHED:
        return None
    try:
        accountant = Accountant.resolve(record.region, intensity=record.intensity_g_per_kwh)
        return accountant.account_run(record)
    except WattlmError:
        return None


def emissions_of(record: RunRecord) -> float | None:
    """Operational grams to show for a stored run; None when unknown (never a made-up 0).

    The footprint's (:func:`footprint_of`: so far, for a running or interrupted run); else the
    stored ``emissions_g`` of a run that was accounted (a listing's summary); None for a run
    whose accounting failed (W210).
    """
    fp = footprint_of(record)
    if fp is not None:
        return fp.emissions.central
    if record.status in UNFINISHED or any(w.startswith("W210") for w in record.warnings):
        return None
    return record.emissions_g


def settle_run(record: RunRecord, samples: Sequence[Sample] | None = None, *,
               settings: Settings | None = None) -> None:
    """Account for ``record`` (:func:`account_run`) and make it carry the footprint."""
    apply_footprint(record, account_run(record, samples, settings=settings))
