"""``wattlm estimate infer``: energy and footprint of one inference request (roofline)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]

_PRECISIONS = ("fp32", "bf16", "fp16", "fp8", "int8", "fp4", "int4")


def register(subparsers: Any) -> None:
    """Add the ``infer`` parser to the ``estimate`` command's sub-parsers."""
    from wattlm.cli._output import add_format_option

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "infer",
        help="estimate the energy of an inference request (roofline)",
        description="Estimate energy per request and per output token, time per request and "
                    "devices for serving a model: prefill compute-bound, decode memory-bound, "
                    "batch shared. Every figure is central [low-high].",
    )
    parser.add_argument("--model", help="catalogue model name (see `wattlm models`)")
    parser.add_argument("--params", type=float, help="total parameters (instead of --model)")
    parser.add_argument("--active-params", type=float, help="active parameters per token (MoE)")
    parser.add_argument("--hardware", default="H100-SXM",
                        help="accelerator (see `wattlm hardware`; default H100-SXM)")
    parser.add_argument("--devices", type=int,
                        help="devices = tensor x data parallel (default: smallest power of two "
                             "that fits)")
    parser.add_argument("--tensor-parallel", type=int, help="devices per replica (TP)")
    parser.add_argument("--expert-parallel", type=int,
                        help="devices the routed experts are spread over (EP, divides devices)")
    parser.add_argument("--data-parallel", type=int, help="replicas (DP, default 1)")
    parser.add_argument("--engine", help="serving stack: vllm-current (default) or vllm-0.5")
    parser.add_argument("--config", help="local Hugging Face config.json for the model's shape "
                                          "(never downloaded)")
    parser.add_argument("--arrival-rate", type=float,
                        help="requests per second (instead of --batch-size: Little's law, idle "
                             "power between arrivals)")
    parser.add_argument("--precision", default="bf16",
                        help=f"weight precision: {', '.join(_PRECISIONS)} (default bf16)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="concurrent requests (default 1; not with --arrival-rate)")
    parser.add_argument("--input-tokens", type=float, default=1000,
                        help="prompt tokens per request (default 1000)")
    parser.add_argument("--output-tokens", type=float, default=250,
                        help="generated tokens per request (default 250)")
    parser.add_argument("--pue", type=float, help="facility PUE (default: region's, else 1.0)")
    parser.add_argument("--region", help="grid region for emissions (see `wattlm regions`)")
    parser.add_argument("--intensity", type=float, help="grid intensity, gCO2e/kWh")
    add_format_option(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from wattlm.cli._output import emit
    from wattlm.errors import InvalidInputError
    from wattlm.estimate.inference import estimate_inference

    if args.model is None and args.params is None and args.config is None:
        raise InvalidInputError("give --model NAME, --config PATH or --params N")
    if args.arrival_rate is not None and args.batch_size is not None:
        raise InvalidInputError("--arrival-rate sets the concurrency (Little's law), so "
                                "--batch-size would be ignored: give one of them")
    result = estimate_inference(
        model=args.model, params=args.params, active_params=args.active_params,
        hardware=args.hardware, devices=args.devices, precision=args.precision,
        batch_size=1 if args.batch_size is None else args.batch_size,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens, pue=args.pue, region=args.region,
        intensity=args.intensity, engine=args.engine, tensor_parallel=args.tensor_parallel,
        expert_parallel=args.expert_parallel, data_parallel=args.data_parallel,
        arrival_rate=args.arrival_rate, config=args.config)
    emit(result.to_dict(), args.format, _human)
    return 0


def _fmt(value: dict[str, Any], dimension: str, scale: float = 1.0) -> str:
    """A JSON range dict through the one formatter (``scale`` converts to the internal unit)."""
    from wattlm._format import format_range
    from wattlm.units import Range

    return format_range(Range(value["low"] * scale, value["central"] * scale,
                              value["high"] * scale), dimension)


def _human(data: dict[str, Any]) -> str:
    a = data["assumptions"]
    lines = [
        f"Inference estimate: {a['model']} on {a['devices']} x {a['hardware']} "
        f"(TP {a['tensor_parallel']}, EP {a['expert_parallel']}, DP {a['data_parallel']}; "
        f"{a['precision']}, {a['engine']}, batch {a['batch_size']:g}, {a['input_tokens']:g} in "
        f"/ {a['output_tokens']:g} out tokens)",
        f"  energy per request        {_fmt(data['energy_per_request_j'], 'energy_j')}",
        f"    accelerators            "
        f"{_fmt(data['accelerators_energy_per_request_j'], 'energy_j')}",
        f"    host                    {_fmt(data['host_energy_per_request_j'], 'energy_j')}",
        f"    facility (PUE {a['pue']:g})".ljust(28)
        + _fmt(data['facility_energy_per_request_j'], 'energy_j'),
        f"  energy per output token   {_fmt(data['energy_per_output_token_j'], 'energy_j')}",
        f"    accelerators only       "
        f"{_fmt(data['accelerators_energy_per_output_token_j'], 'energy_j')}",
        f"  time per request          {_fmt(data['time_per_request_s'], 'duration')}",
        f"  time per output token     {_fmt(data['time_per_output_token_s'], 'duration')}"
        " (one decode step)",
        f"  devices                   {a['devices']} ({a['devices_source']})",
    ]
    fp = data.get("footprint")
    if fp:
        lines.append(f"  emissions per request     {_fmt(fp['emissions_kg'], 'mass', 1000.0)}")
        lines.append(f"  embodied per request      {_fmt(fp['embodied_kg'], 'mass', 1000.0)}")
    if "note" in a:
        lines.append(f"  note: {a['note']}")
    lines.append("  method: roofline + constants fitted on ML.ENERGY v2/v3 (time and power); "
                 "docs/methodology/estimation-inference.md")
    return "\n".join(lines)

