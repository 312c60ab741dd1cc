"""``wattlm show RUN``: one stored run in detail; ``--region`` re-accounts it for another grid."""

from __future__ import annotations

import argparse
from typing import Any

from wattlm.cli._output import add_format_option
from wattlm.cli.runs import add_db_option


def register(subparsers: Any) -> None:
    """Add the ``show`` command."""
    parser = subparsers.add_parser(
        "show", help="show one stored run: totals, devices, phases, footprint",
        description="Show a stored run: totals, energy and power per device with provenance, "
        "phases, warnings, footprint and distributed ranks. With --region, re-account its "
        "energy for another grid (what-if); the stored run is not changed.")
    parser.add_argument("run", metavar="RUN", help="run id (see `wattlm runs`) or last")
    parser.add_argument("--region", metavar="R", help="re-account for this grid: country (SE, "
                        "FR) or cloud region (aws:eu-north-1)")
    add_db_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=handle)


def reaccount(record: Any, region: str, pue: float | None = None) -> dict[str, Any]:
    """Account ``record``'s energy for ``region``; updates the record, returns what it was.

    The run goes through the same :class:`~wattlm.carbon.accounting.Accountant` as when it was
    measured (its energy, duration and catalogue GPUs, so embodied emissions are kept), with
    ``region``'s grid and PUE (``pue`` when given). The record's region, intensity, PUE,
    emissions and footprint become the what-if figures.
    """
    from wattlm.carbon.accounting import Accountant, apply_footprint

    stored = {"region": record.region, "emissions_g": record.emissions_g,
              "emissions_kg": record.emissions_kg,
              "intensity_g_per_kwh": record.intensity_g_per_kwh, "pue": record.pue}
    accountant = Accountant.resolve(region, pue=pue)
    apply_footprint(record, accountant.account_run(record))
    record.region = accountant.region or region
    return stored


def _range(value: Any, dimension: str, suffix: str = "") -> str:
    from wattlm._format import format_range

    if value is None:
        return "–"
    text = format_range(value, dimension) + suffix
    if value.provenance is not None:
        text += f" ({value.provenance.value})"
    return text


def _embodied(fp: Any) -> str:
    """The embodied share, or why it was not counted (instead of a bare "0 g")."""
    note = fp.assumptions.get("embodied")
    source = str(note.get("source") or "") if note is not None else ""
    if source.startswith("not counted") and fp.embodied.high == 0:
        return source
    return _range(fp.embodied, "mass", " CO2e")


def render(record: Any, whatif: dict[str, Any] | None = None) -> str:
    """Render one run for people (every number through :mod:`wattlm._format`)."""
    from wattlm._format import (
        format_duration,
        format_energy,
        format_mass,
        format_number,
        format_power,
    )
    from wattlm.carbon.accounting import emissions_of, footprint_of
    from wattlm.cli._output import equivalents_line, table

    state = record.status + (" · degraded" if record.degraded else "")
    if record.status in ("running", "interrupted"):
        state += " · figures of what was measured so far"
    lines = [f"run {record.id} · {record.project} · {state}"]
    if record.extra.get("parent_run") is not None:
        lines.append(f"measured inside run {record.extra['parent_run']} (wattlm run), whose "
                     "energy already includes this run's: do not add the two")
    if whatif is not None:
        lines.append(f"what-if: re-accounted for region {record.region} (stored: region "
                     f"{whatif['region'] or '-'}, {format_mass(whatif['emissions_g'])} CO2e)")
    fp = footprint_of(record)
    emissions = emissions_of(record)
    facts = [
        ("started", record.started_at),
        ("duration", format_duration(record.duration_s)),
        ("energy", format_energy(record.energy_j)
         + (f" ({record.provenance.value})" if record.provenance else "")),
    ]
    if record.net_energy_j is not None:
        facts.append(("net energy", f"{format_energy(record.net_energy_j)} above "
                      f"{format_power(record.baseline_power_w)} idle"))
    facts += [
        ("power", f"{format_power(record.mean_power_w)} mean, "
                  f"{format_power(record.peak_power_w)} peak"),
        ("emissions", f"{format_mass(emissions)} CO2e"),
        ("region", f"{record.region or '-'} · intensity "
                   f"{format_number(record.intensity_g_per_kwh)} g/kWh · PUE "
                   f"{format_number(record.pue)}"),
    ]
    if record.command:
        facts.append(("command", " ".join(record.command)))
    if record.exit_code is not None:
        facts.append(("exit code", str(record.exit_code)))
    if record.host:
        facts.append(("host", record.host))
    width = max(len(k) for k, _ in facts)
    lines += [f"  {k.ljust(width)}  {v}" for k, v in facts]
    if record.devices:
        distributed = any(d.node is not None or d.rank is not None for d in record.devices)
        headers = ["device", "kind", "energy", "mean power", "peak power", "provenance"]
        if distributed:
            headers += ["node", "rank"]
        rows = []
        for d in record.devices:
            row = [d.name + (" (degraded)" if d.degraded else ""), d.kind,
                   format_energy(d.energy_j), format_power(d.mean_power_w),
                   format_power(d.peak_power_w), d.provenance.value]
            if distributed:
                row += [d.node, d.rank]
            rows.append(row)
        lines += ["", table(headers, rows)]
    if record.phases:
        lines += ["", table(
            ["phase", "duration", "energy"],
            [(p.name, format_duration(p.duration_s), format_energy(p.energy_j))
             for p in record.phases])]
    if record.distributed:
        lines += ["", "distributed:"]
        if isinstance(record.distributed.get("nodes"), dict):  # merged by rank 0
            lines += _job_summary(record.distributed)
        else:
            lines += [f"  {k}: {v}" for k, v in record.distributed.items()
                      if not isinstance(v, (list, dict))]
        ranks = record.distributed.get("ranks")
        if isinstance(ranks, list) and ranks and all(isinstance(r, dict) for r in ranks):
            keys = list(dict.fromkeys(k for r in ranks for k in r))
            lines.append(table(keys, [[_cell(r.get(k)) for k in keys] for r in ranks]))
        lines += _job_tables(record.distributed)
    if fp is not None:
        lines += ["", "footprint" + (" (so far)" if record.footprint is None else "") + ":",
                  f"  energy (IT)   {_range(fp.energy, 'energy')}",
                  f"  with PUE      {_range(fp.facility_energy, 'energy')}",
                  f"  operational   {_range(fp.emissions, 'mass', ' CO2e')}",
                  f"  embodied      {_embodied(fp)}",
                  f"  total         {_range(fp.total, 'mass', ' CO2e')}",
                  f"  water         {_range(fp.water, 'volume')}"]
        lines.append(f"  that is       {equivalents_line(fp)}")
    if record.warnings:
        lines += ["", "warnings:"] + [f"  {w}" for w in record.warnings]
    return "\n".join(lines)


