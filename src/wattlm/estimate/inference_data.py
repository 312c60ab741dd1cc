"""The measured serving rows the inference estimator is calibrated and cross-validated on.

* ML.ENERGY v3 (part: Qwen 3 and Gemma 3 families, current vLLM, H100 and B200, bf16 and fp8,
  tensor / expert / data parallel): median ITL, ``avg_batch / throughput`` (the mean step with
  prefill), measured average power per GPU, energy per output token.
* ML.ENERGY v2 (vLLM 0.5.4, A100-40GB and H100, bf16): mean TPOT (as the step time),
  ``avg_batch / token throughput`` (the mean step with prefill), the power implied by energy per
  token x throughput (all GPUs), energy per output token.
  The 17 pipeline-parallel rows (PP = 2) are left out: the estimator models TP/EP/DP only.

Prompt lengths are not published by either; the documented assumptions are
:data:`INPUT_TOKENS` per task. Families (for leave-one-family-out) are the catalogue's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

from wattlm._caches import cached
from wattlm.errors import DataError
from wattlm.estimate.geometry import Geometry, geometry_from_model
from wattlm.estimate.serving import Deployment, StepFeatures, step_features

__all__ = ["INPUT_TOKENS", "Case", "calibration_cases", "group_key"]

#: Assumed prompt tokens per task (not published): ShareGPT chat and HumanEval+ code (v2), LMArena
#: chat, GPQA questions and Sourcegraph fill-in-the-middle code context (v3).
INPUT_TOKENS: dict[str, float] = {"chat": 250.0, "code": 150.0, "lm-arena-chat": 500.0,
                                  "gpqa": 300.0, "sourcegraph-fim": 3000.0}

_GPU_NAMES: dict[str, str] = {
    "NVIDIA A100-SXM4-40GB": "A100-40GB", "NVIDIA H100 80GB HBM3": "H100-SXM",
    "H100": "H100-SXM", "B200": "B200",
}
_PRECISIONS = {"bfloat16": "bf16", "fp8": "fp8"}


@dataclass(frozen=True)
class Case:
    """One measured configuration, with its ideal-time features.

    Attributes:
        source: ``ML.ENERGY v3`` or ``ML.ENERGY v2``.
        row_id: the row's file or id.
        task: benchmark task.
        model: catalogue model name.
        family: catalogue model family (unit of leave-one-family-out).
        kind: ``dense``, ``moe`` or ``hybrid``.
        hardware: catalogue part.
        precision: weight precision.
        engine: serving engine.
        deployment: TP / EP / DP.
        batch: measured average batch (all replicas).
        input_tokens: assumed prompt tokens.
        output_tokens: measured mean output tokens.
        geometry: model geometry.
        features: ideal step times.
        step_s: measured step time (v3: median inter-token latency; v2: mean TPOT), s.
        mean_step_s: measured mean step with prefill (batch / throughput), s.
        power_fraction: mean power per GPU / TDP (v3 measured; v2 energy x throughput).
        energy_per_token_j: measured accelerator energy per output token, J.
        tdp_w: the part's TDP.
    """

    source: str
    row_id: str
    task: str
    model: str
    family: str
    kind: str
    hardware: str
    precision: str
    engine: str
    deployment: Deployment
    batch: float
    input_tokens: float
    output_tokens: float
    geometry: Geometry
    features: StepFeatures
    step_s: float | None
    mean_step_s: float | None
    power_fraction: float | None
    energy_per_token_j: float
    tdp_w: float

    @property
    def group(self) -> str:
        """Calibration group: ``part/precision`` (``@engine`` for engines other than current)."""
        return group_key(self.hardware, self.precision, self.engine)

    @property
    def devices(self) -> int:
        """Accelerators of the configuration."""
        return self.deployment.devices


def group_key(hardware: str, precision: str, engine: str) -> str:
    """Calibration group of a part, precision and engine (``A100-40GB/bf16@vllm-0.5``)."""
    key = f"{hardware}/{precision}"
    return key if engine == "vllm-current" else f"{key}@{engine}"


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("wattlm.estimate").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _case(source: str, row_id: str, task: str, model_id: str, gpu: str, precision: str,
          engine: str, dep: Deployment, batch: float, out_tokens: float, step_s: float | None,
          mean_step_s: float | None, power_total_w: float | None, energy: float) -> Case:
    from wattlm.catalog.hardware import get_hardware
    from wattlm.catalog.models import get_model

    hardware = _GPU_NAMES.get(gpu)
    if hardware is None:
        raise DataError(f"{source}: unknown GPU {gpu!r}")
    m = get_model(model_id)
    hw = get_hardware(hardware)
    geo = geometry_from_model(m)
    tdp = hw.require_tdp_w()
    feats = step_features(geo, dep, hw, precision, batch, INPUT_TOKENS[task], out_tokens)
    power = None if power_total_w is None else power_total_w / dep.devices / tdp
    kind = "hybrid" if geo.architecture == "hybrid" else ("moe" if geo.is_moe else "dense")
    return Case(source, row_id, task, m.name, m.family, kind, hardware, precision, engine, dep,
                batch, INPUT_TOKENS[task], out_tokens, geo, feats, step_s, mean_step_s, power,
                energy, tdp)


def _v3_cases() -> list[Case]:
    out = []
    for i, r in enumerate(_read("mlenergy_v3_llm_configs_part.csv")):
        gpus, dp = int(r["num_gpus"]), int(r["data_parallel"])
        dep = Deployment(gpus // dp, int(r["expert_parallel"]), dp)
        batch = float(r["avg_batch_size"])
        thr = float(r["output_throughput_tokens_per_sec"])
        out.append(_case(
            "ML.ENERGY v3", f"v3-{i + 2}", r["task"], r["model_id"], r["gpu_model"],
            _PRECISIONS[r["weight_precision"]], "vllm-current", dep, batch,
            float(r["avg_output_len"]), float(r["median_itl_ms"]) / 1000.0, batch / thr,
            float(r["avg_power_watts"]), float(r["energy_per_token_joules"])))
    return out


def _v2_cases() -> list[Case]:
    out = []
    for r in _read("mlenergy_v2_llm_configs.csv"):
        if int(r["PP"]) != 1:
            continue
        tp = int(r["TP"])
        out_tokens = float(r["Avg Output Tokens"])
        batch = float(r["Avg BS (reqs)"])
        thr = float(r["Token tput (tok/s)"])
        energy = float(r["Energy/req (J)"]) / out_tokens
        out.append(_case(
            "ML.ENERGY v2", r["file"], r["task"], r["Model"], r["GPU"], "bf16", "vllm-0.5",
            Deployment(tp, 1, 1), batch, out_tokens, float(r["Avg TPOT (s)"]), batch / thr,
            energy * thr, energy))
    return out


@cached
def calibration_cases() -> tuple[Case, ...]:
    """Every packaged measured row as a :class:`Case` (v3 first, then v2)."""
    return tuple(_v3_cases() + _v2_cases())
