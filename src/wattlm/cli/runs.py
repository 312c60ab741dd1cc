"""``wattlm runs``: the runs in the store, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from wattlm.cli._output import add_format_option


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--db PATH`` (the store location)."""
    parser.add_argument("--db", metavar="PATH", help="store: an SQLite file or a postgresql:// "
                        "URL (default: WATTLM_DB or ~/.local/share/wattlm/runs.db)")


def resolve_run_id(store: Any, ref: str) -> int:
    """The id of run ``ref``: a whole number >= 1, or ``last`` / ``latest`` for the newest run.

    Raises:
        InvalidInputError: ``ref`` is neither.
        UnknownNameError: ``last`` in an empty store.
    """
    from wattlm.errors import InvalidInputError, UnknownNameError

    text = ref.strip().lower()
    if text in ("last", "latest"):
        runs = store.list_runs(limit=1)
        if not runs or runs[0].id is None:
            raise UnknownNameError("the store has no runs yet: measure one with wattlm run")
        return int(runs[0].id)
    try:
        run_id = int(text)
    except ValueError:
        raise InvalidInputError(f"RUN must be a run id (a whole number, see `wattlm runs`) or "
                                f"'last', got {ref!r}") from None
    if run_id < 1:
        raise InvalidInputError(f"RUN must be a run id >= 1 or 'last', got {ref!r}")
    return run_id


def register(subparsers: Any) -> None:
    """Add the ``runs`` command."""
    parser = subparsers.add_parser(
        "runs", help="list the stored runs, newest first",
        description="List the runs in the store, newest first: id, start, project, duration, "
        "energy, emissions, status. Runs that never finished show their totals up to the last "
        "stored sample (status running or interrupted).")
    parser.add_argument("--limit", type=int, default=50, metavar="N",
                        help="show at most N runs (default 50)")
    parser.add_argument("--project", metavar="P", help="only runs of project P")
    add_db_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=handle)


def render(records: list[Any], location: str) -> str:
    """Human table of runs (or a friendly line for an empty store)."""
    from wattlm.cli._output import format_number, table

    if not records:
        return (f"no runs in {location} yet: measure one with `wattlm run -- CMD` or "
                "`with wattlm.track(): ...`")
    rows = [
        (r.id, r.started_at, r.project, f"{r.duration_s:.1f} s", format_number(r.energy_kwh),
         format_number(r.emissions_kg), r.status, "yes" if r.degraded else "")
        for r in records
    ]
    return table(["id", "started", "project", "duration", "energy kWh", "emissions kg",
                  "status", "degraded"], rows)


def handle(args: argparse.Namespace) -> int:
    """List runs."""
    from wattlm.cli._output import emit
    from wattlm.config import resolve_settings
    from wattlm.errors import InvalidInputError
    from wattlm.store import open_store

    if args.limit < 1:
        raise InvalidInputError(f"--limit must be a positive number of runs, got {args.limit}")
    with open_store(resolve_settings(db=args.db).db_path) as store:
        records = store.list_runs(limit=args.limit, project=args.project)
        location = store.location
    emit([r.to_dict() for r in records], args.format, lambda _: render(records, location))
    return 0
