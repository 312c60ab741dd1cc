"""Serving physics: the ideal times of one decode step, from bytes, FLOPs and collectives.

Every function here is pure and returns *ideal* times (at peak bandwidth, peak FLOP/s and the
interconnect's nominal latency and bandwidth); :mod:`wattlm.estimate.calibration` turns them into
predicted times with a few fitted efficiency constants. Per GPU and per decode step, with a batch
of ``B`` sequences over ``DP`` data-parallel replicas (``b = B / DP`` each), ``TP`` devices per
replica and ``EP`` expert-parallel devices (units: bytes, FLOP, s):

* memory ``M = (W_dense / TP + W_experts_touched / max(EP, TP) + b KV(c) / TP_kv) / bw``;
* compute ``C = (2 N_active B / (TP DP) + 4 h d_head A(c) b / TP) / peak``;
* collectives ``K``: tensor-parallel all-reduce of the activations, 2 per layer (1 with EP),
  each ``2 (TP-1) alpha + 2 (TP-1)/TP * b d 2 / bw_link``; expert-parallel all-to-all, 2 per
  MoE layer, each ``2 alpha + (B / EP) k d 2 (EP-1)/EP / bw_link``; no per-step collective for
  data parallelism;
* prefill (chunked into the decode steps in steady state): ``I B / O`` prompt tokens per step,
  ``P = (I B / O) (2 N_active + 2 h d_head A(I/2)) / (TP DP peak)``.

``W`` are weight bytes (``params x bytes per weight``), ``KV(c)`` the cache of one sequence at its
mean resident length ``c = I + O/2`` (sliding windows applied), ``A(c)`` the tokens attended over
all attention layers, ``alpha`` the link latency and ``bw_link`` its bandwidth (hardware
catalogue columns ``interconnect_latency_us`` and ``interconnect_bw_gbps``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wattlm.errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.catalog.hardware import Hardware
    from wattlm.estimate.geometry import Geometry

__all__ = [
    "ACTIVATION_BYTES",
    "ENGINES",
    "PRECISION_BYTES",
    "Deployment",
    "StepFeatures",
    "kv_cache_capacity",
    "resolve_deployment",
    "resolve_engine",
    "step_features",
]

#: Bytes per weight for each accepted precision.
PRECISION_BYTES: dict[str, float] = {
    "fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5, "int4": 0.5,
}
#: Bytes per activation element exchanged in collectives and per KV-cache element (16 bits).
ACTIVATION_BYTES = 2.0
#: Fraction of device memory a server uses for weights + KV cache (vLLM's default).
MEMORY_FRACTION = 0.9
#: Serving stacks with calibrated overheads; the first is the default. Aliases map to them.
ENGINES: dict[str, str] = {
    "vllm-current": "vLLM 0.11-era (ML.ENERGY v3, 2025): CUDA graphs, chunked prefill",
    "vllm-0.5": "vLLM 0.5.4 (ML.ENERGY v2, 2024)",
}
_ENGINE_ALIASES = {"vllm": "vllm-current", "vllm-0.5.4": "vllm-0.5", "vllm0.5": "vllm-0.5"}


def resolve_engine(engine: str | None) -> str:
    """Canonical engine name; ``None`` is the documented default ``vllm-current``.

    Raises:
        InvalidInputError: an engine that has no calibration (names the valid choices).
    """
    if engine is None:
        return "vllm-current"
    key = str(engine).strip().lower()
    key = _ENGINE_ALIASES.get(key, key)
    if key not in ENGINES:
        raise InvalidInputError(
            f"engine: unknown serving engine {engine!r}; valid choices: "
            f"{', '.join(ENGINES)} (default vllm-current)")
    return key


@dataclass(frozen=True)
class Deployment:
    """How the model is spread over devices.

    Attributes:
        tensor_parallel: devices per replica sharing every layer (TP).
        expert_parallel: devices the routed experts are spread over (EP; 1: experts are
            tensor-parallel like the rest).
        data_parallel: independent replicas of the attention/dense part (DP).
    """

    tensor_parallel: int
    expert_parallel: int
    data_parallel: int

    @property
    def devices(self) -> int:
        """Accelerators in the deployment: ``TP x DP``."""
        return self.tensor_parallel * self.data_parallel


def _degree(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(float(value)) or value < 1 or int(value) != value:
        raise InvalidInputError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def resolve_deployment(devices: int | None, tensor_parallel: int | None,
                       expert_parallel: int | None, data_parallel: int | None,
                       default_devices: int) -> Deployment:
    """Check the parallel degrees against the device count and fill the missing ones.

    ``devices = tensor_parallel x data_parallel``; ``expert_parallel`` must divide the devices
    (vLLM spreads experts over all ``TP x DP`` devices when expert parallelism is on).

    Raises:
        InvalidInputError: degrees that cannot fit the device count (says which would).
    """
    dev = _degree("devices", devices)
    tp, ep, dp = (_degree("tensor_parallel", tensor_parallel),
                  _degree("expert_parallel", expert_parallel),
                  _degree("data_parallel", data_parallel))
    dp = dp or 1
    if tp is None:
        total = dev if dev is not None else default_devices * dp
        if total % dp:
            raise InvalidInputError(
                f"data_parallel={dp} does not divide devices={total}; use a divisor of {total}")
        tp = total // dp
    if dev is not None and tp * dp != dev:
        raise InvalidInputError(
            f"tensor_parallel x data_parallel = {tp} x {dp} = {tp * dp} does not match "
            f"devices={dev}; give degrees whose product is the device count")
    ep = ep or 1
    if ep > tp * dp or (tp * dp) % ep:
        raise InvalidInputError(
            f"expert_parallel={ep} must divide the devices (tensor_parallel x data_parallel "
            f"= {tp * dp}); valid: " + ", ".join(
                str(x) for x in range(1, tp * dp + 1) if (tp * dp) % x == 0))
    return Deployment(tp, ep, dp)


@dataclass(frozen=True)
class StepFeatures:
    """Ideal times (s) of one decode step per GPU, and what the power model needs.

    Attributes:
        memory_s: bytes read / peak bandwidth (weights + KV cache).
        compute_s: decode FLOPs / peak FLOP/s.
        collective_s: TP all-reduce + EP all-to-all time at nominal latency and bandwidth.
        prefill_s: chunked-prefill FLOPs of the step / peak FLOP/s (steady state).
        batch_per_replica: sequences per replica ``b``.
        memory_s_all_experts: memory time if every expert were read (MoE bound).
        memory_s_active_only: memory time if only active weights were read (MoE bound).
    """

    memory_s: float
    compute_s: float
    collective_s: float
    prefill_s: float
    batch_per_replica: float
    memory_s_all_experts: float
    memory_s_active_only: float


def _weight_bytes(geo: Geometry, dep: Deployment, batch: float, bpw: float,
                  expert_mode: str) -> float:
    """Weight bytes read per GPU in one step (``expert_mode``: touched, all, active)."""
    b = batch / dep.data_parallel
    dense = (geo.params - geo.expert_params) * bpw / dep.tensor_parallel
    if not geo.is_moe:
        return dense
    ep = dep.expert_parallel
    share = max(ep, dep.tensor_parallel)
    if expert_mode == "all" or (geo.moe_bounds and expert_mode == "touched"):
        experts = geo.expert_params
        if geo.moe_bounds and expert_mode == "touched":  # geometric mean of the two bounds
            experts = math.sqrt(geo.expert_params * max(geo.active_params -
                                                        (geo.params - geo.expert_params), 1.0))
    elif expert_mode == "active":
        experts = geo.expert_params * (geo.experts_per_token or 1) / (geo.experts or 1) \
            if geo.experts else max(geo.active_params - (geo.params - geo.expert_params), 0.0)
    else:
        routed = batch if ep > 1 else b
        experts = geo.expert_weights_touched(routed)
    return dense + experts * bpw / share


def _collective_s(geo: Geometry, dep: Deployment, hw: Hardware, batch: float) -> float:
    alpha = (hw.interconnect_latency_us or 5.0) * 1e-6
    link = (hw.interconnect_bw_gbps or 32.0) * 1e9
    tp, ep = dep.tensor_parallel, dep.expert_parallel
    b = batch / dep.data_parallel
    total = 0.0
    if tp > 1:
        per = 2 * (tp - 1) * alpha + 2 * (tp - 1) / tp * b * geo.hidden * ACTIVATION_BYTES / link
        total += (geo.layers if ep > 1 else 2 * geo.layers) * per
    if ep > 1 and geo.is_moe:
        k = geo.experts_per_token or 1
        msg = batch / ep * k * geo.hidden * ACTIVATION_BYTES * (ep - 1) / ep
        total += 2 * geo.layers * (2 * alpha + msg / link)
    return total


def step_features(geo: Geometry, dep: Deployment, hw: Hardware, precision: str, batch: float,
                  input_tokens: float, output_tokens: float) -> StepFeatures:
    """Ideal per-GPU times of one decode step in steady state (see the module docstring)."""
    if not hw.memory_bw_gbps:
        raise InvalidInputError(f"{hw.name} has no memory bandwidth in the catalogue")
    bw = hw.memory_bw_gbps * 1e9
    peak = hw.peak_flops(precision)
    peak_attn = hw.peak_flops("bf16") if precision in ("fp8", "int8", "fp4", "int4") else peak
    bpw = PRECISION_BYTES[precision]
    tp, dp = dep.tensor_parallel, dep.data_parallel
    b = batch / dp
    context = input_tokens + output_tokens / 2.0
    kv_split = min(tp, geo.kv_heads) if geo.kv_heads else 1
    kv_bytes = b * geo.kv_elements_per_sequence(context) * ACTIVATION_BYTES / kv_split

    def memory(mode: str) -> float:
        return (_weight_bytes(geo, dep, batch, bpw, mode) + kv_bytes) / bw

    linear = 2.0 * geo.active_params * batch / (tp * dp) / peak
    attn = 4.0 * geo.attention_dim * geo.attended_tokens(context) * b / tp / peak_attn
    prompt_per_step = input_tokens * batch / output_tokens
    prefill = prompt_per_step * (2.0 * geo.active_params / peak + 2.0 * geo.attention_dim *
                                 geo.attended_tokens(input_tokens / 2.0) / peak_attn) / (tp * dp)
    return StepFeatures(memory("touched"), linear + attn, _collective_s(geo, dep, hw, batch),
                        prefill, b, memory("all"), memory("active"))


def kv_cache_capacity(geo: Geometry, dep: Deployment, hw: Hardware, precision: str,
                      input_tokens: float, output_tokens: float) -> int:
    """Sequences per replica whose KV cache fits beside the weights (0: weights do not fit).

    ``(TP mem f - W_replica) / KV(I + O)`` with ``f`` = :data:`MEMORY_FRACTION`; a replica holds
    its dense weights and, with expert parallelism, its share of the experts.
    """
    if not hw.memory_gb:
        raise InvalidInputError(f"{hw.name} has no memory size in the catalogue; inference "
                                "estimates need an accelerator (see `wattlm hardware`)")
    bpw = PRECISION_BYTES[precision]
    tp, ep = dep.tensor_parallel, dep.expert_parallel
    dense = (geo.params - geo.expert_params) * bpw
    experts = geo.expert_params * bpw * (tp / ep if ep > 1 else 1.0)
    free = tp * hw.memory_gb * 1e9 * MEMORY_FRACTION - dense - experts
    per_seq = geo.kv_elements_per_sequence(input_tokens + output_tokens) * ACTIVATION_BYTES
    kv_split = min(tp, geo.kv_heads) if geo.kv_heads else 1
    per_seq *= tp / kv_split  # replicated KV heads beyond kv_heads take memory on every device
    if free <= 0:
        return 0
    return int(free // per_seq) if per_seq > 0 else 10**9
