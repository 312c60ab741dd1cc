"""Training footprint estimate: FLOPs -> device-hours -> energy -> emissions, with a Range.

Formulas (units in the names)::

    flops          = 6 * N_active * tokens (+ 12 * L * d_attn * seq_len * tokens)
    device_hours   = flops / (peak_flops(precision) * mfu) / 3600
                   | devices * (days * 24 | hours)  |  device_hours          (when given)
    accel_energy_kwh = device_hours * tdp_w * power_fraction / 1000
    it_energy_kwh  = accel_energy_kwh * (1 + host_overhead)      | device_hours * power_w / 1000
    energy_kwh     = it_energy_kwh * pue                         (facility)
    emissions_kg   = footprint(it_energy_kwh, pue=, intensity=|region=)  (one accounting path)

``power_w``, when given, is the all-in average power per device as papers publish it (device plus
its share of the host), so no host overhead is added. Defaults and their published sources are in
:data:`MFU_DEFAULT`, :data:`MFU_DEFAULT_NO_BF16`, :data:`POWER_FRACTION`, :data:`HOST_OVERHEAD`
and in ``docs/methodology/estimation-training.md``.

Uncertainty: each default is a (low, central, high) range of an independent multiplicative
factor; the bounds of a result are ``central * exp(-sqrt(sum(ln(c/low_i)^2)))`` and
``central * exp(sqrt(sum(ln(high_i/c)^2)))`` (root-sum-square in log space), which is narrower
than multiplying all the worst cases together and is what the validation checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from wattlm.catalog.hardware import DERIVED_TDP_SPREAD, Hardware, get_hardware
from wattlm.catalog.models import Model, get_model
from wattlm.errors import InvalidInputError
from wattlm.estimate.flops import training_flops
from wattlm.records import Footprint
from wattlm.units import Provenance, Range

__all__ = [
    "HOST_OVERHEAD",
    "MFU_DEFAULT",
    "MFU_DEFAULT_NO_BF16",
    "POWER_FRACTION",
    "TrainingEstimate",
    "estimate_training",
]

#: Model FLOPs utilisation on bf16-capable accelerators (Ampere and later GPUs, TPUs).
#: Informed by LLaMA 1 (43-51 %) and Llama 2 (35-43 %) implied by their GPU-hours, BLOOM (32 %),
#: OPT-175B (up to 47 %), and Patterson et al. 2021 TPU v3 runs: T5 37 %, Meena 34 %,
#: GShard 39 %, Switch 28 %.
MFU_DEFAULT = (0.28, 0.40, 0.55)
#: MFU on accelerators without bf16 (P100, V100, T4: fp16 with loss scaling, older software).
#: Informed by GPT-3 on V100 (19.7 %, Patterson et al. 2021) and XLM on V100 (21.2 %, LLMCarbon).
MFU_DEFAULT_NO_BF16 = (0.15, 0.20, 0.30)
#: Average accelerator power (device only) as a fraction of TDP, by kind. GPUs: Morrison et al.
#: 2025 logged H100s above 600 of 700 W while training (0.86); Patterson et al. 2021: V100 average
#: power close to TDP. TPUs: Patterson TPU v2/v3 system power per chip 208-310 W against 280/450 W
#: TDP, Google docs TPU v3 mean 220 of 450 W.
POWER_FRACTION: dict[str, tuple[float, float, float]] = {
    "gpu": (0.70, 0.85, 1.00),
    "tpu": (0.45, 0.55, 0.70),
    "cpu": (0.50, 0.70, 0.90),
}
#: Host (CPU, DRAM, network) power as a fraction of accelerator power. Informed by Patterson et
#: al. 2021 (V100 system power 325-342 W per 300 W GPU: +8-14 %), Llama 2 / LLaMA / BLOOM
#: reporting 100 % of TDP, and EcoLogits' 1.0-1.2 kW non-GPU server power per 8 GPUs.
HOST_OVERHEAD = (0.05, 0.15, 0.25)


@dataclass(frozen=True)
class TrainingEstimate:
    """Result of :func:`estimate_training`; every figure is a :class:`~wattlm.units.Range`.

    Attributes:
        energy_kwh: facility energy (IT energy x PUE), kWh.
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


