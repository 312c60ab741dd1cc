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
                    "every ML.ENERGY inference measurement, with the targets and PASS/FAIL. "
                    "Exit status 0 when every target is met, 1 when one is not.")
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
    return 0 if all(_passed(part) for part in result.values()) else 1


def _passed(part: dict[str, Any]) -> bool:
    """Whether one part met its targets (a part that could not run counts as passed)."""
    summary = part.get("summary")
    return not isinstance(summary, dict) or summary.get("pass") is not False


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _check_value(check: dict[str, Any]) -> str:
    """A check's measured value with its unit (fractions as percentages)."""
    unit = check.get("unit")
    if unit == "fraction":
        return f"{100 * check['value']:.0f} %"
    if unit == "%":
        return f"{check['value']:.1f} %"
    if unit == "ratio":
        return f"{check['value']:.2f}x"
    return f"{check['value']:.3g}"


def _training_human(t: dict[str, Any]) -> list[str]:
    from wattlm.cli._output import format_number, table

    lines = ["Training, given published device-hours, power, PUE and intensity:"]
    rows = [[g["row_id"], g["hardware"], format_number(g["published_energy_kwh"]),
             format_number(g["estimated_energy_kwh"]), _pct(g.get("energy_kwh_error_pct")),
             format_number(g["published_emissions_kg"]),
             format_number(g["estimated_emissions_kg"]), _pct(g.get("emissions_kg_error_pct")),
             "ok" if g["ok"] else "FAIL"] for g in t["given_hours"]]
    lines.append(table(["row", "hardware", "kWh pub", "kWh est", "err", "kgCO2e pub",
                        "kgCO2e est", "err", "<=2 %"], rows))
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
                     f"measured {_check_value(c)}")
    return lines


def _inference_human(inf: dict[str, Any]) -> list[str]:
    from wattlm.cli._output import format_number, table

    lines = ["Inference, ML.ENERGY v2 measurements: accelerator energy per output token (J) and "
             "time per output token (TPOT, ms):"]
    rows = []
    for r in inf["rows"]:
        est = r["estimated_j_per_token"]
        tpot = r.get("estimated_tpot_s")
        time_cells = (["-", "-", "-"] if tpot is None else
                      [format_number(1000 * r["measured_tpot_s"]),
                       format_number(1000 * tpot["central"]), _pct(100 * r["tpot_error"])])
        rows.append([
            r["task"], r["model"].split("/")[-1], r["hardware"], r["devices"],
            f"{r['batch']:.0f}", format_number(r["measured_j_per_token"]),
            format_number(est["central"]),
            f"[{format_number(est['low'])} – {format_number(est['high'])}]",
            _pct(100 * r["error"]), "yes" if r["within_1_5x"] else "NO",
            _pct(100 * r["ecologits_error"]) if r.get("ecologits_error") is not None else "-",
            *time_cells,
            "" if not r.get("calibration") else "calib"])
    lines.append(table(["task", "model", "hardware", "dev", "batch", "J meas", "J est",
                        "J range", "J err", "<=1.5x", "EcoLogits err", "TPOT meas",
                        "TPOT est", "TPOT err", ""], rows))
    summary = inf["summary"]
    targets = summary["targets"]
    lines.append("")
    blocks = [("all rows", summary["all"]), ("held-out models", summary["held_out_models"])]
    blocks += [(gpu, block) for gpu, block in summary.get("by_gpu", {}).items()]
    for label, tool, what in (("energy", "wattlm", "wattlm"), ("energy", "ecologits", "EcoLogits"),
                              ("TPOT", "tpot", "wattlm")):
        for name, block in blocks:
            s = block.get(tool)
            if not s or not s.get("rows"):
                continue
            lines.append(
                f"  {label:<6} {what:<9} {name:<16} median |error| "
                f"{100 * s['median_abs_error']:.1f} % "
                f"(target <= {100 * targets['median_abs_error_max']:.0f} %), "
                f"{100 * s['share_within_1_5x']:.0f} % within {targets['within_factor']}x "
                f"(target >= {100 * targets['within_share_min']:.0f} %)  "
                f"{'PASS' if s['pass_median'] and s['pass_within'] else 'FAIL'}")
    lines.append(f"  inference targets (energy and TPOT): {'PASS' if summary['pass'] else 'FAIL'}; "
                 f"{summary['ecologits_note']}; rows marked calib informed the defaults")
    return lines


def _human(result: dict[str, Any]) -> str:
    lines: list[str] = []
    if "training" in result:
        lines += _training_human(result["training"])
    if "inference" in result:
        inf = result["inference"]
        lines.append("")
        if "rows" in inf:
            lines += _inference_human(inf)
        else:
            lines.append(f"Inference: {inf.get('error', 'no result')}")
    return "\n".join(lines)
