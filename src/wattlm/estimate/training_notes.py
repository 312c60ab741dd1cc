"""Notes and factors of the training estimate: the steps' inputs, defaults and their sources.

Helpers of :func:`wattlm.estimate.training.estimate_training`; each returns the value a step
needs and records in ``notes`` what was used, where it came from and its provenance.
"""

from __future__ import annotations

import math
from typing import Any

from wattlm.catalog.hardware import DERIVED_TDP_SPREAD, Hardware, get_hardware
from wattlm.catalog.models import Model
from wattlm.errors import InvalidInputError
from wattlm.estimate.training_steps import (
    HOST_OVERHEAD,
    POWER_FRACTION,
    SCOPE,
    Size,
    device_hours_from_flops,
    device_power,
    training_compute,
)
from wattlm.units import Provenance, Range

__all__: list[str] = []

Factor = tuple[float, float, float]


def _rss_range(central: float, factors: list[tuple[float, float, float]],
               provenance: Provenance) -> Range:
    """Central value with bounds from independent (low, central, high) multiplicative factors."""
    down = math.sqrt(sum(math.log(c / lo) ** 2 for lo, c, _ in factors))
    up = math.sqrt(sum(math.log(hi / c) ** 2 for _, c, hi in factors))
    return Range(central * math.exp(-down), central, central * math.exp(up), provenance)



def _inverse(factor: tuple[float, float, float]) -> tuple[float, float, float]:
    low, central, high = factor
    return (1.0 / high, 1.0 / central, 1.0 / low)



def _note(value: Any, source: str, provenance: Provenance) -> dict[str, Any]:
    return {"value": value, "source": source, "provenance": provenance.value}



def _size_notes(size: Size, notes: dict[str, dict[str, Any]]) -> None:
    if size.active_params is not None:
        notes["active_params"] = _note(size.active_params, size.source, Provenance.ESTIMATED)
        if size.params is not None and size.params != size.active_params:
            notes["params"] = _note(size.params, size.source, Provenance.ESTIMATED)
    if size.tokens is not None:
        notes["tokens"] = _note(size.tokens, "given" if size.source == "given" else
                                "catalogue (published training tokens)", Provenance.ESTIMATED)
    if size.teacher_params:
        notes["teacher_params"] = _note(size.teacher_params, "given: forward pass 2 N_t D",
                                        Provenance.ESTIMATED)


def _flops(size: Size, model: Model | None, seq_len: int | None,
           notes: dict[str, dict[str, Any]]) -> tuple[float, float] | None:
    if size.active_params is None or size.tokens is None:
        return None
    layers = model.layers if model else None
    attn_dim: float | None = None
    if model is not None:
        if model.attention_heads and model.head_dim:
            attn_dim = float(model.attention_heads * model.head_dim)
        elif model.hidden_size:
            attn_dim = float(model.hidden_size)
    student, teacher = training_compute(size, layers=layers, attention_dim=attn_dim,
                                        seq_len=seq_len)
    formula = "6 * (N/2) * tokens (encoder-decoder)" if size.architecture == \
        "encoder-decoder" else "6 * N_active * tokens"
    if seq_len is not None:
        formula += " + 12 * layers * d_attn * seq_len * tokens" if layers and attn_dim else \
            " (seq_len ignored: layers/heads unknown for this model)"
    if teacher:
        formula += " + 2 * N_teacher * tokens"
    notes["flops"] = _note(student + teacher, formula + " (Kaplan et al. 2020; PaLM App. B)",
                           Provenance.ESTIMATED)
    return student, teacher


