"""Inference energy per request: roofline per decode step, fitted serving constants, Ranges.

Steps (each a small pure function; formulas and the fit in :mod:`wattlm.estimate.serving` and
:mod:`wattlm.estimate.calibration`, method in ``docs/methodology/estimation-inference.md``):

1. geometry: a local ``config.json``, the catalogue, or the parameter count;
2. deployment: ``devices = tensor_parallel x data_parallel``, ``expert_parallel`` dividing it;
3. batch: capped by what the KV cache fits (warning W801), or from ``arrival_rate`` by Little's
   law ``B = lambda x W(B)``;
4. ideal step times (bytes / bandwidth, FLOPs / peak, collectives from latency and bandwidth);
5. predicted times and power with the constants fitted on measured rows;
6. energy per output token (accelerators) ``= devices x P x t_eff / B``; host ``= devices x h
   TDP x t_eff / B`` (``h`` = :data:`HOST_FRACTION`); facility ``= IT x (PUE - 1)``;
7. the range: cross-validated (leave-one-model-family-out) log-ratio quantiles, widened where
   the part, precision or engine has no measured rows, or the experts are unknown.

Units: J, s, W, tokens.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from wattlm._validate import shown
from wattlm.errors import EstimateWarning, InvalidInputError, warn
from wattlm.estimate.calibration import Prediction, load_constants, predict, range_quantiles
from wattlm.estimate.geometry import (
    Geometry,
    geometry_from_config,
    geometry_from_model,
    geometry_from_params,
    moe_unique_experts,
)
from wattlm.estimate.inference_result import InferenceEstimate
from wattlm.estimate.inputs import (
    check_context,
    check_grid,
    check_name,
    count,
    note_overrides,
    positive,
)
from wattlm.estimate.serving import (
    ENGINES,
    PRECISION_BYTES,
    Deployment,
    StepFeatures,
    kv_cache_capacity,
    resolve_deployment,
    resolve_engine,
    step_features,
)
from wattlm.units import Provenance, Range

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.catalog.hardware import Hardware
    from wattlm.records import Footprint

__all__ = [
    "ENGINES",
    "HOST_FRACTION",
    "PRECISION_BYTES",
    "InferenceEstimate",
    "estimate_inference",
    "moe_unique_experts",
]

#: Host (CPU, DRAM, NIC, fans) power per device as a fraction of its TDP, (low, central, high):
#: EcoLogits' 1.2 kW non-GPU server power per 8 H100s is 0.21 x 700 W.
HOST_FRACTION = (0.14, 0.21, 0.30)
#: Range widening (multiplies the log-width) where no measured rows cover the part / precision /
#: engine, and where the experts of a MoE are unknown.
WIDEN_UNFITTED = 1.6
MAX_DEVICES = 1024


def _normalise_precision(precision: str) -> str:
    key = precision.lower().strip() if isinstance(precision, str) else ""
    key = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32"}.get(key, key)
    if key not in PRECISION_BYTES:
        raise InvalidInputError(
            f"precision: unknown {shown(precision)}; valid choices: {', '.join(PRECISION_BYTES)}")
    return key


def _check_inputs(params: float | None, active_params: float | None, batch_size: int,
                  input_tokens: float, output_tokens: float, arrival_rate: float | None,
                  degrees: tuple[int | None, ...]) -> None:
    """Every number through :mod:`wattlm._validate` (bounds in docs/cli.md) before any work."""
    positive(params, "params", low=1.0)
    positive(active_params, "active_params", low=1.0)
    # below one request in ~12 days, the idle energy per request is surely not what is meant
    positive(arrival_rate, "arrival_rate", unit="requests per second", low=1e-6)
    for name, value in (("batch_size", batch_size), ("input_tokens", input_tokens),
                        ("output_tokens", output_tokens)):
        if value is None:
            raise InvalidInputError(f"{name} must be a whole number >= 1, got None")
        count(value, name)
    for name, degree in zip(("devices", "tensor_parallel", "expert_parallel", "data_parallel"),
                            degrees, strict=True):
        count(degree, name)
    if active_params is not None and params is not None and active_params > params:
        raise InvalidInputError(
            f"active_params ({active_params:,.0f}) cannot exceed params ({params:,.0f})")


def resolve_geometry(model: str | None, params: float | None, active_params: float | None,
                     config: str | Path | None, *, warn_estimated: bool = True) -> Geometry:
    """Step 1: the model's geometry (config.json > catalogue > parameter count, warning W802)."""
    if config is not None:
        return geometry_from_config(config)
    if model is not None:
        from wattlm.catalog.models import get_model

        catalogue_model = get_model(model)
        note_overrides(catalogue_model, {"params": params, "active_params": active_params})
        geo = geometry_from_model(catalogue_model, params, active_params)
    elif params is not None:
        geo = geometry_from_params(float(params), active_params)
    else:
        raise InvalidInputError("give model= (a catalogue name), config= (a local config.json) "
                                "or params= (total parameters)")
    if warn_estimated:
        warn_estimated_shape(geo)
    return geo


