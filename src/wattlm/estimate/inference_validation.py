"""Validation of :func:`estimate_inference` against ML.ENERGY v2, beside EcoLogits' formula.

Every configuration of the ML.ENERGY leaderboard v2 LLM sweep (vLLM 0.5.4, A100-SXM4-40GB and
H100 80GB HBM3, GPU energy only) is re-estimated with the row's model, GPU, device count
(TP x PP) and average batch size; the compared figure is accelerator energy per output token
(``Energy/req / Avg Output Tokens``), the boundary ML.ENERGY measures. Input lengths are not in
the data: ShareGPT chat prompts are taken as :data:`INPUT_TOKENS` ``["chat"]`` tokens and
HumanEval+ code prompts as ``["code"]`` (documented assumptions).

Time is checked the same way: the estimated time per output token (one decode step of the
batch, ``time_per_output_token_s``) against the row's measured ``Avg TPOT (s)``.

Targets (issue 4, and the same thresholds for time): median absolute error <= 30 %, >= 80 % of
rows within a factor of 1.5.
"""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from importlib import resources
from typing import Any

from wattlm._caches import cached
from wattlm.errors import DataError

__all__ = [
    "CALIBRATION_MODELS",
    "INPUT_TOKENS",
    "TARGET_MEDIAN_ABS_ERROR",
    "TARGET_WITHIN_FACTOR",
    "TARGET_WITHIN_SHARE",
    "ecologits_gpu_energy_per_token_j",
    "validate_inference",
]

TARGET_MEDIAN_ABS_ERROR = 0.30
TARGET_WITHIN_FACTOR = 1.5
TARGET_WITHIN_SHARE = 0.80

#: Assumed prompt lengths (tokens) of the two ML.ENERGY v2 tasks; not published per row.
INPUT_TOKENS: dict[str, float] = {"chat": 250.0, "code": 150.0}

#: ML.ENERGY GPU strings -> catalogue names.
_GPU_NAMES: dict[str, str] = {
    "NVIDIA A100-SXM4-40GB": "A100-40GB",
    "NVIDIA H100 80GB HBM3": "H100-SXM",
}

#: Models whose rows calibrated the central efficiency constants (every other model of the
#: alphabetically sorted list); the rest are held out. See docs/methodology/estimation-inference.md.
CALIBRATION_MODELS: frozenset[str] = frozenset({
    "bigcode/starcoder2-15b", "bigcode/starcoder2-7b", "codellama/CodeLlama-34b-hf",
    "codellama/CodeLlama-7b-hf", "google/codegemma-7b", "google/gemma-2-2b-it",
    "meta-llama/Meta-Llama-3.1-405B-Instruct", "meta-llama/Meta-Llama-3.1-8B-Instruct",
    "microsoft/Phi-3-mini-4k-instruct", "mistralai/Mistral-7B-Instruct-v0.3",
    "mistralai/Mistral-Nemo-Instruct-2407", "mistralai/Mixtral-8x7B-Instruct-v0.1",
})


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("wattlm.estimate").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@cached
def _mlenergy_rows() -> tuple[dict[str, str], ...]:
    return tuple(_read("mlenergy_v2_llm_configs.csv"))


@cached
def _ecologits_coefficients() -> tuple[float, float, float]:
    """Return (a, b, g) of EcoLogits' current GPU energy-per-token formula (packaged row)."""
    for row in _read("ecologits_reference.csv"):
        if row["row_id"] == "EcoLogits-v-current":
            first = row["other_value"].split(";")[0]
            found = dict(re.findall(r"\b([abg])=([-+0-9.eE]+)", first))
            try:
                return float(found["a"]), float(found["b"]), float(found["g"])
            except (KeyError, ValueError) as exc:
                raise DataError(f"cannot read EcoLogits coefficients from {first!r}") from exc
    raise DataError("ecologits_reference.csv has no EcoLogits-v-current row")


def ecologits_gpu_energy_per_token_j(active_params: float, batch: float, gpus: int) -> float:
    """EcoLogits (current, H100/vLLM fit): ``gpus * (a exp(b B) P_active[B] + g)`` Wh -> J."""
    a, b, g = _ecologits_coefficients()
    wh_per_gpu = a * math.exp(b * batch) * (active_params / 1e9) + g
    return gpus * wh_per_gpu * 3600.0


def _within_factor(ratio: float) -> bool:
    """Whether estimate / measured lies within a factor of :data:`TARGET_WITHIN_FACTOR`."""
    return 1 / TARGET_WITHIN_FACTOR <= ratio <= TARGET_WITHIN_FACTOR


def _summary(errors: list[float]) -> dict[str, Any]:
    """Median and within-factor figures of relative errors (estimate / measured - 1)."""
    if not errors:
        return {"rows": 0}
    median_abs = statistics.median(abs(e) for e in errors)
    share = sum(1 for e in errors if _within_factor(1.0 + e)) / len(errors)
    return {
        "rows": len(errors),
        "median_abs_error": median_abs,
        "median_error": statistics.median(errors),
        "share_within_1_5x": share,
        "pass_median": median_abs <= TARGET_MEDIAN_ABS_ERROR,
        "pass_within": share >= TARGET_WITHIN_SHARE,
    }


