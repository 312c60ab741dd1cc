"""``wattlm run -- CMD``: measure a command and its whole process tree."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from wattlm.cli.runs import add_db_option
from wattlm.errors import InvalidInputError


def register(sub: Any) -> None:
    """Add the ``run`` command."""
    parser = sub.add_parser(
        "run", help="measure a command (its whole process tree); passes its exit code through",
        description="Run COMMAND, measure the energy of its process tree, save the run and print "
        "a summary on stderr. The command's exit code becomes wattlm's: 128+N if signal N "
        "killed it, 126 if it is not executable, 127 if it does not exist, 2 for bad options. "
        "Signals sent to wattlm (INT, TERM, HUP, QUIT) are forwarded to the command once.",
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
    parser.add_argument("--scope", choices=("tree", "session", "cgroup"), default="tree",
                        help="which processes the CPU and memory models measure: tree (the "
                        "command and its descendants, default), session (also everything in "
                        "the command's own session), cgroup (every process of the run's own "
                        "cgroup, or of wattlm's cgroup when one cannot be created)")
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


#: Upper bounds beyond which a value is surely a mistake (docs/cli.md).
MAX_INTERVAL_S = 86_400.0  # a day between samples
MAX_BASELINE_S = 3_600.0  # an hour of idle measurement


def _check_seconds(name: str, value: float | None, low: float, high: float,
                   low_ok: bool) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value > high or value < low or (value == low and not low_ok):
        bound = ">=" if low_ok else ">"
        raise InvalidInputError(f"{name} must be a number of seconds {bound} {low:g} and "
                                f"<= {high:g}, got {value!r} (command-line argument)")


def _check_output(output: Path) -> None:
    """``-o FILE`` must be writable before the work starts (nothing is created here)."""
    if output.is_dir():
        raise InvalidInputError(f"-o {output}: is a directory; give a file name")
    parent = output.parent
    if not parent.is_dir():
        raise InvalidInputError(f"-o {output}: directory {parent} does not exist")
    if (output.exists() and not os.access(output, os.W_OK)) or (
            not output.exists() and not os.access(parent, os.W_OK | os.X_OK)):
        raise InvalidInputError(f"-o {output}: not writable (permission denied)")


def _check(args: argparse.Namespace) -> None:
    """Reject bad options in one line before anything runs."""
    _check_seconds("--interval", args.interval, 0.0, MAX_INTERVAL_S, low_ok=False)
    _check_seconds("--baseline", args.baseline, 0.0, MAX_BASELINE_S, low_ok=True)
    if args.project is not None and not args.project.strip():
        raise InvalidInputError("--project must not be empty (omit it for 'default')")
    if args.output:
        _check_output(Path(args.output))
    if args.metrics_port is not None:
        from wattlm import _validate

        _validate.count(args.metrics_port, "metrics_port", origin="argument --metrics-port",
                        low=0, high=65_535)
    if not args.no_save:
        from wattlm.cli.runs import check_db_for_writing

        check_db_for_writing(args.db)


def handle(args: argparse.Namespace) -> int:
    """Run and measure the command."""
    from wattlm.config import resolve_settings
    from wattlm.tracking.process import CommandNotFoundError, resolve_command, run_command
    from wattlm.tracking.tracker import Tracker

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise InvalidInputError("no command given: use wattlm run [OPTIONS] -- COMMAND [ARGS...]")
    _check(args)
    output = Path(args.output) if args.output else None
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
        resolve_command(command)
        result = run_command(tracker, command, scope=args.scope)
    except CommandNotFoundError as e:
        from wattlm._secrets import mask_text

        print(f"wattlm: {mask_text(str(e))}", file=sys.stderr)
        return e.exit_code
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
