"""``wattlm whatif RUN``: the same run in other regions, hours, hardware or PUE."""

from __future__ import annotations

import argparse
from typing import Any

from wattlm._format import format_energy, format_mass, format_number
from wattlm.cli._output import add_format_option, emit, table
from wattlm.cli.runs import add_db_option
from wattlm.units import kwh_to_j


def register(subparsers: Any) -> None:
    """Add the ``whatif`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "whatif", help="the same run or estimate in other regions, hours, hardware or PUE",
        description="Take a stored run's (or an estimate's) energy and show what it would "
        "emit in the "
        "lowest-carbon regions (all, or one cloud provider's), at the lowest-carbon hours of an "
        "intensity series, on other hardware (estimator's energy-per-FLOP ratio) or with "
        "another PUE, sorted by saving.")
    parser.add_argument("run", help="run id (see `wattlm runs`), 'last', or a JSON report "
                        "file (`wattlm report RUN --format json -o r.json`, or "
                        "`wattlm estimate train ... --report json -o est.json`)")
    add_db_option(parser)
    parser.add_argument("--provider", default=None, choices=("aws", "gcp", "azure"),
                        help="only this provider's regions (aws, gcp, azure); default: the "
                        "run's provider, or every provider's cloud regions")
    parser.add_argument("--region", action="append", default=None, metavar="REGION",
                        help="compare with these regions only (repeatable)")
    parser.add_argument("--no-regions", action="store_true", help="skip the region scenarios")
    parser.add_argument("--top", type=int, default=5,
                        help="how many of the lowest-carbon regions to show (default 5)")
    parser.add_argument("--series", default=None, metavar="CSV",
                        help="hourly intensity series (timestamp,g_per_kwh) for the best hours")
    parser.add_argument("--hardware", action="append", default=[], metavar="NAME",
                        help="other hardware to compare (repeatable; catalogue names)")
    parser.add_argument("--current-hardware", default=None,
                        help="the part the run used, if its GPUs are not in the catalogue")
    parser.add_argument("--pue", type=float, default=None,
                        help="another PUE to try (>= 1.0, e.g. 1.1 for an efficient data centre)")
    add_format_option(parser)
    parser.set_defaults(handler=_handle)


def _human(data: dict[str, Any]) -> str:
    basis = data["basis"]
    head = (f"{basis['label']}: {format_energy(kwh_to_j(basis['energy_kwh']))} x PUE "
            f"{format_number(basis['pue'])} x {format_number(basis['intensity_g_per_kwh'])} "
            f"g/kWh = {format_mass(data['baseline_emissions_g'])} CO2e")
    rows = [[s["kind"], s["label"], format_mass(s["emissions_g"]), format_mass(s["saving_g"]),
             f"{format_number(s['saving_pct'])} %", s["note"]]
            for s in data["scenarios"]]
    body = table(["kind", "scenario", "CO2e", "saving", "saving %", "note"], rows)
    return "\n".join([head, "", body, *data["notes"]])


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wattlm.cli.report import load_run
    from wattlm.compare.whatif import whatif

    subject: Any
    if args.run.lower().endswith(".json") or Path(args.run).is_file():
        from wattlm.compare.whatif import basis_from_report

        subject = basis_from_report(args.run)
    else:
        subject, _, _ = load_run(args.run, args.db)
    regions: Any = None if args.no_regions else (args.region or args.provider or "auto")
    result = whatif(subject, regions=regions, top=args.top, series=args.series,
                    hardware=args.hardware, current_hardware=args.current_hardware, pue=args.pue)
    emit(result.to_dict(), args.format, _human)
    return 0