def _hours_from_flops(compute: tuple[float, float] | None, size: Size, hw: Hardware | None,
                      model: Model | None, precision: str, mfu: float | None, scope: str,
                      notes: dict[str, dict[str, Any]]) -> tuple[float, list[Any], Provenance]:
    """Device-hours, their factors and provenance when the time is not given."""
    from wattlm.estimate.utilisation import (
        MOE_EFFICIENCY,
        UNFITTED_GENERATION_SPREAD,
        cross_validated_log_ratios,
        generation,
        utilisation_curve,
    )

    if compute is None:
        hint = ""
        if size.tokens is None and model is not None:
            hint = f" (training tokens of {model.name} are not published: pass tokens)"
        raise InvalidInputError(
            "cannot estimate time: give device_hours (or devices with days/hours), or "
            "params/model and tokens so FLOPs can be computed" + hint)
    if hw is None:
        raise InvalidInputError(
            "hardware is needed to turn FLOPs into device-hours (e.g. hardware='A100-80GB')")
    if scope not in SCOPE:
        raise InvalidInputError(f"scope: unknown {scope!r}; valid choices: {', '.join(SCOPE)}")
    hours, u = device_hours_from_flops(compute[0], compute[1], size, hw, precision, mfu,
                                       SCOPE[scope])
    notes["peak_flops"] = _note(hw.peak_flops(precision), f"{hw.name} dense {precision} peak "
                                f"({hw.source})", Provenance.ESTIMATED)
    notes["scope"] = _note(scope, "what the device-hours count (factor "
                           f"{SCOPE[scope]:.3g}); see SCOPE", Provenance.ASSUMED)
    factors: list[tuple[float, float, float]] = []
    if mfu is not None:
        notes["mfu"] = _note(mfu, "given", Provenance.ESTIMATED)
        return hours, factors, Provenance.ESTIMATED
    lo, hi = cross_validated_log_ratios()
    factors.append((math.exp(-hi), 1.0, math.exp(-lo)))  # published = estimate / ratio
    gen = generation(hw)
    if gen not in utilisation_curve().u_gen:
        factors.append(UNFITTED_GENERATION_SPREAD)
        notes["generation"] = _note(gen, "no published runs of this generation: u_gen is the "
                                    "median of the others, range widened", Provenance.ASSUMED)
    if size.is_moe:
        factors.append(_inverse((MOE_EFFICIENCY[0] / MOE_EFFICIENCY[1], 1.0,
                                 MOE_EFFICIENCY[2] / MOE_EFFICIENCY[1])))
    notes["mfu"] = _note(round(u, 4), "utilisation curve by generation and size (x MoE "
                         "efficiency), range from leave-one-family-out residuals; "
                         "docs/methodology/estimation-training.md", Provenance.ASSUMED)
    return hours, factors, Provenance.ASSUMED


def _given_hours(device_hours: float | None, devices: int | None, days: float | None,
                 hours: float | None, notes: dict[str, dict[str, Any]]) -> float:
    if device_hours is None:
        wall_h = days * 24.0 if days is not None else float(hours or 0.0)
        notes["device_hours"] = _note(float(devices or 0) * wall_h, f"devices x wall-clock "
                                      f"({devices} x {wall_h:g} h)", Provenance.ESTIMATED)
        return float(devices or 0) * wall_h
    notes["device_hours"] = _note(float(device_hours), "given", Provenance.ESTIMATED)
    return float(device_hours)


def _power(hw: Hardware | None, power_w: float | None, notes: dict[str, dict[str, Any]],
           ) -> tuple[float, float, list[Any], list[Any]]:
    """(accelerator W, host multiplier, power factors, host factors)."""
    if power_w is not None:
        notes["power_w"] = _note(float(power_w), "given: all-in average W per device (device + "
                                 "host share), no host overhead added", Provenance.ESTIMATED)
        watts, mult = device_power(hw, power_w) if hw is not None else (float(power_w), 1.0)
        return watts, mult, [], []
    if hw is None:
        raise InvalidInputError("give hardware (for its TDP) or power_w (average W per device)")
    watts, mult = device_power(hw)
    fraction = POWER_FRACTION.get(hw.kind, POWER_FRACTION["gpu"])
    factors = [(fraction[0] / fraction[1], 1.0, fraction[2] / fraction[1])]
    if not hw.tdp_published:
        factors.append((DERIVED_TDP_SPREAD[0], 1.0, DERIVED_TDP_SPREAD[1]))
    tdp, tdp_source = hw.tdp_with_source()
    notes["tdp_w"] = _note(tdp, f"{hw.name} ({tdp_source})", Provenance.ESTIMATED
                           if hw.tdp_published else Provenance.ASSUMED)
    notes["power_fraction_of_tdp"] = _note(list(fraction), f"default for kind {hw.kind!r} "
                                           "(low, central, high)", Provenance.ASSUMED)
    notes["host_overhead"] = _note(list(HOST_OVERHEAD), "host power / accelerator power "
                                   "(low, central, high)", Provenance.ASSUMED)
    host = [((1 + HOST_OVERHEAD[0]) / mult, 1.0, (1 + HOST_OVERHEAD[2]) / mult)]
    return watts, mult, factors, host


def _default_hardware(model: Model | None, hardware: str | None,
                      notes: dict[str, dict[str, Any]]) -> Hardware | None:
    if hardware is not None:
        return get_hardware(hardware)
    if model is None or not model.training_hardware:
        return None
    from wattlm.errors import EstimateWarning, warn

    hw = get_hardware(model.training_hardware)
    notes["hardware_assumed"] = _note(hw.name, f"catalogue: {model.name} was trained on "
                                      f"{hw.name}", Provenance.ASSUMED)
    warn(f"no hardware given: using {hw.name}, the catalogue's training hardware of "
         f"{model.name} (assumed); pass hardware= to change it", EstimateWarning, "W804")
    return hw
