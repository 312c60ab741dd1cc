"""Inference energy as a roofline per forward pass, with a serving-overhead term and Ranges.

Per request with ``I`` input and ``O`` output tokens, served on ``D`` tensor-parallel devices in
a continuous batch of ``B`` requests (method in ``docs/methodology/estimation-inference.md``):

* **Prefill** (compute-bound): ``F_pre = I * (2 N_active + 2 L d_attn I)`` FLOP, time
  ``t_pre = max(F_pre / (D peak eta_prefill), W_bytes / (D bw eta_mem))`` at full device power.
* **Decode step** (memory-bound at small batch): the weights read once per step (for MoE the
  experts touched by the batch, ``E (1 - (1 - k/E)^B)`` per layer) plus the KV cache of every
  sequence, shared by the batch: ``t_roof = max(bytes / (D bw eta_mem), flops / (D peak
  eta_compute))``; the serving software adds ``t_over = tau_step + tau_seq B + tau_tp log2 D``;
  ``t_step = t_roof + t_over`` is the time per output token a user sees (TPOT).
* **Power**: ``P = TDP (f_idle + (1 - f_idle) u)`` with ``u = t_roof / t_step`` (busy share).
* Energy per request (accelerators) ``= D TDP t_pre + O D P t_step / B``; host ``= D h TDP
  t_share``; facility ``= (accelerators + host) (PUE - 1)``; ``t_share = t_pre + O t_step / B``.
* Time per request ``= t_pre + O t_step``; time per output token ``= t_step``.

Units: J, s, W, bytes, FLOP. The efficiency constants and their low/high values are in
:data:`EFFICIENCY`; they were calibrated on both the energy per output token and the time per
output token of half of the ML.ENERGY v2 models (see the methodology page).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wattlm.errors import InvalidInputError
from wattlm.units import Provenance, Range

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.catalog.hardware import Hardware
    from wattlm.records import Footprint

__all__ = [
    "EFFICIENCY",
    "PRECISION_BYTES",
    "InferenceEstimate",
    "ServingEfficiency",
    "estimate_inference",
    "moe_unique_experts",
]

#: Bytes per weight for each accepted precision.
PRECISION_BYTES: dict[str, float] = {
    "fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5, "int4": 0.5,
}
#: Fraction of device memory usable for weights + KV cache (vLLM's default gpu_memory_utilization).
MEMORY_FRACTION = 0.9
#: Largest tensor-parallel group the default device search will try.
MAX_DEVICES = 1024


@dataclass(frozen=True)
class ServingEfficiency:
    """The documented constants of one scenario (low, central or high energy).

    Attributes:
        eta_mem: achieved fraction of peak memory bandwidth in decode.
        eta_compute: achieved fraction of peak FLOP/s in decode matmuls.
        eta_prefill: achieved fraction of peak FLOP/s in prefill (MFU).
        tau_step_s: serving-software time per decode step (scheduling, sampling, launch).
        tau_seq_s: serving-software time per sequence per decode step.
        tau_tp_s: extra time per step per doubling of the devices (tensor/pipeline parallel
            synchronisation), multiplied by ``log2 D`` (zero on one device).
        f_idle: device power while serving but not computing, as a fraction of TDP.
        host_fraction: host (CPU, DRAM, NIC, fans) power per device, as a fraction of its TDP.
    """

    eta_mem: float
    eta_compute: float
    eta_prefill: float
    tau_step_s: float
    tau_seq_s: float
    tau_tp_s: float
    f_idle: float
    host_fraction: float


#: low / central / high scenarios. Central: calibrated on half of the ML.ENERGY v2 models, on
#: energy per output token and time per output token together (see docs); low/high: a faster
#: stack (overheads x 0.75) and a slower one (/ 0.75), chosen to bracket most measured rows.
EFFICIENCY: dict[str, ServingEfficiency] = {
    "low": ServingEfficiency(eta_mem=0.9, eta_compute=0.52, eta_prefill=0.7, tau_step_s=0.0105,
                             tau_seq_s=0.0002, tau_tp_s=0.016, f_idle=0.28, host_fraction=0.10),
    "central": ServingEfficiency(eta_mem=0.8, eta_compute=0.40, eta_prefill=0.6,
                                 tau_step_s=0.014, tau_seq_s=0.00027, tau_tp_s=0.021,
                                 f_idle=0.36, host_fraction=0.21),
    "high": ServingEfficiency(eta_mem=0.7, eta_compute=0.32, eta_prefill=0.5, tau_step_s=0.019,
                              tau_seq_s=0.00036, tau_tp_s=0.028, f_idle=0.45, host_fraction=0.30),
}


@dataclass(frozen=True)
class _Arch:
    """What the roofline needs about a model (filled from the catalogue or estimated)."""

    name: str | None
    params: float
    active_params: float
    layers: int
    attn_dim: float       # attention heads x head dim
    kv_dim: float         # KV heads x head dim
    experts: int | None
    experts_per_token: int | None
    estimated_shape: bool


@dataclass(frozen=True)
class InferenceEstimate:
    """Result of :func:`estimate_inference`; every figure is a :class:`Range` (J, s, count).

    ``accelerators/host/facility_energy_per_request_j`` sum to ``energy_per_request_j``;
    ``footprint`` is the per-request footprint from :func:`wattlm.carbon.accounting.footprint`.
    ``time_per_output_token_s`` is one decode step of the batch (what serving benchmarks call
    TPOT); ``time_per_request_s`` is prefill plus every decode step of the request.
    """

    energy_per_request_j: Range
    energy_per_output_token_j: Range
    accelerators_energy_per_output_token_j: Range
    accelerators_energy_per_request_j: Range
    host_energy_per_request_j: Range
    facility_energy_per_request_j: Range
    time_per_request_s: Range
    time_per_output_token_s: Range
    devices: Range
    footprint: Footprint | None
    assumptions: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; each Range becomes ``{"low", "central", "high", ...}``."""
        out: dict[str, Any] = {}
        for name in ("energy_per_request_j", "energy_per_output_token_j",
                     "accelerators_energy_per_output_token_j",
                     "accelerators_energy_per_request_j", "host_energy_per_request_j",
                     "facility_energy_per_request_j", "time_per_request_s",
                     "time_per_output_token_s", "devices"):
            out[name] = getattr(self, name).to_dict()
        out["footprint"] = self.footprint.to_dict() if self.footprint is not None else None
        out["assumptions"] = self.assumptions
        return out


