"""Put a level's measurement beside wattlm's inference estimate for the same model and batch.

Uses only the public :func:`wattlm.estimate_inference`, with the level's mean input and output
tokens and its mean number of requests in flight as the batch (Little's law over the window),
PUE 1 (a measurement has no facility overhead). The estimate's accelerator figure is compared
with the measured GPUs, its accelerators-plus-host figure with everything measured.
"""

from __future__ import annotations

from typing import Any

from wattlm.errors import WattlmError

__all__ = ["compare_with_estimate"]


def _hardware(given: str | None, gpu_models: list[str]) -> str | None:
    if given:
        return given
    return gpu_models[0] if gpu_models else None


def compare_with_estimate(
    *, model: str, hardware: str | None, gpu_models: list[str], batch: float,
    input_tokens: float | None, output_tokens: float | None,
    measured_j_per_token: float | None, measured_gpu_j_per_token: float | None,
) -> dict[str, Any]:
    """``{"available": bool, ...}``: the estimate's Ranges and measured/estimate ratios, or why not.

    Never raises: an unknown model or hardware, or a model that does not fit, gives
    ``available: False`` with the reason.
    """
    hw = _hardware(hardware, gpu_models)
    if hw is None:
        return {"available": False, "reason": "no accelerator: pass --hardware NAME (the "
                "estimator models GPUs and other accelerators)"}
    if not output_tokens or not input_tokens or measured_j_per_token is None:
        return {"available": False, "reason": "no completed request with token counts in the "
                "window"}
    from wattlm.estimate.inference import estimate_inference  # = wattlm.estimate_inference

    devices = len(gpu_models) if gpu_models and not hardware else None
    try:
        est = estimate_inference(
            model=model, hardware=hw, devices=devices, batch_size=max(1, round(batch)),
            input_tokens=input_tokens, output_tokens=output_tokens, pue=1.0)
    except WattlmError as e:
        return {"available": False, "reason": f"no estimate for {model!r} on {hw!r}: {e}"}
    total = est.energy_per_output_token_j
    accel = est.accelerators_energy_per_output_token_j
    out: dict[str, Any] = {
        "available": True,
        "model": model,
        "hardware": hw,
        "batch_size": max(1, round(batch)),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "energy_per_output_token_j": total.to_dict(),
        "accelerators_energy_per_output_token_j": accel.to_dict(),
        "time_per_output_token_s": est.time_per_output_token_s.to_dict(),
        "measured_over_estimate": measured_j_per_token / total.central,
        "measured_in_range": total.contains(measured_j_per_token),
    }
    if measured_gpu_j_per_token is not None:
        out["measured_gpu_over_estimate"] = measured_gpu_j_per_token / accel.central
        out["measured_gpu_in_range"] = accel.contains(measured_gpu_j_per_token)
    return out
