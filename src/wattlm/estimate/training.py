"""Training footprint estimate: FLOPs -> device-hours -> energy -> emissions, with a Range.

Steps (each a pure function below with its formula and units; units in the names)::

    resolve_size:     N_total, N_active, tokens (catalogue or given), teacher N_t
    training_compute: flops = 6 N_active D (+ 12 L d_attn T D) ; encoder-decoder: 6 (N/2) D
                      teacher_flops = 2 N_t D                        (distillation, forward only)
    device_hours:     (flops / u(N) + teacher_flops / u(N_t)) / (peak * e_moe) / 3600 * scope
                      | devices * (days * 24 | hours) | device_hours   (when given)
    device_power:     tdp * power_fraction * (1 + host_overhead)  | power_w (all-in, given)
    facility_energy:  it_energy * PUE

``u(N)`` is the utilisation curve of :mod:`wattlm.estimate.utilisation` (by generation and
size), ``e_moe`` :data:`~wattlm.estimate.utilisation.MOE_EFFICIENCY` for mixtures of experts,
``scope`` :data:`SCOPE` (what the published device-hours include).
    accel_energy_kwh = device_hours * tdp_w * power_fraction / 1000
    it_energy_kwh  = accel_energy_kwh * (1 + host_overhead)      | device_hours * power_w / 1000
    energy_kwh     = it_energy_kwh * pue                         (facility)
    emissions_kg   = footprint(it_energy_kwh, pue=, intensity=|region=)  (one accounting path)

``power_w``, when given, is the all-in average power per device as papers publish it (device plus
its share of the host), so no host overhead is added. Defaults and their published sources
are in :data:`POWER_FRACTION`, :data:`HOST_OVERHEAD`, :data:`SCOPE` and in
``docs/methodology/estimation-training.md``.

Uncertainty: the utilisation factor's bounds are the 10th/90th percentiles of the
leave-one-family-out residuals of the curve; the other defaults are (low, central, high)
ranges of independent multiplicative factors; bounds combine by root-sum-square in log space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wattlm import _validate
from wattlm.catalog.hardware import Hardware
from wattlm.catalog.models import Model, get_model
from wattlm.errors import InvalidInputError
from wattlm.estimate import inputs
from wattlm.estimate.training_notes import (
    _default_hardware,
    _flops,
    _given_hours,
    _hours_from_flops,
    _note,
    _power,
    _rss_range,
    _size_notes,
)
from wattlm.estimate.training_steps import (
    HOST_OVERHEAD,
    POWER_FRACTION,
    SCOPE,
    facility_energy,
    resolve_size,
)
from wattlm.records import Footprint
from wattlm.units import Energy, Provenance, Range, kwh_to_j, wh_to_kwh

__all__ = [
    "HOST_OVERHEAD",
    "MFU_DEFAULT",
    "MFU_DEFAULT_NO_BF16",
    "POWER_FRACTION",
    "SCOPE",
    "TrainingEstimate",
    "estimate_training",
]



#: The former single utilisation prior (kept for reference; the estimate now uses the curve of
#: :mod:`wattlm.estimate.utilisation`). Model FLOPs utilisation on bf16-capable accelerators
#: (Ampere and later GPUs, TPUs).
#: Informed by LLaMA 1 (43-51 %) and Llama 2 (35-43 %) implied by their GPU-hours, BLOOM (32 %),
#: OPT-175B (up to 47 %), and Patterson et al. 2021 TPU v3 runs: T5 37 %, Meena 34 %,
#: GShard 39 %, Switch 28 %.
MFU_DEFAULT = (0.28, 0.40, 0.55)
#: MFU on accelerators without bf16 (P100, V100, T4: fp16 with loss scaling, older software).
#: Informed by GPT-3 on V100 (19.7 %, Patterson et al. 2021) and XLM on V100 (21.2 %, LLMCarbon).
MFU_DEFAULT_NO_BF16 = (0.15, 0.20, 0.30)



@dataclass(frozen=True)
class TrainingEstimate:
    """Result of :func:`estimate_training`; every figure is a :class:`~wattlm.units.Range`.

    The unit-tagged views are :attr:`energy` (IT energy, J), :attr:`facility_energy` (x PUE, J),
    :attr:`emissions`, :attr:`embodied` and :attr:`water` (from the footprint). The older names
    stay: ``energy_kwh`` is the **facility** energy in kWh (``facility_energy.kwh``), while
    ``footprint.energy_kwh`` and ``it_energy_kwh`` are the IT energy (``energy.kwh``).

    Attributes:
        energy_kwh: facility energy (IT energy x PUE), kWh; alias of ``facility_energy.kwh``.
        accelerators_energy_kwh: energy of the accelerators alone, kWh (with ``power_w`` given,
            the all-in device energy, which cannot be split).
        it_energy_kwh: accelerators plus host, before PUE, kWh.
        device_hours: accelerator-hours.
        emissions_kg: operational emissions, kg CO2e.
        flops: training FLOPs (``None`` when parameters or tokens are unknown).
        footprint: the accounting result (operational, embodied, water).
        assumptions: every input and default used: ``{name: {value, source, provenance}}``.
        model: catalogue model name, if any.
        hardware: catalogue hardware name, if any.
        devices: device count, if given.
    """

    energy_kwh: Range
    accelerators_energy_kwh: Range
    it_energy_kwh: Range
    device_hours: Range
    emissions_kg: Range
    flops: Range | None
    footprint: Footprint
    assumptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    model: str | None = None
    hardware: str | None = None
    devices: int | None = None

    @property
    def energy(self) -> Energy:
        """IT energy (accelerators + host, before PUE), J."""
        return Energy.of(self.it_energy_kwh.map(kwh_to_j))

    @property
    def facility_energy(self) -> Energy:
        """Facility energy (IT x PUE), J."""
        return Energy.of(self.energy_kwh.map(kwh_to_j))

    @property
    def emissions(self) -> Range:
        """Operational emissions (footprint ``emissions_kg``), kg CO2e."""
        return self.footprint.emissions_kg

    @property
    def embodied(self) -> Range:
        """Embodied emissions (footprint ``embodied_kg``), kg CO2e."""
        return self.footprint.embodied_kg

    @property
    def water(self) -> Range:
        """Water (footprint ``water_l``), L."""
        return self.footprint.water_l

    @property
    def embodied_kg(self) -> Range:
        """Embodied emissions amortised over the run (from the footprint)."""
        return self.footprint.embodied_kg

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; each Range becomes ``{"low", "central", "high", "provenance"}``."""
        ranges = {
            "energy_kwh": self.energy_kwh, "accelerators_energy_kwh": self.accelerators_energy_kwh,
            "it_energy_kwh": self.it_energy_kwh, "device_hours": self.device_hours,
            "emissions_kg": self.emissions_kg, "embodied_kg": self.footprint.embodied_kg,
            "water_l": self.footprint.water_l,
        }
        out: dict[str, Any] = {"model": self.model, "hardware": self.hardware,
                               "devices": self.devices}
        out.update({k: v.to_dict() for k, v in ranges.items()})
        out["flops"] = self.flops.to_dict() if self.flops is not None else None
        out["assumptions"] = self.assumptions
        out["footprint_assumptions"] = self.footprint.assumptions
        return out