def _rss_range(central: float, factors: list[tuple[float, float, float]],
               provenance: Provenance) -> Range:
    """Central value with bounds from independent (low, central, high) multiplicative factors."""
    down = math.sqrt(sum(math.log(c / lo) ** 2 for lo, c, _ in factors))
    up = math.sqrt(sum(math.log(hi / c) ** 2 for _, c, hi in factors))
    return Range(central * math.exp(-down), central, central * math.exp(up), provenance)


def _inverse(factor: tuple[float, float, float]) -> tuple[float, float, float]:
    low, central, high = factor
    return (1.0 / high, 1.0 / central, 1.0 / low)


def _check_positive(name: str, value: float | None, *, integer: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{name} must be a number > 0, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"{name} must be > 0, got {value!r}")
    if integer and float(value) != int(value):
        raise InvalidInputError(f"{name} must be a whole number, got {value!r}")


def _note(value: Any, source: str, provenance: Provenance) -> dict[str, Any]:
    return {"value": value, "source": source, "provenance": provenance.value}


def _check_inputs(params: float | None, active_params: float | None, tokens: float | None,
                  devices: int | None, days: float | None, hours: float | None,
                  device_hours: float | None, mfu: float | None, power_w: float | None,
                  pue: float | None, intensity: float | None, seq_len: int | None) -> None:
    for name, value in (("params", params), ("active_params", active_params),
                        ("tokens", tokens), ("days", days), ("hours", hours),
                        ("device_hours", device_hours), ("power_w", power_w),
                        ("seq_len", seq_len)):
        _check_positive(name, value)
    _check_positive("devices", devices, integer=True)
    if mfu is not None and (isinstance(mfu, bool) or not isinstance(mfu, (int, float))
                            or not 0 < mfu <= 1):
        raise InvalidInputError(f"mfu must be in (0, 1], got {mfu!r} (e.g. 0.4 for 40 %)")
    if pue is not None and (not isinstance(pue, (int, float)) or not math.isfinite(pue)
                            or pue < 1):
        raise InvalidInputError(f"pue must be a number >= 1 (e.g. 1.1), got {pue!r}")
    if intensity is not None and (not isinstance(intensity, (int, float))
                                  or not math.isfinite(intensity) or intensity < 0):
        raise InvalidInputError(
            f"intensity must be >= 0 gCO2e/kWh (e.g. 385), got {intensity!r}")
    if days is not None and hours is not None:
        raise InvalidInputError("give days or hours (wall-clock), not both")
    if device_hours is not None and (days is not None or hours is not None):
        raise InvalidInputError(
            "give device_hours, or devices with days/hours, not both")
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

    return footprint(
        it_energy_kwh, region=region, intensity=intensity, pue=pue,
        duration_s=device_hours * 3600.0, hardware=hardware.name if hardware else None,
        devices=1,
    )