def moe_unique_experts(experts: int, experts_per_token: int, tokens: float) -> float:
    """Return the expected number of distinct experts per layer that ``tokens`` tokens reach.

    Each token picks ``k`` of ``E`` experts (taken as independent and uniform), so an expert is
    missed by all tokens with probability ``(1 - k/E)^tokens``: ``E (1 - (1 - k/E)^tokens)``.
    """
    if experts <= 0 or not 0 < experts_per_token <= experts:
        raise InvalidInputError(
            f"need 0 < experts_per_token <= experts, got {experts_per_token} of {experts}")
    return float(experts * (1.0 - (1.0 - experts_per_token / experts) ** max(tokens, 0.0)))


def _positive(name: str, value: float | None, *, integer: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a positive number, got {value!r}")
    if value <= 0:
        raise InvalidInputError(f"{name} must be > 0, got {value!r}")
    if integer and int(value) != value:
        raise InvalidInputError(f"{name} must be a whole number, got {value!r}")


def _arch(model: str | None, params: float | None, active_params: float | None) -> _Arch:
    """Model shape from the catalogue, or estimated from the parameter count."""
    if model is not None:
        from wattlm.catalog.models import get_model

        m = get_model(model)
        total = float(params if params is not None else m.params)
        active = float(active_params if active_params is not None else
                       (m.active_params if params is None else total))
        hidden = m.hidden_size
        heads = m.attention_heads
        head_dim = m.head_dim or (hidden // heads if hidden and heads else None)
        if m.layers and heads and head_dim:
            kv_heads = m.kv_heads or heads
            return _Arch(m.name, total, active, m.layers, float(heads * head_dim),
                         float(kv_heads * head_dim), m.experts, m.experts_per_token, False)
        shape = _estimated_shape(active)
        return _Arch(m.name, total, active, shape[0], shape[1], shape[2], m.experts,
                     m.experts_per_token, True)
    if params is None:
        raise InvalidInputError("give model= (a catalogue name) or params= (total parameters)")
    active = float(active_params if active_params is not None else params)
    if active > params:
        raise InvalidInputError(
            f"active_params ({active:g}) cannot exceed params ({float(params):g})")
    shape = _estimated_shape(active)
    return _Arch(None, float(params), active, shape[0], shape[1], shape[2], None, None, True)


def _estimated_shape(active_params: float) -> tuple[int, float, float]:
    """(layers, attention dim, KV dim) for a dense decoder of ``active_params`` parameters.

    ``N ~ 12 L d^2`` with ``d = 128 L`` (the Llama/Mistral aspect) gives ``d = (N/0.09375)^(1/3)``;
    grouped-query attention with a quarter of the heads for K/V (Llama 3 8B: 8 of 32).
    """
    hidden = (active_params / 0.09375) ** (1.0 / 3.0)
    layers = max(1, round(hidden / 128.0))
    return layers, hidden, hidden / 4.0


def _weight_bytes_read(arch: _Arch, batch: float, bytes_per_weight: float) -> float:
    """Bytes of weights read in one decode step for ``batch`` sequences."""
    if arch.experts and arch.experts_per_token and arch.experts > arch.experts_per_token:
        e, k = arch.experts, arch.experts_per_token
        expert_total = (arch.params - arch.active_params) * e / (e - k)
        shared = max(arch.params - expert_total, 0.0)
        touched = moe_unique_experts(e, k, batch) / e
        return (shared + expert_total * touched) * bytes_per_weight
    return arch.active_params * bytes_per_weight


def _kv_bytes_per_token(arch: _Arch, precision: str) -> float:
    """K and V for one token across all layers; the cache is kept at 16 bits (32 for fp32)."""
    cache_bytes = 4.0 if precision == "fp32" else 2.0
    return 2.0 * arch.layers * arch.kv_dim * cache_bytes


def _memory_needed_bytes(arch: _Arch, batch: int, input_tokens: float, output_tokens: float,
                         precision: str) -> float:
    """Weights (all experts) + KV cache of the batch at its average resident length."""
    resident = input_tokens + output_tokens / 2.0
    return (arch.params * PRECISION_BYTES[precision]
            + batch * resident * _kv_bytes_per_token(arch, precision))


def _device_memory_bytes(hw: Hardware) -> float:
    if not hw.memory_gb:
        raise InvalidInputError(f"{hw.name} has no memory size in the catalogue; cannot place "
                                "the model (choose an accelerator)")
    return hw.memory_gb * 1e9 * MEMORY_FRACTION


def _choose_devices(arch: _Arch, hw: Hardware, devices: int | None, batch: int,
                    input_tokens: float, output_tokens: float, precision: str,
                    ) -> tuple[int, bool]:
    """Device count and whether the whole batch's KV cache fits beside the weights.

    Given devices must hold the weights plus one request's KV cache (a server caps the batch
    to what fits, so a batch that overflows is estimated with a note, not refused). The default
    is the smallest power of two that holds the weights and the whole batch's KV cache.
    """
    need = _memory_needed_bytes(arch, batch, input_tokens, output_tokens, precision)
    minimum_need = _memory_needed_bytes(arch, 1, input_tokens, output_tokens, precision)
    per_device = _device_memory_bytes(hw)
    if devices is not None:
        if minimum_need > devices * per_device:
            minimum = math.ceil(minimum_need / per_device)
            raise InvalidInputError(
                f"{arch.name or 'the model'} at {precision} needs {minimum_need / 1e9:.0f} GB "
                f"(weights {arch.params * PRECISION_BYTES[precision] / 1e9:.0f} GB + KV cache) "
                f"but {devices} x {hw.name} give {devices * per_device / 1e9:.0f} GB usable "
                f"({MEMORY_FRACTION:.0%} of {hw.memory_gb:g} GB each); use at least {minimum} "
                f"devices or a lower precision")
        return devices, need <= devices * per_device
    count = 1
    while count <= MAX_DEVICES:
        if need <= count * per_device:
            return count, True
        count *= 2
    raise InvalidInputError(
        f"{arch.name or 'the model'} with batch {batch} needs {need / 1e9:.0f} GB, more than "
        f"{MAX_DEVICES} x {hw.name}; lower the batch size or precision")


@dataclass(frozen=True)
class _Scenario:
    accel_j: float
    host_j: float
    time_s: float
    share_s: float
    step_s: float


def _scenario(arch: _Arch, hw: Hardware, eff: ServingEfficiency, *, devices: int, batch: int,
              input_tokens: float, output_tokens: float, precision: str) -> _Scenario:
    """Energy (J) and times (s) per request for one set of efficiency constants."""
    tdp = hw.require_tdp_w()
    peak = hw.peak_flops(precision)
    if not hw.memory_bw_gbps:
        raise InvalidInputError(f"{hw.name} has no memory bandwidth in the catalogue")
    bw = hw.memory_bw_gbps * 1e9
    bpw = PRECISION_BYTES[precision]
    kv = _kv_bytes_per_token(arch, precision)
    # prefill of this request (alone): compute-bound, weights read once
    pre_flops = input_tokens * (2.0 * arch.active_params
                                + 2.0 * arch.layers * arch.attn_dim * input_tokens)
    pre_bytes = _weight_bytes_read(arch, input_tokens, bpw) + input_tokens * kv
    t_pre = max(pre_flops / (devices * peak * eff.eta_prefill),
                pre_bytes / (devices * bw * eff.eta_mem))
    # one decode step of the batch
    context = input_tokens + output_tokens / 2.0
    step_bytes = _weight_bytes_read(arch, batch, bpw) + batch * context * kv
    step_flops = batch * (2.0 * arch.active_params + 4.0 * arch.layers * arch.attn_dim * context)
    t_roof = max(step_bytes / (devices * bw * eff.eta_mem),
                 step_flops / (devices * peak * eff.eta_compute))
    t_over = eff.tau_step_s + eff.tau_seq_s * batch + eff.tau_tp_s * math.log2(devices)
    t_step = t_roof + t_over
    busy = t_roof / t_step
    power_w = tdp * (eff.f_idle + (1.0 - eff.f_idle) * busy)
    accel_j = devices * tdp * t_pre + output_tokens * devices * power_w * t_step / batch
    share_s = t_pre + output_tokens * t_step / batch
    host_j = devices * eff.host_fraction * tdp * share_s
    return _Scenario(accel_j, host_j, t_pre + output_tokens * t_step, share_s, t_step)


def _range(values: dict[str, float], provenance: Provenance = Provenance.ESTIMATED) -> Range:
    low, central, high = values["low"], values["central"], values["high"]
    return Range(min(low, central, high), central, max(low, central, high), provenance)


def _normalise_precision(precision: str) -> str:
    key = precision.lower().strip() if isinstance(precision, str) else ""
    if key not in PRECISION_BYTES:
        raise InvalidInputError(
            f"unknown precision {precision!r}; use one of {', '.join(PRECISION_BYTES)}")
    return key


def estimate_inference(
    model: str | None = None,
    params: float | None = None,
    active_params: float | None = None,
    hardware: str | None = None,
    devices: int | None = None,
    precision: str = "bf16",
    batch_size: int = 1,
    input_tokens: float = 1000,
    output_tokens: float = 250,
    pue: float | None = None,
    region: str | None = None,
    intensity: float | None = None,
) -> InferenceEstimate:
    """Energy, time and footprint of one inference request, as Ranges.

    Args:
        model: catalogue name (``"llama-2-70b"``, a Hugging Face id); or give ``params``.
        params: total parameters (overrides the catalogue's).
        active_params: parameters used per token (mixture-of-experts); default ``params``.
        hardware: accelerator name from the catalogue (default ``"H100-SXM"``).
        devices: tensor-parallel devices; default the smallest power of two that holds the
            weights and the batch's KV cache.
        precision: weight precision, one of ``fp32, bf16, fp16, fp8, int8, fp4, int4``.
        batch_size: concurrent requests sharing each decode step.
        input_tokens: prompt tokens per request.
        output_tokens: generated tokens per request.
        pue: facility power usage effectiveness (default: region's, else 1.0 assumed).
        region: grid region for emissions (see ``wattlm regions``).
        intensity: grid carbon intensity in gCO2e/kWh (overrides ``region``).

    Returns:
        An :class:`InferenceEstimate`; energies in J per request or per output token.

    Raises:
        InvalidInputError: a value out of range, unknown precision, or a model that does not
            fit the given devices (the message says how many would).
        UnknownNameError: unknown model or hardware (with "did you mean").
    """
    precision = _normalise_precision(precision)
    _positive("params", params)
    _positive("active_params", active_params)
    _positive("devices", devices, integer=True)
    _positive("batch_size", batch_size, integer=True)
    _positive("input_tokens", input_tokens)
    _positive("output_tokens", output_tokens)
    _positive("intensity", intensity)
    if pue is not None and (not math.isfinite(pue) or pue < 1.0):
        raise InvalidInputError(f"pue must be >= 1.0, got {pue!r}")
    if active_params is not None and params is not None and active_params > params:
        raise InvalidInputError(
            f"active_params ({active_params:g}) cannot exceed params ({params:g})")

    from wattlm.catalog.hardware import get_hardware

    hw = get_hardware(hardware or "H100-SXM")
    arch = _arch(model, params, active_params)
    batch = int(batch_size)
    dev, batch_fits = _choose_devices(arch, hw, int(devices) if devices is not None else None,
                                      batch, float(input_tokens), float(output_tokens), precision)
    runs = {name: _scenario(arch, hw, eff, devices=dev, batch=batch,
                            input_tokens=float(input_tokens), output_tokens=float(output_tokens),
                            precision=precision)
            for name, eff in EFFICIENCY.items()}
    accel = _range({k: s.accel_j for k, s in runs.items()})
    host = _range({k: s.host_j for k, s in runs.items()})
    time_s = _range({k: s.time_s for k, s in runs.items()})
    step_s = _range({k: s.step_s for k, s in runs.items()})
    share_s = runs["central"].share_s
    it_j = accel + host

    fp, pue_used, pue_note = _footprint(it_j, share_s, hw.name, dev, pue, region, intensity)
    facility = it_j * (pue_used - 1.0)
    total = it_j + facility
    out_tokens = float(output_tokens)
    assumptions: dict[str, Any] = {
        "model": arch.name or "custom",
        "params": arch.params,
        "active_params": arch.active_params,
        "hardware": hw.name,
        "devices": dev,
        "devices_source": "given" if devices is not None else
        "smallest power of two holding weights + KV cache",
        "precision": precision,
        "bytes_per_weight": PRECISION_BYTES[precision],
        "batch_size": batch,
        "input_tokens": float(input_tokens),
        "output_tokens": out_tokens,
        "tdp_w": hw.tdp_w,
        "peak_flops": hw.peak_flops(precision),
        "memory_bw_gbps": hw.memory_bw_gbps,
        "efficiency": {k: vars(v) for k, v in EFFICIENCY.items()},
        "pue": pue_used,
        "pue_source": pue_note,
        "shape_estimated": arch.estimated_shape,
        "boundary": "accelerators + host (h x TDP per device) + facility (PUE)",
        "method": "roofline per step + serving overhead; docs/methodology/estimation-inference.md",
    }
    if not batch_fits:
        assumptions["note"] = (f"the KV cache of {batch} requests does not fit beside the weights "
                               f"on {dev} x {hw.name}; a server would run a smaller batch")
    if arch.experts:
        assumptions["experts_touched_per_layer_per_step"] = moe_unique_experts(
            arch.experts, arch.experts_per_token or 1, batch)
    return InferenceEstimate(
        energy_per_request_j=total,
        energy_per_output_token_j=total / out_tokens,
        accelerators_energy_per_output_token_j=accel / out_tokens,
        accelerators_energy_per_request_j=accel,
        host_energy_per_request_j=host,
        facility_energy_per_request_j=facility,
        time_per_request_s=time_s,
        time_per_output_token_s=step_s,
        devices=Range.exact(float(dev), Provenance.ASSUMED if devices is None else None),
        footprint=fp,
        assumptions=assumptions,
    )


def _footprint(it_j: Range, share_s: float, hardware: str, devices: int, pue: float | None,
               region: str | None, intensity: float | None,
               ) -> tuple[Footprint, float, str]:
    """Per-request footprint through the one accounting function, and the PUE it used."""
    from wattlm.carbon.accounting import footprint

    fp = footprint(it_j / 3.6e6, region=region, intensity=intensity, pue=pue,
                   duration_s=share_s, hardware=hardware, devices=devices)
    if pue is not None:
        return fp, float(pue), "given"
    return fp, float(fp.assumptions["pue"]["value"]), "from the accounting path (region or default)"
