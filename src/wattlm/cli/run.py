"""``wattlm run -- CMD``: measure a command and its whole process tree."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wattlm.cli.runs import add_db_option
from wattlm.errors import InvalidInputError


def register(sub: Any) -> None:
    """Add the ``run`` command."""
    parser = sub.add_parser(
        "run", help="measure a command (its whole process tree); passes its exit code through",
        description="Run COMMAND, measure the energy of its process tree, save the run and print "
        "a summary on stderr. The command's exit code becomes wattlm's (127 if not found).",
        usage="wattlm run [OPTIONS] -- COMMAND [ARGS...]")
    parser.add_argument("--region", help="grid location: country (FR, FRA, France) or cloud "
                        "region (aws:us-east-1); default: world average, labelled assumed")
    parser.add_argument("--project", help="project name stored with the run")
    parser.add_argument("--interval", type=float, metavar="SECONDS",
                        help="seconds between samples (default 1.0)")
    add_db_option(parser)
    parser.add_argument("--no-save", action="store_true", help="do not store the run")
    parser.add_argument("--baseline", type=float, metavar="SECONDS",
                        help="measure idle power this long first and report net energy too")
    parser.add_argument("--pue", type=float, help="power usage effectiveness (>= 1.0)")
    parser.add_argument("--intensity-series", metavar="CSV",
                        help="hourly (or finer) grid intensity, columns timestamp,g_per_kwh; "
                        "energy-weighted over the run")
    parser.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve Prometheus metrics of the run on 127.0.0.1:PORT "
                        "(needs wattlm[prometheus])")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the run as JSON to FILE")
    parser.add_argument("--quiet", action="store_true", help="no summary on stderr")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    parser.set_defaults(handler=handle)


def _summary(record: Any) -> str:
    from wattlm._format import format_duration, format_energy, format_mass, format_power

    emissions = record.emissions
    parts = [f"run {record.id if record.id is not None else '(not saved)'}",
             format_duration(record.duration_s), format_energy(record.energy_j),
             f"{format_mass(emissions.central if emissions else None)} CO2e"]
    if record.region:
        parts.append(f"region {record.region}")
    lines = ["wattlm: " + " · ".join(parts)]
    for device in record.devices:
        lines.append(f"  {device.name:<22} {format_energy(device.energy_j)}  "
                     f"{format_power(device.mean_power_w)} mean  {device.provenance.value}")
    if record.footprint is not None:
        from wattlm.cli._output import equivalents_line

        lines.append(f"  that is {equivalents_line(record)}")
    for warning in record.warnings:
        lines.append(f"  warning {warning}")
    return "\n".join(lines)


def handle(args: argparse.Namespace) -> int:
    """Run and measure the command."""
    from pathlib import Path

    from wattlm.config import resolve_settings
    from wattlm.tracking.process import CommandNotFoundError, run_command
    from wattlm.tracking.tracker import Tracker

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise InvalidInputError("no command given: use wattlm run [OPTIONS] -- COMMAND [ARGS...]")
    output = Path(args.output) if args.output else None
    if output is not None and not output.parent.exists():
        raise InvalidInputError(f"cannot write {output}: directory {output.parent} does not exist")
    settings = resolve_settings(region=args.region, project=args.project,
                                interval_s=args.interval, db=args.db,
                                save=False if args.no_save else None,
                                baseline_s=args.baseline, pue=args.pue,
                                intensity_series=args.intensity_series)
    tracker = Tracker(settings)
    metrics = None
    if args.metrics_port is not None:
        from wattlm.integrations.prometheus import serve_metrics

        metrics = serve_metrics(tracker, port=args.metrics_port)
    try:
        result = run_command(tracker, command)
    except CommandNotFoundError as e:
        print(f"wattlm: {e}", file=sys.stderr)
        return 127
    finally:
        if metrics is not None:
            metrics.stop()
    if output is not None:
        try:
            output.write_text(json.dumps(result.record.to_dict(), indent=2) + "\n")
        except OSError as e:
            print(f"wattlm: could not write {output}: {e}", file=sys.stderr)
    if not args.quiet:
        print(_summary(result.record), file=sys.stderr)
    return result.exit_code
