"""``wattlm hardware [QUERY]`` and ``wattlm models [QUERY]``: the catalogues, searchable."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``hardware`` and ``models`` commands."""
    from wattlm.cli._output import add_format_option

    hw: argparse.ArgumentParser = subparsers.add_parser(
        "hardware", help="the hardware catalogue (TDP, peak FLOP/s, memory, embodied)",
        description="List accelerators and CPUs whose name or alias contains QUERY.")
    hw.add_argument("query", nargs="?", help="part of a name, e.g. h100, tpu, a100")
    add_format_option(hw)
    hw.set_defaults(handler=_hardware)
    models: argparse.ArgumentParser = subparsers.add_parser(
        "models", help="the model catalogue (parameters, tokens, architecture)",
        description="List models whose name, alias or Hugging Face id contains QUERY.")
    models.add_argument("query", nargs="?", help="part of a name, e.g. llama, mixtral")
    add_format_option(models)
    models.set_defaults(handler=_models)


def _hardware(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from wattlm._format import format_number
    from wattlm._validate import shown
    from wattlm.catalog.hardware import get_hardware, list_hardware
    from wattlm.cli._output import emit, table
    from wattlm.errors import UnknownNameError

    items = list_hardware(args.query)
    if not items:
        get_hardware(args.query)  # raises UnknownNameError with "did you mean"
        raise UnknownNameError(f"no hardware matches {shown(args.query)}; run `wattlm hardware` "
                               "to list all")

    def human(_: Any) -> str:
        rows = [[h.name, h.vendor, h.kind, format_number(h.tdp_w),
                 format_number(h.peak_tflops.get("bf16") or h.peak_tflops.get("fp16")),
                 format_number(h.peak_tflops.get("fp8") or h.peak_tflops.get("int8")),
                 format_number(h.memory_gb), format_number(h.memory_bw_gbps),
                 format_number(h.embodied_kg)] for h in items]
        return table(["name", "vendor", "kind", "TDP W", "bf16 TFLOP/s", "8-bit TFLOP/s",
                      "mem GB", "mem GB/s", "embodied kg"], rows)

    emit([asdict(h) for h in items], args.format, human)
    return 0


def _models(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from wattlm._validate import shown
    from wattlm.catalog.models import get_model, list_models
    from wattlm.cli._output import emit, table
    from wattlm.errors import UnknownNameError

    items = list_models(args.query)
    if not items:
        get_model(args.query)  # raises UnknownNameError with "did you mean"
        raise UnknownNameError(f"no model matches {shown(args.query)}; run `wattlm models` to "
                               "list all")

    from wattlm._format import format_count

    def human(_: Any) -> str:
        rows = [[m.name, m.family, format_count(m.params), format_count(m.active_params),
                 format_count(m.training_tokens) if m.training_tokens else "-",
                 m.layers, m.hidden_size, m.attention_heads, m.kv_heads, m.context_length,
                 f"{m.experts}x top-{m.experts_per_token}" if m.experts else "-"]
                for m in items]
        return table(["name", "family", "params", "active", "tokens", "layers", "hidden",
                      "heads", "kv", "context", "experts"], rows)

    emit([asdict(m) for m in items], args.format, human)
    return 0
