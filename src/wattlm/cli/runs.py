"""``wattlm runs``: the runs in the store, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from wattlm.cli._output import add_format_option


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--db PATH`` (the store location)."""
    parser.add_argument("--db", metavar="PATH", help="store: an SQLite file or a postgresql:// "
                        "URL (default: WATTLM_DB or ~/.local/share/wattlm/runs.db)")


def check_db_for_writing(db: str | None, *, option: str = "--db") -> None:
    """A ``--db`` a command will write to: its folder must exist, before any work starts.

    The default store's folder (``~/.local/share/wattlm``) is created when needed; a folder
    named on the command line is not, so a mistyped ``--db ~/tpyo/runs.db`` fails at once in
    one line instead of creating a stray store. URLs are checked when the store opens.
    """
    from wattlm import _validate
    from wattlm.store import is_url

    if db is None:
        return
    location = _validate.text(db, "db", origin=f"argument {option}", max_length=4_096)
    if location.lower().startswith("sqlite:///"):
        location = location[len("sqlite:///"):]
    elif is_url(location) or "://" in location:
        return
    _validate.path_for_writing(location, f"{option} store")


def open_for_reading(db: str | None) -> Any:
    """Open the store of ``--db`` / ``WATTLM_DB`` / the default read-only (nothing created).

    Raises:
        StoreNotFoundError: there is no store at that location (the message names it).
        StoreError: it cannot be read.
    """
    from wattlm.config import resolve_settings
    from wattlm.store import open_store

    return open_store(resolve_settings(db=db).db_path, read_only=True)


def resolve_run_id(store: Any, ref: str) -> int:
    """The id of run ``ref``: a whole number >= 1, or ``last`` / ``latest`` for the newest run.

    Raises:
        InvalidInputError: ``ref`` is neither, or beyond the largest id a store can hold.
        UnknownNameError: ``last`` in an empty store.
    """
    from wattlm.errors import InvalidInputError, UnknownNameError
    from wattlm.store import MAX_RUN_ID

    text = ref.strip().lower()
    if text in ("last", "latest"):
        runs = store.list_summaries(limit=1)
        if not runs or runs[0].id is None:
            raise UnknownNameError("the store has no runs yet: measure one with wattlm run")
        return int(runs[0].id)
    if not text.isdigit():
        raise InvalidInputError(f"RUN must be a run id (a whole number, see `wattlm runs`) or "
                                f"'last', got {ref[:60]!r}")
    if len(text) > 19 or not 1 <= int(text) <= MAX_RUN_ID:
        raise InvalidInputError(f"RUN must be a run id from 1 to {MAX_RUN_ID} or 'last', "
                                f"got {ref[:60]!r}")
    return int(text)


def _limit(text: str) -> int:
    """``--limit``: a whole number of runs from 1 to the largest id a store can hold.

    Raises:
        InvalidInputError: anything else (one line, exit 2).
    """
    from wattlm.errors import InvalidInputError
    from wattlm.store import MAX_RUN_ID

    value = str(text).strip()
    if not value.isdigit() or len(value) > 19 or not 1 <= int(value) <= MAX_RUN_ID:
        raise InvalidInputError(f"--limit must be a whole number of runs from 1 to "
                                f"{MAX_RUN_ID}, got {str(text)[:60]!r}")
    return int(value)


def register(subparsers: Any) -> None:
    """Add the ``runs`` command."""
    parser = subparsers.add_parser(
        "runs", help="list the stored runs, newest first",
        description="List the runs in the store, newest first: id, start, project, duration, "
        "energy, emissions, status. Runs that never finished show their totals up to the last "
        "stored sample (status running or interrupted).")
    parser.add_argument("--limit", default="50", metavar="N",
                        help="show at most N runs (default 50)")
    parser.add_argument("--project", metavar="P", help="only runs of project P")
    add_db_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=handle)


def render(records: list[Any], location: str, empty_note: str = "") -> str:
    """Human table of runs (or a friendly line when there are none)."""
    from wattlm.cli._output import format_number, table

    if not records:
        return empty_note or (f"no runs in {location} yet: measure one with `wattlm run -- CMD`"
                              " or `with wattlm.track(): ...`")
    rows = [
        (r.id, r.started_at, r.project, f"{r.duration_s:.1f} s", format_number(r.energy_kwh),
         format_number(r.emissions_kg), r.status,
         "" if r.exit_code is None else r.exit_code, "yes" if r.degraded else "")
        for r in records
    ]
    return table(["id", "started", "project", "duration", "energy kWh", "emissions kg",
                  "status", "exit", "degraded"], rows)


def _empty_note(store: Any, project: str | None) -> str:
    """Why nothing was listed: an empty store, or a project that has no runs."""
    if project is None:
        return ""
    total = store.count_runs()
    if total == 0:
        return ""
    names = store.projects()
    shown = ", ".join(repr(n) for n in names[:8]) + (", …" if len(names) > 8 else "")
    return (f"no runs in project {project!r} ({total} run{'s' if total != 1 else ''} in "
            f"other projects: {shown})")


def handle(args: argparse.Namespace) -> int:
    """List runs: a table from the indexed columns, or the stored JSON records as they are."""
    import sys

    from wattlm.cli._output import emit
    from wattlm.store import StoreNotFoundError

    _limit(args.limit)  # bad input first, before the store
    if args.project is not None:
        from wattlm._validate import text

        args.project = text(args.project, "project", origin="argument --project")
    try:
        store = open_for_reading(args.db)
    except StoreNotFoundError as e:
        if args.db is not None:  # an explicit path that holds no store: mistyped?
            raise
        message = str(e)  # the configured store does not exist yet: nothing measured
        emit([], args.format, lambda _: message)
        return 0
    limit = _limit(args.limit)
    with store:
        if args.format == "json":
            documents = store.list_documents(limit=limit, project=args.project)
            sys.stdout.write("[\n" + ",\n".join(documents) + "\n]\n" if documents else "[]\n")
            return 0
        records = store.list_summaries(limit=limit, project=args.project)
        note = _empty_note(store, args.project) if not records else ""
        location = store.location
    emit(records, "human", lambda _: render(records, location, note))
    return 0