def _check_inputs(params: float | None, active_params: float | None, tokens: float | None,
                  devices: int | None, days: float | None, hours: float | None,
                  device_hours: float | None, mfu: float | None, power_w: float | None,
                  pue: float | None, intensity: float | None, seq_len: int | None) -> None:
    """Every value through :mod:`wattlm._validate` (bounds in docs/cli.md), then combinations."""
    inputs.positive(params, "params", low=1.0)
    inputs.positive(active_params, "active_params", low=1.0)
    for name, value in (("days", days), ("hours", hours), ("device_hours", device_hours),
                        ("power_w", power_w)):
        inputs.positive(value, name)
    inputs.count(tokens, "tokens")
    inputs.count(devices, "devices")
    inputs.count(seq_len, "seq_len")
    if mfu is not None:
        _validate.bounded(mfu, "mfu", low=0.0, low_open=True, high=1.0)
    inputs.check_grid(pue, intensity, None)
    if days is not None and hours is not None:
        raise InvalidInputError("give days or hours (wall-clock), not both")
    if device_hours is not None and (days is not None or hours is not None):
        raise InvalidInputError(
            "give device_hours, or devices with days/hours, not both")
    if mfu is not None and (device_hours is not None or days is not None or hours is not None):
        raise InvalidInputError(
            "mfu turns FLOPs into time, but the time is given (device_hours or days/hours): "
            "drop one (with the time given, the estimate reports the implied MFU)")
    if (days is not None or hours is not None) and devices is None:
        raise InvalidInputError(
            "days/hours are wall-clock time: also give devices (or give device_hours)")
    if params is not None and active_params is not None and active_params > params:
        raise InvalidInputError(
            f"active_params ({active_params:g}) cannot exceed params ({params:g})")


