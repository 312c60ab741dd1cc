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
                        help="tensor-parallel devices (default: smallest power of two that fits)")
    parser.add_argument("--precision", default="bf16",
                        help=f"weight precision: {', '.join(_PRECISIONS)} (default bf16)")
    parser.add_argument("--batch-size", type=int, default=1, help="concurrent requests (default 1)")
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

    if args.model is None and args.params is None:
        raise InvalidInputError("give --model NAME or --params N (total parameters)")
    result = estimate_inference(
        model=args.model, params=args.params, active_params=args.active_params,
        hardware=args.hardware, devices=args.devices, precision=args.precision,
        batch_size=args.batch_size, input_tokens=args.input_tokens,
        output_tokens=args.output_tokens, pue=args.pue, region=args.region,
        intensity=args.intensity)
    emit(result.to_dict(), args.format, _human)
    return 0


def _fmt(value: dict[str, Any], unit: str) -> str:
    from wattlm.cli._output import format_number

    return (f"{format_number(value['central'])} {unit} "
            f"[{format_number(value['low'])}–{format_number(value['high'])}]")


def _human(data: dict[str, Any]) -> str:
    a = data["assumptions"]
    lines = [
        f"Inference estimate: {a['model']} on {a['devices']} x {a['hardware']} "
        f"({a['precision']}, batch {a['batch_size']}, {a['input_tokens']:g} in / "
        f"{a['output_tokens']:g} out tokens)",
        f"  energy per request        {_fmt(data['energy_per_request_j'], 'J')}",
        f"    accelerators            {_fmt(data['accelerators_energy_per_request_j'], 'J')}",
        f"    host                    {_fmt(data['host_energy_per_request_j'], 'J')}",
        f"    facility (PUE {a['pue']:g})      "
        f"{_fmt(data['facility_energy_per_request_j'], 'J')}",
        f"  energy per output token   {_fmt(data['energy_per_output_token_j'], 'J')}",
        f"    accelerators only       "
        f"{_fmt(data['accelerators_energy_per_output_token_j'], 'J')}",
        f"  time per request          {_fmt(data['time_per_request_s'], 's')}",
        f"  time per output token     {_fmt(_scale(data['time_per_output_token_s'], 1000), 'ms')}"
        " (one decode step)",
        f"  devices                   {a['devices']} ({a['devices_source']})",
    ]
    fp = data.get("footprint")
    if fp:
        lines.append(f"  emissions per request     {_fmt(_scale(fp['emissions_kg'], 1000), 'g')}")
        lines.append(f"  embodied per request      {_fmt(_scale(fp['embodied_kg'], 1000), 'g')}")
    if "note" in a:
        lines.append(f"  note: {a['note']}")
    lines.append("  method: roofline per step + serving overhead; "
                 "docs/methodology/estimation-inference.md")
    return "\n".join(lines)


def _scale(value: dict[str, Any], factor: float) -> dict[str, Any]:
    return {k: value[k] * factor for k in ("low", "central", "high")}