def warn_estimated_shape(geo: Geometry) -> None:
    """W802 when the shape came from the parameter count alone."""
    if geo.source == "estimated":
        bounded = " MoE weight reads bounded between active-only and all experts;" \
            if geo.moe_bounds else ""
        warn(f"shape of {geo.name or 'the model'} estimated from its parameter count "
             f"({geo.layers} layers, {geo.kv_heads} KV heads);{bounded} pass model= or config= "
             "for a tighter figure", EstimateWarning, "W802")


def _default_devices(geo: Geometry, hw: Hardware, precision: str, batch: int,
                     input_tokens: float, output_tokens: float) -> int:
    """Smallest power of two of devices whose memory holds the weights and the batch's KV."""
    count = 1
    while count <= MAX_DEVICES:
        dep = Deployment(count, 1, 1)
        if kv_cache_capacity(geo, dep, hw, precision, input_tokens, output_tokens) >= batch:
            return count
        count *= 2
    raise InvalidInputError(f"{geo.name or 'the model'} with batch {batch} does not fit "
                            f"{MAX_DEVICES} x {hw.name}; lower the batch size or precision")


def cap_batch(geo: Geometry, dep: Deployment, hw: Hardware, precision: str, batch: int,
              input_tokens: float, output_tokens: float) -> int:
    """Step 3: the batch a server can hold (KV-cache capacity per replica x replicas; W801)."""
    per_replica = kv_cache_capacity(geo, dep, hw, precision, input_tokens, output_tokens)
    if per_replica < 1:
        raise InvalidInputError(
            f"{geo.name or 'the model'} at {precision} does not fit {dep.devices} x {hw.name} "
            f"with one {input_tokens + output_tokens:g}-token sequence; use more devices "
            "(tensor_parallel/devices) or a lower precision")
    cap = per_replica * dep.data_parallel
    if batch > cap:
        warn(f"batch {batch} does not fit the KV cache of {dep.devices} x {hw.name} "
             f"({per_replica} sequences per replica); estimated at batch {cap}",
             EstimateWarning, "W801")
        return cap
    return batch


def _prediction(geo: Geometry, dep: Deployment, hw: Hardware, precision: str, engine: str,
                batch: float, input_tokens: float, output_tokens: float,
                ) -> tuple[StepFeatures, Prediction]:
    from wattlm.estimate.inference_data import group_key

    consts, _ = load_constants()
    feats = step_features(geo, dep, hw, precision, batch, input_tokens, output_tokens)
    return feats, predict(feats, group_key(hw.name, precision, engine), engine, consts)


