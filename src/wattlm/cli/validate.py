"""``wattlm validate``: the estimators against every published footprint we ship."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``validate`` command."""
    from wattlm.cli._output import add_format_option

    p: argparse.ArgumentParser = subparsers.add_parser(
        "validate", help="check the estimators against published footprints",
        description="Published vs estimated for every packaged training footprint (given the "
                    "published hours and power; given only params, tokens and hardware) and "
                    "every ML.ENERGY inference measurement, with the targets and PASS/FAIL.")
    p.add_argument("--only", choices=["training", "inference"], help="run one part only")
    add_format_option(p)
    p.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    from wattlm.cli._output import emit

    result: dict[str, Any] = {}
    if args.only in (None, "training"):
        from wattlm.estimate.validation import validate_training

        result["training"] = validate_training()
    if args.only in (None, "inference"):
        try:
            from wattlm.estimate.inference_validation import validate_inference
        except ImportError:
            result["inference"] = {"error": "inference validation is not available"}
        else:
            result["inference"] = validate_inference()
    emit(result, args.format, _human)
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _training_human(t: dict[str, Any]) -> list[str]:
    from wattlm.cli._output import format_number, table

    lines = ["Training, given published device-hours, power, PUE and intensity:"]
    rows = [[g["row_id"], g["hardware"], format_number(g["published_energy_kwh"]),
             format_number(g["estimated_energy_kwh"]), _pct(g.get("energy_kwh_error_pct")),
             format_number(g["published_emissions_kg"]),
             format_number(g["estimated_emissions_kg"]), _pct(g.get("emissions_kg_error_pct")),
             "ok" if g["ok"] else "FAIL"] for g in t["given_hours"]]
    lines.append(table(["row", "hardware", "kWh pub", "kWh est", "err", "kg pub", "kg est",
                        "err", ""], rows))
    lines += ["", "Training, given only parameters, tokens and hardware:"]
    rows = [[f["row_id"], f["hardware"], f["quantity"], format_number(f["published"]),
             format_number(f["central"]),
             f"[{format_number(f['low'])} – {format_number(f['high'])}]",
             _pct(f["error_pct"]), "yes" if f["inside"] else "NO", f"{f['spread']:.2f}"]
            for f in t["from_params"]]
    lines.append(table(["row", "hardware", "quantity", "published", "estimated", "range",
                        "err", "inside", "high/low"], rows))
    lines.append("")
    for c in t["summary"]["checks"]:
        lines.append(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['target']}: "
                     f"measured {c['value']:.3g}")
    return lines


def _human(result: dict[str, Any]) -> str:
    lines: list[str] = []
    if "training" in result:
        lines += _training_human(result["training"])
    if "inference" in result:
        inf = result["inference"]
        lines += ["", "Inference (ML.ENERGY v2, accelerator energy per output token):"]
        summary = inf.get("summary") if isinstance(inf, dict) else None
        if not summary:
            lines.append(f"  {inf.get('error', 'no result')}")
        else:
            for key, value in summary.items():
                lines.append(f"  {key}: {value}")
    return "\n".join(lines)
