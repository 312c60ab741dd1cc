"""``wattlm env``: which sensors work here, which a run would use, and why the others do not."""

from __future__ import annotations

import argparse
from typing import Any

from wattlm.cli._output import add_format_option, emit, table


def register(subparsers: Any) -> None:
    """Add the ``env`` command."""
    parser = subparsers.add_parser(
        "env", help="show which energy sensors work here and why the others do not",
        description="Probe every sensor backend (nvml, amdsmi, gaudi, apple, rapl, cpu-model, "
        "memory-model) and show whether it works here, why not, how to fix it, what bad input "
        "it met (visible-devices variables, a driver missing), and which sensors a run would "
        "use.")
    parser.add_argument("--powercap-root", default=None, metavar="DIR",
                        help="powercap sysfs directory (default: powercap_root in wattlm.toml, "
                        "$WATTLM_POWERCAP_ROOT or /sys/class/powercap)")
    parser.add_argument("--pid", type=int, default=None,
                        help="process whose tree the models would track (default: this one)")
    add_format_option(parser)
    parser.set_defaults(handler=_handle)


def _sensor_dict(sensor: Any, role: str = "") -> dict[str, Any]:
    info = sensor.info
    out = {"name": info.name, "kind": info.kind, "provenance": info.provenance.value,
           "update_period_s": info.update_period_s}
    if role:
        out["role"] = role
    return out


def collect(powercap_root: str | None = None, pid: int | None = None, *,
            context: Any = None) -> dict[str, Any]:
    """Probe everything and describe it as a JSON-ready dict (sensors are closed afterwards).

    Args:
        powercap_root: powercap directory (None: the configured one, as a run resolves it:
            ``wattlm.toml``, ``WATTLM_POWERCAP_ROOT`` or the sysfs default).
        pid: root of the process tree for the models (None: this process).
        context: a :class:`~wattlm.sensors.backend.ProbeContext` to probe with (tests inject
            fake vendor modules here); its powercap root and pid are replaced by the above.

    Returns:
        ``{"powercap_root", "backends": [...], "selected": [...], "problems": [...]}``.
    """
    import dataclasses

    from wattlm.config import resolve_settings
    from wattlm.sensors.backend import ProbeContext
    from wattlm.sensors.proctree import check_pid
    from wattlm.sensors.registry import load_backends, probe_all, select

    if pid is not None:
        check_pid(pid, "argument --pid")
    root = resolve_settings(powercap_root=powercap_root).powercap_root
    base = context if context is not None else ProbeContext.create()
    ctx = dataclasses.replace(base, powercap_root=root, pid=base.pid if pid is None else pid)
    backends = load_backends()
    results = probe_all(ctx, backends=backends)
    selection = select(results, backends)
    methods = {b.name: b.method for b in backends}
    data = {
        "powercap_root": root,
        "backends": [
            {"backend": r.backend, "available": r.available, "reason": r.reason,
             "hint": r.hint, "method": methods.get(r.backend, ""),
             "problems": [{"code": p.code, "message": p.message} for p in r.problems],
             "sensors": [_sensor_dict(s) for s in r.sensors]}
            for r in results
        ],
        "selected": [_sensor_dict(s, c.role) for s, c in zip(selection.sensors,
                                                              selection.claims, strict=True)],
        "problems": [{"code": p.code, "message": p.message} for p in selection.problems],
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
        for problem in b.get("problems", []):
            lines.append(f"  problem {problem['code']}: {problem['message']}")
    rows = [[s["name"], s.get("role", ""), s["kind"], s["provenance"]] for s in data["selected"]]
    lines.append("")
    lines.append("A run here would use:")
    lines.append(table(["sensor", "role", "kind", "provenance"], rows) if rows
                 else "  (no sensor)")
    if data.get("problems"):
        lines.append("")
        lines.append(f"A run here would warn {len(data['problems'])} time(s) (see above) and go "
                     "on with the sensors that work.")
    return "\n".join(lines)


def _handle(args: argparse.Namespace) -> int:
    emit(collect(args.powercap_root, args.pid), args.format, render)
    return 0