def batch_from_arrival_rate(rate: float, geo: Geometry, dep: Deployment, hw: Hardware,
                            precision: str, engine: str, input_tokens: float,
                            output_tokens: float) -> tuple[float, float]:
    """Concurrency from Little's law ``B = lambda W(B)`` and the idle share between arrivals.

    ``W(B) = TTFT + O t_step(B)``; iterated to a fixed point. Returns ``(B, idle_s)``: with
    ``lambda W(1) < 1`` the batch is 1 and each request leaves ``1/lambda - W(1)`` seconds of
    idle devices.
    """
    _, p1 = _prediction(geo, dep, hw, precision, engine, 1.0, input_tokens, output_tokens)
    w1 = p1.mean_step_s * output_tokens
    if rate * w1 <= 1.0:
        return 1.0, 1.0 / rate - w1
    batch = rate * w1
    for _ in range(50):
        _, p = _prediction(geo, dep, hw, precision, engine, batch, input_tokens, output_tokens)
        new = max(1.0, rate * p.mean_step_s * output_tokens)
        if abs(new - batch) < 1e-3 * batch:
            break
        batch = 0.5 * (batch + new)
    return batch, 0.0


def _ranges(central: float, q: list[float], widen: float) -> tuple[float, float]:
    """Bounds of a measured value given prediction ``central`` and log(pred/meas) quantiles."""
    lo_q, hi_q = q[0] * widen, q[1] * widen
    return central / math.exp(hi_q), central / math.exp(lo_q)


def _energy_terms(geo: Geometry, dep: Deployment, hw: Hardware, feats: StepFeatures,
                  pred: Prediction, batch: float, output_tokens: float, idle_s: float,
                  ) -> dict[str, float]:
    """Step 6: per-request accelerator and host energy (J) and times (s), central."""
    consts, _ = load_constants()
    tdp = hw.require_tdp_w()
    accel = dep.devices * pred.power_fraction * tdp * pred.mean_step_s * output_tokens / batch
    accel += dep.devices * consts.power[0] * tdp * idle_s
    share_s = pred.mean_step_s * output_tokens / batch + idle_s
    host = dep.devices * HOST_FRACTION[1] * tdp * share_s
    ttft = pred.step_s + consts.a_p * feats.prefill_s * output_tokens / max(batch, 1.0)
    return {"accel_j": accel, "host_j": host, "share_s": share_s, "ttft_s": ttft,
            "request_s": ttft + output_tokens * pred.step_s}


