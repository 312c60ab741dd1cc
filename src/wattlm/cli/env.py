"""``wattlm env``: which sensors work here, which a run would use, and why the others do not."""

from __future__ import annotations

import argparse
from typing import Any

from wattlm.cli._output import add_format_option, emit, table


def register(subparsers: Any) -> None:
    """Add the ``env`` command."""
    parser = subparsers.add_parser(
        "env", help="show which energy sensors work here and why the others do not",
        description="Probe every sensor backend (nvml, rapl, cpu-model, memory-model) and show "
        "whether it works here, why not, how to fix it, and which sensors a run would use.")
    parser.add_argument("--powercap-root", default=None, metavar="DIR",
                        help="powercap sysfs directory (default: powercap_root in wattlm.toml, "
                        "$WATTLM_POWERCAP_ROOT or /sys/class/powercap)")
    parser.add_argument("--pid", type=int, default=None,
                        help="process whose tree the models would track (default: this one)")
    add_format_option(parser)
    parser.set_defaults(handler=_handle)


def _sensor_dict(sensor: Any) -> dict[str, Any]:
    info = sensor.info
    return {"name": info.name, "kind": info.kind, "provenance": info.provenance.value,
            "update_period_s": info.update_period_s}


def collect(powercap_root: str | None = None, pid: int | None = None) -> dict[str, Any]:
    """Probe everything and describe it as a JSON-ready dict (sensors are closed afterwards).

    Args:
        powercap_root: powercap directory (None: the configured one, as a run resolves it:
            ``wattlm.toml``, ``WATTLM_POWERCAP_ROOT`` or the sysfs default).
        pid: root of the process tree for the models (None: this process).

    Returns:
        ``{"powercap_root", "backends": [...], "selected": [...]}``.
    """
    from wattlm.config import resolve_settings
    from wattlm.sensors.proctree import check_pid
    from wattlm.sensors.registry import probe_all, select_sensors

    if pid is not None:
        check_pid(pid, "--pid")
    root = resolve_settings(powercap_root=powercap_root).powercap_root
    results = probe_all(powercap_root=root, pid=pid)
    selected = select_sensors(results)
    data = {
        "powercap_root": root,
        "backends": [
            {"backend": r.backend, "available": r.available, "reason": r.reason,
             "hint": r.hint, "sensors": [_sensor_dict(s) for s in r.sensors]}
            for r in results
        ],
        "selected": [_sensor_dict(s) for s in selected],
    }
    for result in results:
        for sensor in result.sensors:
            sensor.close()
    return data


def render(data: dict[str, Any]) -> str:
    """Human-readable view of :func:`collect`'s dict."""
    lines = []
    for b in data["backends"]:
        mark = "yes" if b["available"] else "no"
        lines.append(f"{b['backend']:<13} available: {mark}")
        lines.append(f"  {b['reason']}")
        if b["hint"]:
            lines.append(f"  fix: {b['hint']}")
    rows = [[s["name"], s["kind"], s["provenance"]] for s in data["selected"]]
    lines.append("")
    lines.append("A run here would use:")
    lines.append(table(["sensor", "kind", "provenance"], rows) if rows else "  (no sensor)")
    return "\n".join(lines)


def _handle(args: argparse.Namespace) -> int:
    emit(collect(args.powercap_root, args.pid), args.format, render)
    return 0