def validate_inference() -> dict[str, Any]:
    """Estimate every ML.ENERGY v2 configuration and compare; JSON-ready.

    Returns:
        ``{"rows": [...], "summary": {...}}``. Each row: task, model, gpu, hardware, tp, pp,
        devices, batch, measured_j_per_token, estimated_j_per_token (Range dict), error,
        within_1_5x, inside_range, measured_tpot_s, estimated_tpot_s (Range dict), tpot_error,
        tpot_within_1_5x, tpot_inside_range, calibration (whether the model informed the
        defaults), ecologits_j_per_token, ecologits_error. The summary holds the targets,
        wattlm's and EcoLogits' energy figures and wattlm's time figures (``tpot``) for all rows,
        for the held-out models and per GPU, and the flags ``pass_energy``, ``pass_tpot`` and
        ``pass`` (both).
    """
    from wattlm.catalog.models import get_model
    from wattlm.estimate.inference import estimate_inference

    rows: list[dict[str, Any]] = []
    for src in _mlenergy_rows():
        gpu = src["GPU"]
        hardware = _GPU_NAMES.get(gpu)
        if hardware is None:
            raise DataError(f"unknown GPU {gpu!r} in mlenergy_v2_llm_configs.csv")
        tp, pp = int(src["TP"]), int(src["PP"])
        batch = float(src["Avg BS (reqs)"])
        out_tokens = float(src["Avg Output Tokens"])
        measured = float(src["Energy/req (J)"]) / out_tokens
        est = estimate_inference(
            model=src["Model"], hardware=hardware, devices=tp * pp,
            batch_size=max(1, round(batch)), input_tokens=INPUT_TOKENS[src["task"]],
            output_tokens=out_tokens, pue=1.0, intensity=1.0)
        value = est.accelerators_energy_per_output_token_j
        tpot = est.time_per_output_token_s
        measured_tpot = float(src["Avg TPOT (s)"])
        eco = ecologits_gpu_energy_per_token_j(get_model(src["Model"]).active_params, batch,
                                               tp * pp)
        rows.append({
            "task": src["task"],
            "model": src["Model"],
            "gpu": gpu,
            "hardware": hardware,
            "tp": tp,
            "pp": pp,
            "devices": tp * pp,
            "batch": batch,
            "max_batch": int(src["Max BS (reqs)"]),
            "measured_j_per_token": measured,
            "estimated_j_per_token": value.to_dict(),
            "error": value.central / measured - 1.0,
            "within_1_5x": _within_factor(value.central / measured),
            "inside_range": value.contains(measured),
            "measured_tpot_s": measured_tpot,
            "estimated_tpot_s": tpot.to_dict(),
            "tpot_error": tpot.central / measured_tpot - 1.0,
            "tpot_within_1_5x": _within_factor(tpot.central / measured_tpot),
            "tpot_inside_range": tpot.contains(measured_tpot),
            "calibration": src["Model"] in CALIBRATION_MODELS,
            "ecologits_j_per_token": eco,
            "ecologits_error": eco / measured - 1.0,
            "source": "ML.ENERGY leaderboard v2 " + src["file"],
        })

    def block(selected: list[dict[str, Any]]) -> dict[str, Any]:
        ours = _summary([r["error"] for r in selected])
        if selected:
            ours["share_inside_range"] = sum(r["inside_range"] for r in selected) / len(selected)
        eco = _summary([r["ecologits_error"] for r in selected])
        time = _summary([r["tpot_error"] for r in selected])
        if selected:
            time["share_inside_range"] = (sum(r["tpot_inside_range"] for r in selected)
                                          / len(selected))
        return {"wattlm": ours, "ecologits": eco, "tpot": time}

    held_out = [r for r in rows if not r["calibration"]]
    summary: dict[str, Any] = {
        "quantity": "accelerator (GPU) energy per output token, J",
        "time_quantity": "time per output token (TPOT, one decode step of the batch), s",
        "targets": {"median_abs_error_max": TARGET_MEDIAN_ABS_ERROR,
                    "within_factor": TARGET_WITHIN_FACTOR,
                    "within_share_min": TARGET_WITHIN_SHARE},
        "all": block(rows),
        "held_out_models": block(held_out),
        "by_gpu": {hw: block([r for r in rows if r["hardware"] == hw])
                   for hw in sorted({r["hardware"] for r in rows})},
        "assumed_input_tokens": INPUT_TOKENS,
        "ecologits_note": "EcoLogits current formula (H100/vLLM fit) at the row's batch and GPU "
                          "count, GPU energy only",
    }
    overall = summary["all"]["wattlm"]
    overall_time = summary["all"]["tpot"]
    summary["pass_energy"] = bool(overall["pass_median"] and overall["pass_within"])
    summary["pass_tpot"] = bool(overall_time["pass_median"] and overall_time["pass_within"])
    summary["pass"] = summary["pass_energy"] and summary["pass_tpot"]
    return {"rows": rows, "summary": summary}