def _account(it_energy_kwh: Range, *, pue: float | None, region: str | None,
             intensity: float | None, device_hours: float, hardware: Hardware | None
             ) -> Footprint:
    """Emissions, embodied and water through the one accounting function."""
    from wattlm.carbon.accounting import footprint
    from wattlm.estimate.region import one_region_warning, warn_region_dependence

    with one_region_warning(region, intensity):
        fp = footprint(
            it_energy_kwh, region=region, intensity=intensity, pue=pue,
            duration_s=device_hours * 3600.0, hardware=hardware.name if hardware else None,
            devices=1,
        )
    if region is None and intensity is None:
        warn_region_dependence(fp)
    return fp




def _implied_mfu(compute: tuple[float, float] | None, hw: Hardware | None, hours: float,
                 precision: str, notes: dict[str, dict[str, Any]]) -> None:
    """Record the utilisation the given hours imply: ``flops / (device_hours x 3600 x peak)``."""
    if compute is not None and hw is not None and hw.peak_tflops:
        implied = sum(compute) / (hours * 3600.0 * hw.peak_flops(precision))
        notes["implied_mfu"] = _note(round(implied, 4), "flops / (device_hours x peak)",
                                     Provenance.ESTIMATED)


def _facility(it_kwh: Range, fp: Footprint, pue: float | None) -> Range:
    """Step 5 over the range, with the PUE the accounting path used (and its provenance)."""
    pue_note = fp.assumptions.get("pue", {})
    pue_value = float(pue_note.get("value", pue if pue is not None else 1.0))
    pue_prov = pue_note.get("provenance")
    return it_kwh.map(lambda v: facility_energy(v, pue_value)).with_provenance(
        Provenance.weakest(it_kwh.provenance, Provenance(pue_prov) if pue_prov else None))


