"""The schema versions every backend shares, and the upgrades between them.

Version 1 created the tables (each dialect in its own DDL). Version 2 adds the columns that a
run rebuilt without its final record needs, and that listings read without parsing JSON:

* ``devices.model``: the hardware's own name (embodied emissions need it);
* ``runs.exit_code``: the measured command's exit code;
* ``runs.provenance``: the run's weakest provenance.

An upgrade runs in the same transaction as the check of the version, so a store is upgraded
whole or not at all; finished runs get ``exit_code`` and ``provenance`` from their records.
"""

from __future__ import annotations

import json

from wattlm.store.dialect import Cursor

__all__ = ["SCHEMA_VERSION", "SQLITE_VERSION_1", "upgrade"]

SCHEMA_VERSION = 2

#: SQLite's version 1: the tables (PostgreSQL's are in wattlm.store.postgres)
SQLITE_VERSION_1: tuple[str, ...] = (
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project TEXT NOT NULL,
        started_at TEXT NOT NULL,
        started_s REAL,
        status TEXT NOT NULL,
        host TEXT NOT NULL DEFAULT '',
        pid INTEGER,
        pid_created_s REAL,
        region TEXT,
        command TEXT,
        extra TEXT NOT NULL DEFAULT '{}',
        n_devices INTEGER NOT NULL,
        duration_s REAL,
        energy_j REAL,
        emissions_g REAL,
        degraded INTEGER NOT NULL DEFAULT 0,
        record TEXT
    )""",
    "CREATE INDEX runs_by_project ON runs (project, id)",
    "CREATE INDEX runs_by_started_at ON runs (started_at)",
    """CREATE TABLE devices (
        run_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        provenance TEXT NOT NULL,
        update_period_s REAL NOT NULL DEFAULT 0,
        node TEXT,
        rank INTEGER,
        PRIMARY KEY (run_id, position)
    ) WITHOUT ROWID""",
    """CREATE TABLE phases (
        run_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        start_s REAL NOT NULL,
        duration_s REAL NOT NULL,
        energy_j REAL NOT NULL,
        device_energy_j TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, position)
    ) WITHOUT ROWID""",
    # One row per batch of samples (one add_samples call, or SAMPLES_PER_CHUNK after
    # downsampling). data: ``count`` records of (time_s, energy_j of each device in the
    # run's device order), little-endian float64.
    """CREATE TABLE samples (
        run_id INTEGER NOT NULL,
        first_s REAL NOT NULL,
        count INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (run_id, first_s)
    ) WITHOUT ROWID""",
)

_TO_2 = (
    "ALTER TABLE {p}devices ADD COLUMN model TEXT",
    "ALTER TABLE {p}runs ADD COLUMN exit_code INTEGER",
    "ALTER TABLE {p}runs ADD COLUMN provenance TEXT",
)


def _backfill_2(cur: Cursor, prefix: str) -> None:
    """Copy ``exit_code`` and ``provenance`` of finished runs from their record JSON."""
    updates = []
    for run_id, document in cur.rows(
            f"SELECT id, record FROM {prefix}runs WHERE record IS NOT NULL"):
        try:
            data = json.loads(document)
        except ValueError:
            continue  # a damaged record stays damaged (listings skip it with W322)
        if not isinstance(data, dict):
            continue
        exit_code = data.get("exit_code")
        provenance = data.get("provenance")
        updates.append({
            "id": run_id,
            "exit_code": exit_code if isinstance(exit_code, int) else None,
            "provenance": provenance if isinstance(provenance, str) else None,
        })
    cur.many(f"UPDATE {prefix}runs SET exit_code = :exit_code, provenance = :provenance "
             "WHERE id = :id", updates)


def upgrade(cur: Cursor, prefix: str, from_version: int) -> None:
    """Bring a store of schema ``from_version`` (>= 1) to :data:`SCHEMA_VERSION`."""
    if from_version < 2:
        for statement in _TO_2:
            cur.run(statement.format(p=prefix))
        _backfill_2(cur, prefix)