def estimate_training(
    model: str | None = None, params: float | None = None, active_params: float | None = None,
    tokens: float | None = None, hardware: str | None = None, devices: int | None = None,
    days: float | None = None, hours: float | None = None, device_hours: float | None = None,
    mfu: float | None = None, power_w: float | None = None, pue: float | None = None,
    region: str | None = None, intensity: float | None = None, seq_len: int | None = None,
    precision: str = "bf16",
) -> TrainingEstimate:
    """Estimate the energy and emissions of a training run, with a low/central/high Range.

    Give what you know: a catalogue ``model`` (or ``params``/``active_params`` and ``tokens``),
    the ``hardware``, and either the time (``device_hours``, or ``devices`` with ``days`` or
    ``hours``) or nothing (then time comes from FLOPs, peak FLOP/s and MFU). ``devices`` alone
    does not change the energy: the FLOPs are the same however many devices share them.

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
        mfu: model FLOPs utilisation in (0, 1]; default by hardware (see module docs).
        power_w: all-in average power per device (device + host share), W.
        pue: power usage effectiveness (>= 1); default from the accounting path.
        region: grid region for carbon intensity (country code, cloud region).
        intensity: grid carbon intensity, gCO2e/kWh (overrides ``region``).
        seq_len: sequence length, adds the attention FLOPs term.
        precision: training precision for the peak FLOP/s (default ``bf16``).

    Returns:
        A :class:`TrainingEstimate`.

    Raises:
        InvalidInputError: a value out of range or an inconsistent combination.
        UnknownNameError: unknown model or hardware (with "did you mean").
    """
    _check_inputs(params, active_params, tokens, devices, days, hours, device_hours, mfu,
                  power_w, pue, intensity, seq_len)
    notes: dict[str, dict[str, Any]] = {}
    catalogue_model: Model | None = get_model(model) if model is not None else None
    hw: Hardware | None = get_hardware(hardware) if hardware is not None else None

    # parameters and tokens
    n_total = params if params is not None else (catalogue_model.params if catalogue_model
                                                 else None)
    if active_params is not None:
        n_active: float | None = active_params
    elif params is not None:
        n_active = params
    else:
        n_active = catalogue_model.active_params if catalogue_model else None
    n_tokens = tokens if tokens is not None else (
        catalogue_model.training_tokens if catalogue_model else None)
    if catalogue_model is not None:
        notes["model"] = _note(catalogue_model.name, catalogue_model.source, Provenance.ESTIMATED)
    if n_active is not None:
        src = "given" if (params or active_params) else f"catalogue ({catalogue_model.name})" \
            if catalogue_model else "given"
        notes["active_params"] = _note(n_active, src, Provenance.ESTIMATED)
        if n_total is not None and n_total != n_active:
            notes["params"] = _note(n_total, src, Provenance.ESTIMATED)
    if n_tokens is not None:
        src = "given" if tokens is not None else "catalogue (published training tokens)"
        notes["tokens"] = _note(n_tokens, src, Provenance.ESTIMATED)

    flops_value: float | None = None
    if n_active is not None and n_tokens is not None:
        layers = catalogue_model.layers if catalogue_model else None
        attn_dim: float | None = None
        if catalogue_model is not None:
            if catalogue_model.attention_heads and catalogue_model.head_dim:
                attn_dim = float(catalogue_model.attention_heads * catalogue_model.head_dim)
            elif catalogue_model.hidden_size:
                attn_dim = float(catalogue_model.hidden_size)
        flops_value = training_flops(n_active, n_tokens, layers=layers, attention_dim=attn_dim,
                                     seq_len=seq_len)
        formula = "6 * N_active * tokens"
        if seq_len is not None:
            if layers and attn_dim:
                formula += " + 12 * layers * d_attn * seq_len * tokens"
            else:
                formula += " (seq_len ignored: layers/heads unknown for this model)"
        notes["flops"] = _note(flops_value, formula + " (Kaplan et al. 2020; PaLM App. B)",
                               Provenance.ESTIMATED)

    # device-hours
    dh_factors: list[tuple[float, float, float]] = []
    if device_hours is not None or days is not None or hours is not None:
        if device_hours is None:
            wall_h = days * 24.0 if days is not None else float(hours or 0.0)
            dh_central = float(devices or 0) * wall_h
            notes["device_hours"] = _note(dh_central, f"devices x wall-clock ({devices} x "
                                          f"{wall_h:g} h)", Provenance.ESTIMATED)
        else:
            dh_central = float(device_hours)
            notes["device_hours"] = _note(dh_central, "given", Provenance.ESTIMATED)
        dh_prov = Provenance.ESTIMATED
        if flops_value is not None and hw is not None and hw.peak_tflops:
            implied = flops_value / (dh_central * 3600.0 * hw.peak_flops(precision))
            notes["implied_mfu"] = _note(round(implied, 4), "flops / (device_hours x peak)",
                                         Provenance.ESTIMATED)
    else:
        if flops_value is None:
            hint = ""
            if n_tokens is None and catalogue_model is not None:
                hint = (f" (training tokens of {catalogue_model.name} are not published: "
                        "pass tokens)")
            raise InvalidInputError(
                "cannot estimate time: give device_hours (or devices with days/hours), or "
                "params/model and tokens so FLOPs can be computed" + hint)
        if hw is None:
            raise InvalidInputError(
                "hardware is needed to turn FLOPs into device-hours (e.g. hardware='A100-80GB')")
        peak = hw.peak_flops(precision)
        notes["peak_flops"] = _note(peak, f"{hw.name} dense {precision} peak ({hw.source})",
                                    Provenance.ESTIMATED)
        if mfu is not None:
            mfu_range = (mfu, mfu, mfu)
            notes["mfu"] = _note(mfu, "given", Provenance.ESTIMATED)
        else:
            mfu_range = MFU_DEFAULT if hw.has_bf16 else MFU_DEFAULT_NO_BF16
            notes["mfu"] = _note(
                list(mfu_range),
                "default for " + ("bf16-capable accelerators" if hw.has_bf16 else
                                  "accelerators without bf16") + " (low, central, high); "
                "from published runs, see docs/methodology/estimation-training.md",
                Provenance.ASSUMED)
        dh_central = flops_value / (peak * mfu_range[1]) / 3600.0
        dh_factors.append(_inverse((mfu_range[0] / mfu_range[1], 1.0,
                                    mfu_range[2] / mfu_range[1])))
        dh_prov = Provenance.ESTIMATED if mfu is not None else Provenance.ASSUMED
    device_hours_range = _rss_range(dh_central, dh_factors, dh_prov)

    # power
    if power_w is not None:
        accel_w = float(power_w)
        power_factors: list[tuple[float, float, float]] = []
        host_factor: list[tuple[float, float, float]] = []
        host_mult = 1.0
        notes["power_w"] = _note(accel_w, "given: all-in average W per device (device + host "
                                 "share), no host overhead added", Provenance.ESTIMATED)
    else:
        if hw is None:
            raise InvalidInputError(
                "give hardware (for its TDP) or power_w (average W per device)")
        tdp, tdp_source = hw.tdp_with_source()
        fraction = POWER_FRACTION.get(hw.kind, POWER_FRACTION["gpu"])
        accel_w = tdp * fraction[1]
        power_factors = [(fraction[0] / fraction[1], 1.0, fraction[2] / fraction[1])]
        if not hw.tdp_published:
            power_factors.append((DERIVED_TDP_SPREAD[0], 1.0, DERIVED_TDP_SPREAD[1]))
        host_mult = 1.0 + HOST_OVERHEAD[1]
        host_factor = [((1 + HOST_OVERHEAD[0]) / host_mult, 1.0,
                        (1 + HOST_OVERHEAD[2]) / host_mult)]
        notes["tdp_w"] = _note(tdp, f"{hw.name} ({tdp_source})", Provenance.ESTIMATED
                               if hw.tdp_published else Provenance.ASSUMED)
        notes["power_fraction_of_tdp"] = _note(
            list(fraction), f"default for kind {hw.kind!r} (low, central, high)",
            Provenance.ASSUMED)
        notes["host_overhead"] = _note(list(HOST_OVERHEAD), "host power / accelerator power "
                                       "(low, central, high)", Provenance.ASSUMED)
    power_prov = Provenance.ESTIMATED if power_w is not None else Provenance.ASSUMED
    prov = Provenance.weakest(dh_prov, power_prov) or Provenance.ESTIMATED
    accel_kwh = _rss_range(dh_central * accel_w / 1000.0, dh_factors + power_factors, prov)
    it_kwh = _rss_range(dh_central * accel_w * host_mult / 1000.0,
                        dh_factors + power_factors + host_factor, prov)

    fp = _account(it_kwh, pue=pue, region=region, intensity=intensity,
                  device_hours=dh_central, hardware=hw)
    pue_note = fp.assumptions.get("pue", {})
    pue_value = float(pue_note.get("value", pue if pue is not None else 1.0))
    pue_prov = pue_note.get("provenance")
    facility_kwh = Range(it_kwh.low * pue_value, it_kwh.central * pue_value,
                         it_kwh.high * pue_value,
                         Provenance.weakest(it_kwh.provenance,
                                            Provenance(pue_prov) if pue_prov else None))
    if hw is not None:
        notes["hardware"] = _note(hw.name, hw.source, Provenance.ESTIMATED)
    if devices is not None:
        notes["devices"] = _note(devices, "given", Provenance.ESTIMATED)
    return TrainingEstimate(
        energy_kwh=facility_kwh, accelerators_energy_kwh=accel_kwh, it_energy_kwh=it_kwh,
        device_hours=device_hours_range, emissions_kg=fp.emissions_kg,
        flops=Range.exact(flops_value, Provenance.ESTIMATED) if flops_value else None,
        footprint=fp, assumptions=notes,
        model=catalogue_model.name if catalogue_model else None,
        hardware=hw.name if hw else None, devices=devices,
    )