def estimate_training(
    model: str | None = None, params: float | None = None, active_params: float | None = None,
    tokens: float | None = None, hardware: str | None = None, devices: int | None = None,
    days: float | None = None, hours: float | None = None, device_hours: float | None = None,
    mfu: float | None = None, power_w: float | None = None, pue: float | None = None,
    region: str | None = None, intensity: float | None = None, seq_len: int | None = None,
    precision: str = "bf16", teacher_params: float | None = None, scope: str = "published",
) -> TrainingEstimate:
    """Estimate the energy and emissions of a training run, with a low/central/high Range.

    Give what you know: a catalogue ``model`` (or ``params``/``active_params`` and ``tokens``),
    the ``hardware`` (default: the model's training hardware from the catalogue, ``assumed``),
    and either the time (``device_hours``, or ``devices`` with ``days`` or ``hours``) or nothing
    (then time comes from FLOPs, peak FLOP/s and the utilisation curve). ``devices`` alone does
    not change the energy: the FLOPs are the same however many devices share them.

    Args:
        model: catalogue model name or alias (``"gpt-3"``, ``"meta-llama/Llama-2-70b-hf"``).
        params: total parameters (overrides the model's).
        active_params: parameters per token (mixture-of-experts); defaults to ``params``.
        tokens: training tokens (overrides the model's).
        hardware: catalogue hardware name (``"A100-80GB"``, ``"H100-SXM"``, ``"TPU-v4"``).
        devices: number of accelerators.
        days: wall-clock days (needs ``devices``).
        hours: wall-clock hours (needs ``devices``).
        device_hours: accelerator-hours as published.
        mfu: model FLOPs utilisation in (0, 1]; default the curve by generation and size.
        power_w: all-in average power per device (device + host share), W.
        pue: power usage effectiveness (>= 1); default from the accounting path.
        region: grid region for carbon intensity (country code, cloud region).
        intensity: grid carbon intensity, gCO2e/kWh (overrides ``region``).
        seq_len: sequence length, adds the attention FLOPs term.
        precision: training precision for the peak FLOP/s (default ``bf16``).
        teacher_params: parameters of a distillation teacher (adds its ``2 N_t D`` forward).
        scope: what the device-hours count: ``published`` (default), ``productive`` or
            ``wall-clock`` (see :data:`SCOPE`).

    Returns:
        A :class:`TrainingEstimate`.

    Raises:
        InvalidInputError: a value out of range or an inconsistent combination.
        UnknownNameError: unknown model or hardware (with "did you mean").
    """
    _check_inputs(params, active_params, tokens, devices, days, hours, device_hours, mfu,
                  power_w, pue, intensity, seq_len)
    inputs.positive(teacher_params, "teacher_params", low=1.0)
    if scope != "published" and (device_hours is not None or days is not None
                                 or hours is not None):
        raise InvalidInputError(
            f"scope={scope!r} scales the time computed from FLOPs, but the time is given "
            "(device_hours or days/hours): drop scope or the time")
    inputs.check_name(model, "model")
    inputs.check_name(hardware, "hardware")
    inputs.check_grid(None, None, region)
    notes: dict[str, dict[str, Any]] = {}
    catalogue_model: Model | None = get_model(model) if model is not None else None
    if catalogue_model is not None:
        if seq_len is not None:
            inputs.check_context(seq_len, catalogue_model.context_length, catalogue_model.name,
                                 "seq_len")
        inputs.note_overrides(catalogue_model, {"params": params, "active_params": active_params,
                                                "training_tokens": tokens})
    if catalogue_model is not None:
        notes["model"] = _note(catalogue_model.name, catalogue_model.source, Provenance.ESTIMATED)
    hw = _default_hardware(catalogue_model, hardware, notes)
    size = resolve_size(catalogue_model, params, active_params, tokens, teacher_params)
    _size_notes(size, notes)
    compute = _flops(size, catalogue_model, seq_len, notes)
    if device_hours is not None or days is not None or hours is not None:
        dh_central = _given_hours(device_hours, devices, days, hours, notes)
        dh_factors: list[tuple[float, float, float]] = []
        dh_prov = Provenance.ESTIMATED
        _implied_mfu(compute, hw, dh_central, precision, notes)
    else:
        dh_central, dh_factors, dh_prov = _hours_from_flops(
            compute, size, hw, catalogue_model, precision, mfu, scope, notes)
    accel_w, host_mult, power_factors, host_factor = _power(hw, power_w, notes)
    power_prov = Provenance.ESTIMATED if power_w is not None else Provenance.ASSUMED
    prov = Provenance.weakest(dh_prov, power_prov) or Provenance.ESTIMATED
    accel_kwh = _rss_range(wh_to_kwh(dh_central * accel_w), dh_factors + power_factors, prov)
    it_kwh = _rss_range(wh_to_kwh(dh_central * accel_w * host_mult),
                        dh_factors + power_factors + host_factor, prov)
    fp = _account(it_kwh, pue=pue, region=region, intensity=intensity,
                  device_hours=dh_central, hardware=hw)
    facility_kwh = _facility(it_kwh, fp, pue)
    if hw is not None:
        notes["hardware"] = _note(hw.name, hw.source, Provenance.ESTIMATED)
    if devices is not None:
        notes["devices"] = _note(devices, "given", Provenance.ESTIMATED)
    flops_total = sum(compute) if compute else None
    return TrainingEstimate(
        energy_kwh=facility_kwh, accelerators_energy_kwh=accel_kwh, it_energy_kwh=it_kwh,
        device_hours=_rss_range(dh_central, dh_factors, dh_prov), emissions_kg=fp.emissions_kg,
        flops=Range.exact(flops_total, Provenance.ESTIMATED) if flops_total else None,
        footprint=fp, assumptions=notes,
        model=catalogue_model.name if catalogue_model else None,
        hardware=hw.name if hw else None, devices=devices,
    )