def estimate_inference(
    model: str | None = None, params: float | None = None, active_params: float | None = None,
    hardware: str | None = None, devices: int | None = None, precision: str = "bf16",
    batch_size: int = 1, input_tokens: float = 1000, output_tokens: float = 250,
    pue: float | None = None, region: str | None = None, intensity: float | None = None,
    engine: str | None = None, tensor_parallel: int | None = None,
    expert_parallel: int | None = None, data_parallel: int | None = None,
    arrival_rate: float | None = None, config: str | Path | None = None,
) -> InferenceEstimate:
    """Estimate the energy, time and footprint of serving one request.

    Args:
        model: catalogue model name or Hugging Face id (``"Qwen/Qwen3-8B"``).
        params: total parameters (instead of ``model``; overrides the catalogue's).
        active_params: parameters per token (mixture of experts).
        hardware: accelerator from the catalogue (default ``"H100-SXM"``).
        devices: accelerators (``tensor_parallel x data_parallel``); default the smallest power
            of two that holds the weights and the batch's KV cache.
        precision: weight precision: ``fp32, bf16, fp16, fp8, int8, fp4, int4``.
        batch_size: concurrent requests sharing each decode step (all replicas together).
        input_tokens: prompt tokens per request.
        output_tokens: generated tokens per request.
        pue: facility power usage effectiveness (default: the region's, else 1.0).
        region: grid region for emissions (see ``wattlm regions``).
        intensity: grid carbon intensity in gCO2e/kWh (overrides ``region``).
        engine: serving stack: ``vllm-current`` (default) or ``vllm-0.5``.
        tensor_parallel: devices per replica sharing each layer.
        expert_parallel: devices the routed experts are spread over (divides ``devices``).
        data_parallel: replicas of the attention/dense part.
        arrival_rate: requests per second; replaces ``batch_size`` (Little's law) and charges
            idle power between arrivals.
        config: path of a local Hugging Face ``config.json`` for the geometry (no download).

    Returns:
        An :class:`InferenceEstimate` (J per request or per output token; s).

    Raises:
        InvalidInputError: a value out of range, an unknown engine or precision, parallel
            degrees that do not fit the devices, a model that does not fit.
        DataError: a ``config.json`` that is not a model config.
        UnknownNameError: unknown model or hardware (with "did you mean").
    """
    precision = _normalise_precision(precision)
    eng = resolve_engine(engine)
    _check_inputs(params, active_params, batch_size, input_tokens, output_tokens, arrival_rate,
                  (devices, tensor_parallel, expert_parallel, data_parallel))
    pue, intensity = check_grid(pue, intensity, region)
    check_name(model, "model")
    if config is not None and (model is not None or params is not None
                               or active_params is not None):
        raise InvalidInputError("config= gives the model's shape and parameter counts; model=, "
                                "params= and active_params= would be ignored: give one source")
    from wattlm.catalog.hardware import get_hardware

    hw = get_hardware("H100-SXM" if hardware is None else check_name(hardware, "hardware") or "")
    geo = resolve_geometry(model, params, active_params, config, warn_estimated=False)
    i_tok, o_tok = float(input_tokens), float(output_tokens)
    check_context(i_tok + o_tok, geo.context_length, geo.name, "input_tokens + output_tokens")
    default = 1 if devices or tensor_parallel else _default_devices(
        geo, hw, precision, int(batch_size), i_tok, o_tok)
    dep = resolve_deployment(devices, tensor_parallel, expert_parallel, data_parallel, default)
    idle_s = 0.0
    if arrival_rate is not None:
        batch, idle_s = batch_from_arrival_rate(float(arrival_rate), geo, dep, hw, precision,
                                                eng, i_tok, o_tok)
        batch = float(cap_batch(geo, dep, hw, precision, math.ceil(batch), i_tok, o_tok)) \
            if batch > 1 else batch
    else:
        batch = float(cap_batch(geo, dep, hw, precision, int(batch_size), i_tok, o_tok))
    warn_estimated_shape(geo)  # after every check: a bad value is one line, no warning before
    feats, pred = _prediction(geo, dep, hw, precision, eng, batch, i_tok, o_tok)
    return _assemble(geo, dep, hw, precision, eng, batch, i_tok, o_tok, idle_s, feats, pred,
                     pue, region, intensity, arrival_rate, devices is None and
                     tensor_parallel is None)


