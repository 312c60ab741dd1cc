"""The pure steps of the training estimate, each one formula (units in names and docstrings).

``resolve_size -> training_compute -> device_hours_from_flops -> device_power ->
facility_energy``; :func:`wattlm.estimate.training.estimate_training` chains them and adds the
notes, ranges and accounting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from wattlm.errors import InvalidInputError
from wattlm.estimate.flops import training_flops
from wattlm.estimate.utilisation import MOE_EFFICIENCY, generation, utilisation_curve

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.catalog.hardware import Hardware
    from wattlm.catalog.models import Model

__all__ = [
    "HOST_OVERHEAD",
    "amortised_embodied_kg",
    "POWER_FRACTION",
    "SCOPE",
    "Size",
    "device_hours_from_flops",
    "device_power",
    "facility_energy",
    "resolve_size",
    "training_compute",
]

#: What the device-hours count, as a factor on the hours the utilisation curve gives (which is
#: fitted on device-hours as published): ``published`` 1.0; ``productive`` (compute of the final
#: run only) 1/1.2, since Llama 3 405B ran at 38-43 % MFU (Llama 3 paper, Table 4) against the
#: 33 % its card's GPU-hours imply; ``wall-clock`` (the allocation, with restarts, evaluation and
#: idle) 2.3/1.2, OPT-175B's wall-clock vs productive compute (Zhang et al. 2022 logbook).
SCOPE: dict[str, float] = {"published": 1.0, "productive": 1 / 1.2, "wall-clock": 2.3 / 1.2}
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
class Size:
    """Parameters and tokens of a run (counts), and where they came from.

    Attributes:
        params: total parameters ``N_total`` (``None`` if unknown).
        active_params: parameters per token ``N_active``.
        tokens: training tokens ``D``.
        teacher_params: parameters of a distillation teacher run forward on every token.
        architecture: ``dense``, ``moe``, ``hybrid`` or ``encoder-decoder``.
        source: ``given`` or ``catalogue (NAME)``.
    """

    params: float | None
    active_params: float | None
    tokens: float | None
    teacher_params: float | None
    architecture: str
    source: str

    @property
    def is_moe(self) -> bool:
        """Whether only part of the parameters is active per token."""
        return bool(self.params and self.active_params and self.active_params < self.params)


def resolve_size(model: Model | None, params: float | None, active_params: float | None,
                 tokens: float | None, teacher_params: float | None = None) -> Size:
    """Step 1: ``N_total``, ``N_active`` (default ``N_total``) and ``D``; given values win."""
    n_total = params if params is not None else (model.params if model else None)
    if active_params is not None:
        n_active: float | None = active_params
    elif params is not None:
        n_active = params
    else:
        n_active = model.active_params if model else None
    d = tokens if tokens is not None else (model.training_tokens if model else None)
    arch = model.architecture if model is not None and params is None else (
        "moe" if n_total and n_active and n_active < n_total else "dense")
    source = "given" if (params is not None or active_params is not None or model is None) \
        else f"catalogue ({model.name})"
    return Size(n_total, n_active, d, teacher_params, arch, source)


def training_compute(size: Size, *, layers: int | None = None,
                     attention_dim: float | None = None, seq_len: float | None = None,
                     ) -> tuple[float, float]:
    """Step 2: (student FLOPs, teacher FLOPs).

    Student: ``6 N_active D`` (+ ``12 L d_attn T D`` with a sequence length); an encoder-decoder
    passes each token through its own stack only, about half the parameters: ``6 (N/2) D``.
    Teacher (distillation): forward only, ``2 N_teacher D``.
    """
    if size.active_params is None or size.tokens is None:
        raise InvalidInputError("params (or model) and tokens are needed to count FLOPs")
    n = size.active_params / 2.0 if size.architecture == "encoder-decoder" else \
        size.active_params
    student = training_flops(n, size.tokens, layers=layers, attention_dim=attention_dim,
                             seq_len=seq_len)
    teacher = 2.0 * size.teacher_params * size.tokens if size.teacher_params else 0.0
    return student, teacher


def device_hours_from_flops(flops: float, teacher_flops: float, size: Size, hw: Hardware,
                            precision: str = "bf16", mfu: float | None = None,
                            scope: float = 1.0) -> tuple[float, float]:
    """Step 3: device-hours and the utilisation used.

    ``(flops / u(N_active) + teacher_flops / u(N_teacher)) / (peak e_moe) / 3600 x scope``;
    ``u`` is the curve (or the given ``mfu``), ``e_moe`` the MoE efficiency (1 for dense).
    """
    peak = hw.peak_flops(precision)
    curve = utilisation_curve()
    gen = generation(hw)
    u = mfu if mfu is not None else curve(float(size.active_params or 0), gen,
                                          hw.peak_flops("bf16"))
    e_moe = MOE_EFFICIENCY[1] if size.is_moe and mfu is None else 1.0
    seconds = flops / (peak * u * e_moe)
    if teacher_flops:
        u_t = mfu if mfu is not None else curve(float(size.teacher_params or 0), gen,
                                                hw.peak_flops("bf16"))
        seconds += teacher_flops / (peak * u_t)
    return seconds / 3600.0 * scope, u * e_moe


def device_power(hw: Hardware, power_w: float | None = None) -> tuple[float, float]:
    """Step 4: (accelerator W, host multiplier).

    ``TDP f_kind`` and ``1 + h``; or ``power_w`` and 1 (a published all-in power per device
    already holds the host's share).
    """
    if power_w is not None:
        return float(power_w), 1.0
    fraction = POWER_FRACTION.get(hw.kind, POWER_FRACTION["gpu"])
    return hw.require_tdp_w() * fraction[1], 1.0 + HOST_OVERHEAD[1]


def facility_energy(it_energy_kwh: float, pue: float) -> float:
    """Step 5: facility energy ``= IT energy x PUE`` (kWh in, kWh out)."""
    if pue < 1.0:
        raise InvalidInputError(f"pue must be >= 1, got {pue!r}")
    return it_energy_kwh * pue


def amortised_embodied_kg(device_kg: float, device_hours: float, lifetime_years: float,
                          utilisation: float = 1.0) -> float:
    """Embodied emissions charged to a run: ``device_kg x device_hours / (lifetime_h x u)``.

    The method of Luccioni et al. 2022 for BLOOM (each device's manufacturing emissions spread
    over the hours it is used in its life: ``lifetime_years x 8760 x utilisation``); kg CO2e.
    """
    if lifetime_years <= 0 or not 0 < utilisation <= 1:
        raise InvalidInputError("lifetime_years must be > 0 and utilisation in (0, 1]")
    return device_kg * device_hours / (lifetime_years * 8760.0 * utilisation)