def _job_summary(info: dict[str, Any]) -> list[str]:
    """Size of the job, its launcher, the gather's cost and how to read the peak power."""
    nodes = info.get("nodes") or {}
    lines = [f"  job        {info.get('world_size', '?')} ranks on {len(nodes)} node(s), "
             f"launcher {info.get('launcher', 'unknown')}"]
    gather = info.get("gather")
    if isinstance(gather, dict):
        from wattlm._format import format_count, format_duration

        lines.append(f"  gathered   {format_count(int(gather.get('bytes', 0)))} bytes to rank 0 "
                     f"in {format_duration(float(gather.get('seconds', 0.0)))} at stop")
    if info.get("peak_power_w_is_upper_bound"):
        lines.append("  peak W     an upper bound: the sum of each rank's own peak")
    lines.append("  rule       each rank measures its GPU(s); one rank per node measures the "
                 "node's shared sensors (CPU, memory)")
    return lines


def _job_tables(info: dict[str, Any]) -> list[str]:
    """Per-node and per-rank tables of a distributed run (who measured what)."""
    from wattlm._format import format_energy
    from wattlm.cli._output import table

    lines = []
    if isinstance(info.get("missing_ranks"), list):
        missing = ", ".join(map(str, info["missing_ranks"]))
        lines.append(f"  missing    {f'rank(s) {missing}: not counted' if missing else 'none'}")
    nodes, ranks = info.get("nodes"), info.get("ranks")
    if isinstance(nodes, dict) and nodes:
        lines.append(table(
            ["node", "host", "energy", "ranks", "shared sensors measured by"],
            [[name, _cell(n.get("host")), format_energy(float(n.get("energy_j", 0.0))),
              ",".join(str(r) for r in n.get("ranks", [])) or "-",
              _shared_by(n.get("measured_shared_by"))] for name, n in nodes.items()]))
    if isinstance(ranks, dict) and ranks:
        lines.append(table(
            ["rank", "node", "local rank", "energy", "devices"],
            [[rank, _cell(r.get("node")), _cell(r.get("local_rank")),
              format_energy(float(r.get("energy_j", 0.0))), ", ".join(r.get("devices", []))]
             for rank, r in sorted(ranks.items(), key=lambda item: int(item[0]))]))
    return lines


def _shared_by(rank: Any) -> str:
    return "nobody (its rank is missing)" if rank is None else f"rank {rank}"


def _cell(value: Any) -> str:
    from wattlm._format import format_number

    if isinstance(value, float):
        return format_number(value)
    return "-" if value is None else str(value)


def handle(args: argparse.Namespace) -> int:
    """Show one run."""
    from wattlm.cli._output import emit
    from wattlm.cli.runs import open_for_reading, resolve_run_id

    if args.region is not None:  # bad input first, before the store
        from wattlm._validate import text

        args.region = text(args.region, "region", origin="argument --region")
    with open_for_reading(args.db) as store:
        record = store.get_run(resolve_run_id(store, args.run))
    whatif = reaccount(record, args.region) if args.region else None
    data = record.to_dict()
    if whatif is not None:
        data["whatif"] = {"region": record.region, "stored": whatif}
    emit(data, args.format, lambda _: render(record, whatif))
    return 0
