"""``wattlm estimate train|infer``: analytic footprint estimates with a low/central/high range."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``estimate`` with its ``train`` and ``infer`` sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "estimate", help="estimate the footprint of training or inference",
        description="Analytic estimates: every figure is central [low-high], with assumptions.")
    subsub = parser.add_subparsers(title="estimates", metavar="WHAT")
    _register_train(subsub)
    try:
        infer = importlib.import_module("wattlm.cli.estimate_infer")
    except ImportError:
        stub = subsub.add_parser("infer", help="inference estimate (not available)")
        stub.set_defaults(handler=_infer_missing)
    else:
        infer.register(subsub)
    parser.set_defaults(handler=lambda args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _infer_missing(args: argparse.Namespace) -> int:
    from wattlm.errors import WattlmError

    raise WattlmError("`wattlm estimate infer` is not available in this build "
                      "(module wattlm.cli.estimate_infer is missing)")


def _register_train(subsub: Any) -> None:
    from wattlm.cli._output import add_format_option

    p: argparse.ArgumentParser = subsub.add_parser(
        "train", help="estimate the energy and emissions of a training run",
        description="FLOPs = 6 x active params x tokens; device-hours from peak FLOP/s and MFU, "
                    "or as given; energy = device-hours x power x (1 + host) x PUE.")
    p.add_argument("--model", help="catalogue model (see `wattlm models`), e.g. gpt-3")
    p.add_argument("--params", type=float, help="total parameters, e.g. 7e9")
    p.add_argument("--active-params", type=float, help="parameters per token (MoE)")
    p.add_argument("--tokens", type=float, help="training tokens, e.g. 2e12")
    p.add_argument("--hardware", help="accelerator (see `wattlm hardware`), e.g. A100-80GB; "
                                      "default the model's training hardware (assumed)")
    p.add_argument("--teacher-params", type=float,
                   help="distillation teacher parameters (adds its 2 N D forward pass)")
    p.add_argument("--scope", default="published", choices=("published", "productive",
                                                              "wall-clock"),
                   help="what the device-hours count (default: as publishers report them)")
    p.add_argument("--devices", type=int, help="number of accelerators")
    p.add_argument("--days", type=float, help="wall-clock days (with --devices)")
    p.add_argument("--hours", type=float, help="wall-clock hours (with --devices)")
    p.add_argument("--device-hours", type=float, help="accelerator-hours as published")
    p.add_argument("--mfu", type=float, help="model FLOPs utilisation in (0, 1]")
    p.add_argument("--power-w", type=float,
                   help="all-in average power per device in W (device + host share)")
    p.add_argument("--pue", type=float, help="facility PUE (default: region's, else 1.0)")
    p.add_argument("--region", help="grid region (see `wattlm regions`)")
    p.add_argument("--intensity", type=float, help="grid intensity, gCO2e/kWh")
    p.add_argument("--seq-len", type=int, help="sequence length (adds attention FLOPs)")
    p.add_argument("--precision", default="bf16", help="training precision (default bf16)")
    add_format_option(p)
    p.add_argument("--report", choices=("md", "html", "json", "model-card", "disclosure"),
                   default=None, help="write a report of the estimate (see `wattlm report`)")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="file for --report (default: standard output)")
    p.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from wattlm._validate import path_for_writing
    from wattlm.cli._output import emit
    from wattlm.errors import InvalidInputError
    from wattlm.estimate.training import estimate_training

    if args.output is not None and not args.report:
        raise InvalidInputError("-o/--output is the file for --report: add --report md|html|"
                                "json|model-card|disclosure, or drop -o (--format json prints "
                                "the estimate on standard output)")
    if args.output not in (None, "-"):  # before the work, so a bad -o fails at once
        path_for_writing(args.output, "-o/--output")
    est = estimate_training(
        model=args.model, params=args.params, active_params=args.active_params,
        tokens=args.tokens, hardware=args.hardware, devices=args.devices, days=args.days,
        hours=args.hours, device_hours=args.device_hours, mfu=args.mfu, power_w=args.power_w,
        pue=args.pue, region=args.region, intensity=args.intensity, seq_len=args.seq_len,
        precision=args.precision, teacher_params=args.teacher_params, scope=args.scope)
    if getattr(args, "report", None):
        from wattlm.cli.report import write_text
        from wattlm.report import render

        write_text(render(est, args.report), args.output)
        return 0
    emit(est.to_dict(), args.format, _human)
    return 0


def _fmt(r: dict[str, Any], dimension: str, scale: float = 1.0) -> str:
    """A JSON range dict through the one formatter (``scale`` converts to the internal unit)."""
    from wattlm._format import format_count, format_range
    from wattlm.units import Range

    if dimension in ("count", "zflop"):  # counts: FLOPs in ZFLOP (1e21), hours as words
        unit = " ZFLOP" if dimension == "zflop" else ""
        text = format_count(r["central"] * scale) + unit
        if r["low"] != r["high"]:
            text += (f" ({format_count(r['low'] * scale)}–{format_count(r['high'] * scale)}"
                     f"{unit})")
        return text
    return format_range(Range(r["low"] * scale, r["central"] * scale, r["high"] * scale),
                        dimension)


def _human(data: dict[str, Any]) -> str:
    head = " on ".join(str(x) for x in (data.get("model"), data.get("hardware")) if x)
    lines = [f"Training estimate{': ' + head if head else ''}"
             + (f" ({data['devices']} devices)" if data.get("devices") else ""), ""]
    from wattlm.units import kg_to_g, kwh_to_j

    labels = [("flops", "FLOPs"), ("device_hours", "device-hours"),
              ("accelerators_energy_kwh", "accelerators energy"),
              ("it_energy_kwh", "IT energy, before PUE"),
              ("energy_kwh", "facility energy (x PUE)"), ("emissions_kg", "emissions (CO2e)"),
              ("embodied_kg", "embodied (CO2e)"), ("water_l", "water")]
    dims = {"flops": ("zflop", 1e-21), "device_hours": ("count", 1.0),
            "accelerators_energy_kwh": ("energy", kwh_to_j(1.0)),
            "it_energy_kwh": ("energy", kwh_to_j(1.0)), "energy_kwh": ("energy", kwh_to_j(1.0)),
            "emissions_kg": ("mass", kg_to_g(1.0)), "embodied_kg": ("mass", kg_to_g(1.0)),
            "water_l": ("volume", 1.0)}
    width = max(len(label) for _, label in labels)
    embodied_note = data.get("footprint_assumptions", {}).get("embodied", {})
    for key, label in labels:
        if data.get(key) is None:
            continue
        if key == "embodied_kg" and str(embodied_note.get("source", "")).startswith(
                "not counted"):
            lines.append(f"  {label.ljust(width)}  {embodied_note['source']}")
        else:
            lines.append(f"  {label.ljust(width)}  {_fmt(data[key], *dims[key])}")
    lines += _equivalents(data)
    lines += ["", "Assumptions:"]
    for name, note in {**data["assumptions"], **data.get("footprint_assumptions", {})}.items():
        if not isinstance(note, dict):
            continue
        value = note.get("value")
        prov = note.get("provenance") or ""
        source = str(note.get("source", ""))
        if len(source) > 90:
            source = source[:89] + "…"
        lines.append(f"  {name}: {value} ({prov}{', ' if prov else ''}{source})")
    return "\n".join(lines)


def _equivalents(data: dict[str, Any]) -> list[str]:
    """Everyday equivalents of the central emissions (operational + embodied) and energy."""
    from wattlm.carbon.equivalents import equivalents

    emissions = data.get("emissions_kg") or {}
    embodied = data.get("embodied_kg") or {}
    energy = data.get("energy_kwh") or {}
    if "central" not in emissions or "central" not in energy:
        return []
    total_kg = emissions["central"] + embodied.get("central", 0.0)
    found = equivalents(max(total_kg, 0.0), max(energy["central"], 0.0))
    if not found:
        return []
    from wattlm._format import format_energy, format_mass, format_number
    from wattlm.units import kg_to_g, kwh_to_j

    lines = ["", f"Equivalents (central: {format_mass(kg_to_g(total_kg))} CO2e operational + "
                 f"embodied, {format_energy(kwh_to_j(energy['central']))}):"]
    lines += [f"  {format_number(e.value)} " + (
        e.label if e.unit in e.label.split() else f"{e.unit} of {e.label}") for e in found]
    lines.append("  sources: US EPA Greenhouse Gas Equivalencies Calculator; US EIA "
                 "(`wattlm report` cites each)")
    return lines