def _assemble(geo: Geometry, dep: Deployment, hw: Hardware, precision: str, engine: str,
              batch: float, i_tok: float, o_tok: float, idle_s: float, feats: StepFeatures,
              pred: Prediction, pue: float | None, region: str | None,
              intensity: float | None, arrival_rate: float | None, devices_assumed: bool,
              ) -> InferenceEstimate:
    """Steps 6-7: energies, times, ranges and the footprint."""
    consts, _ = load_constants()
    quantiles, own = range_quantiles(_group(hw, precision, engine))
    terms = _energy_terms(geo, dep, hw, feats, pred, batch, o_tok, idle_s)
    widen = 1.0 if pred.fitted_group else WIDEN_UNFITTED
    if not pred.fitted_group:
        warn(f"no measured rows for {hw.name} at {precision} with {engine}; constants borrowed "
             "and the range widened", EstimateWarning, "W805")
    e_lo, e_hi = _ranges(terms["accel_j"], quantiles["energy"], widen)
    t_lo, t_hi = _ranges(pred.step_s, quantiles["tpot"], widen)
    if geo.moe_bounds:  # unknown experts: between active-only and all-expert reads
        lo_p = predict(feats, _group(hw, precision, engine), engine, consts,
                       memory_s=feats.memory_s_active_only)
        hi_p = predict(feats, _group(hw, precision, engine), engine, consts,
                       memory_s=feats.memory_s_all_experts)
        e_lo *= lo_p.mean_step_s / pred.mean_step_s
        e_hi *= hi_p.mean_step_s / pred.mean_step_s
        t_lo *= lo_p.step_s / pred.step_s
        t_hi *= hi_p.step_s / pred.step_s
    prov = Provenance.ASSUMED if devices_assumed else Provenance.ESTIMATED
    accel = Range(e_lo, terms["accel_j"], e_hi, Provenance.ESTIMATED)
    host_lo, host_c, host_hi = (terms["host_j"] * f / HOST_FRACTION[1] for f in HOST_FRACTION)
    host = Range(host_lo, host_c, host_hi, Provenance.ASSUMED)
    it_j = accel + host
    fp, pue_used, pue_note = _footprint(it_j, terms["share_s"], hw.name, dep.devices, pue,
                                        region, intensity)
    facility = it_j * (pue_used - 1.0)
    total = it_j + facility
    step = Range(t_lo, pred.step_s, t_hi, Provenance.ESTIMATED)
    ratio = terms["request_s"] / pred.step_s
    assumptions = {
        "model": geo.name or "custom", "geometry_source": geo.source,
        "params": geo.params, "active_params": geo.active_params, "hardware": hw.name,
        "devices": dep.devices, "tensor_parallel": dep.tensor_parallel,
        "expert_parallel": dep.expert_parallel, "data_parallel": dep.data_parallel,
        "devices_source": "smallest power of two holding weights + KV cache"
        if devices_assumed else "given",
        "precision": precision, "engine": engine, "engine_description": ENGINES[engine],
        "batch_size": batch, "arrival_rate": arrival_rate, "idle_s_per_request": idle_s,
        "input_tokens": i_tok, "output_tokens": o_tok, "tdp_w": hw.tdp_w,
        "power_fraction_of_tdp": pred.power_fraction, "mean_step_s": pred.mean_step_s,
        "constants": consts.to_dict(), "range_log_ratio_quantiles": quantiles,
        "range_widened": widen > 1.0 or geo.moe_bounds or not own, "pue": pue_used,
        "pue_source": pue_note,
        "host_fraction_of_tdp": list(HOST_FRACTION),
        "boundary": "accelerators + host (h x TDP per device) + facility (PUE)",
        "method": "roofline + fitted serving constants; docs/methodology/estimation-inference.md",
    }
    if geo.is_moe and geo.experts:
        assumptions["experts_touched_per_layer_per_step"] = moe_unique_experts(
            geo.experts, geo.experts_per_token or 1, batch)
    return InferenceEstimate(
        energy_per_request_j=total, energy_per_output_token_j=total / o_tok,
        accelerators_energy_per_output_token_j=accel / o_tok,
        accelerators_energy_per_request_j=accel, host_energy_per_request_j=host,
        facility_energy_per_request_j=facility,
        time_per_request_s=Range(t_lo * ratio, terms["request_s"], t_hi * ratio,
                                 Provenance.ESTIMATED),
        time_per_output_token_s=step, devices=Range.exact(float(dep.devices), prov),
        footprint=fp, assumptions=assumptions)


def _group(hw: Hardware, precision: str, engine: str) -> str:
    from wattlm.estimate.inference_data import group_key

    return group_key(hw.name, precision, engine)


def _footprint(it_j: Range, share_s: float, hardware: str, devices: int, pue: float | None,
               region: str | None, intensity: float | None,
               ) -> tuple[Footprint, float, str]:
    """Per-request footprint through the one accounting function, and the PUE it used."""
    from wattlm.carbon.accounting import footprint
    from wattlm.estimate.region import one_region_warning, warn_region_dependence
    from wattlm.units import j_to_kwh

    with one_region_warning(region, intensity):
        fp = footprint(it_j.map(j_to_kwh), region=region, intensity=intensity, pue=pue,
                       duration_s=share_s, hardware=hardware, devices=devices)
    if region is None and intensity is None:
        warn_region_dependence(fp)
    if pue is not None:
        return fp, float(pue), "given"
    return fp, float(fp.assumptions["pue"]["value"]), "from the accounting path (region or default)"
