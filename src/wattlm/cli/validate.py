"""``wattlm validate``: the estimators against every published footprint we ship."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``validate`` command."""
    from wattlm.cli._output import add_format_option

    p: argparse.ArgumentParser = subparsers.add_parser(
        "validate", help="check the estimators against published footprints (cross-validated)",
        description="Training: published vs estimated given the published hours and power, and "
                    "given only params, tokens and hardware (leave-one-model-family-out). "
                    "Inference: ML.ENERGY v2 and v3 measurements, every figure predicted with "
                    "constants fitted without the row's model family, per group, with "
                    "EcoLogits' formula on the same rows. Exit status 0 when every target is "
                    "met, 1 when one is not.")
    p.add_argument("--only", choices=["training", "inference"], help="run one part only")
    p.add_argument("--all", action="store_true", help="print every row, not only the summary")
    add_format_option(p)
    p.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    from wattlm.cli._output import emit

    result: dict[str, Any] = {}
    if args.only in (None, "training"):
        from wattlm.estimate.validation import validate_training

        result["training"] = validate_training()
    if args.only in (None, "inference"):
        from wattlm.estimate.inference_validation import validate_inference

        result["inference"] = validate_inference()
    show_all = bool(args.all)
    emit(result, args.format, lambda r: _human(r, show_all))
    return 0 if all(_passed(part) for part in result.values()) else 1


def _passed(part: dict[str, Any]) -> bool:
    summary = part.get("summary")
    return not isinstance(summary, dict) or summary.get("pass") is not False


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0f}%"


def _check_value(check: dict[str, Any]) -> str:
    unit = check.get("unit")
    if unit == "fraction":
        return f"{100 * check['value']:.0f} %"
    if unit == "%":
        return f"{check['value']:.1f} %"
    return f"{check['value']:.2f}x"


def _training_human(t: dict[str, Any], show_all: bool) -> list[str]:
    from wattlm._format import format_number
    from wattlm.cli._output import table

    lines = []
    if show_all:
        lines.append("Training, given published device-hours, power, PUE and intensity:")
        rows = [[g["row_id"], g["hardware"], format_number(g["published_energy_kwh"]),
                 format_number(g["estimated_energy_kwh"]), _pct(g.get("energy_kwh_error_pct")),
                 "ok" if g["ok"] else "FAIL"] for g in t["given_hours"]]
        lines += [table(["row", "hardware", "kWh pub", "kWh est", "err", "<=2 %"], rows), ""]
    lines.append("Training from parameters, tokens and hardware (leave one model family out):")
    rows = [[f["row_id"], f["family"], f["hardware"], f["quantity"].split("_")[0],
             _pct(f["error_pct"]), "yes" if f["inside"] else "NO", f"{f['spread']:.1f}"]
            for f in t["from_params"]]
    lines.append(table(["row", "family", "hardware", "quantity", "err", "inside", "high/low"],
                       rows))
    for c in t["summary"]["checks"]:
        lines.append(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['target']}: "
                     f"{_check_value(c)}")
    return lines


def _stat(s: dict[str, Any]) -> str:
    if not s.get("rows"):
        return "-"
    return f"{100 * s['median_abs_error']:3.0f}% {100 * s['within_1_5x']:3.0f}%"


def _inference_human(inf: dict[str, Any], show_all: bool) -> list[str]:
    from wattlm._format import format_number
    from wattlm.cli._output import table

    summary = inf["summary"]
    lines = ["Inference, cross-validated (leave one model family out) on ML.ENERGY v2 + v3: "
             "median |error|, share within 1.5x"]
    groups = [("all", "", summary["all"])]
    for name in ("hardware", "precision", "architecture", "gpus", "engine"):
        groups += [(name, key, block) for key, block in summary["by"][name].items()]
    rows = [[name, key, block["wattlm_energy"]["rows"], _stat(block["wattlm_energy"]),
             _stat(block["ecologits_energy"]), _stat(block["wattlm_tpot"])]
            for name, key, block in groups]
    lines.append(table(["group", "", "rows", "energy wattlm", "energy EcoLogits",
                        "time/token wattlm"], rows))
    if show_all:
        rows = [[r["model"], r["task"], r["hardware"], r["precision"], r["devices"],
                 f"{r['batch']:.0f}", format_number(r["measured_j_per_token"]),
                 format_number(r["estimated_j_per_token"]),
                 format_number(r["ecologits_j_per_token"]),
                 format_number(1000 * r["measured_tpot_s"]),
                 format_number(1000 * r["estimated_tpot_s"])] for r in inf["rows"]]
        lines += ["", table(["model", "task", "hardware", "prec", "dev", "batch", "J meas",
                             "J est", "J EcoLogits", "ms meas", "ms est"], rows)]
    for c in summary["checks"]:
        lines.append(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['target']}: "
                     f"{_check_value(c)}")
    lines.append(f"  inside the stated [low, high] (range also fitted without the family): "
                 f"energy {100 * summary['all']['wattlm_energy']['inside_range']:.0f} %, "
                 f"time {100 * summary['all']['wattlm_tpot']['inside_range']:.0f} %")
    lines.append(f"  EcoLogits: {summary['ecologits_note']}")
    return lines


def _human(result: dict[str, Any], show_all: bool = False) -> str:
    lines: list[str] = []
    if "training" in result:
        lines += _training_human(result["training"], show_all)
    if "inference" in result:
        if lines:
            lines.append("")
        lines += _inference_human(result["inference"], show_all)
    if not show_all:
        lines.append("(every row: wattlm validate --all)")
    return "\n".join(lines)
