"""The default run store: one SQLite file (standard library only).

The file is in WAL mode with ``synchronous=NORMAL``: a committed transaction survives the
death of the writing process (SIGKILL included); a power cut can lose the last commits but never
corrupts the file. Every write is one short ``BEGIN IMMEDIATE`` transaction and the connection
waits up to ``busy_timeout_s`` for the write lock, so several processes can write one store.
The schema is versioned with ``PRAGMA user_version``; see ``docs/methodology/store.md``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wattlm.errors import InvalidInputError, StoreError, UnknownNameError
from wattlm.records import DeviceInfo, PhaseRecord, RunRecord, Sample
from wattlm.store.base import (
    MAX_SAMPLES_PER_RUN,
    Store,
    chunk_rows,
    needs_rewrite,
    pack_samples,
    parse_started_at,
    process_created_s,
    record_from_row,
    thin,
    unpack_samples,
    values_to_samples,
)
from wattlm.units import Provenance

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

_log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

# MIGRATIONS[v] takes a store from schema version v - 1 to v (v = 1 creates it).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
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
    ),
}

_RUN_COLUMNS = ("id, project, started_at, started_s, status, host, pid, pid_created_s, region, "
                "command, extra, record")
_HINT = "choose another location with --db PATH or the WATTLM_DB environment variable"


class SQLiteStore(Store):
    """A :class:`~wattlm.store.base.Store` in one SQLite file.

    Args:
        path: the database file (parent directories are created), or ``":memory:"``.
        max_samples_per_run: samples kept per run after downsampling (a running run is thinned
            back to this when it passes twice as many); ``None`` disables downsampling.
        busy_timeout_s: how long a write waits for another process's transaction.

    Raises:
        StoreError: the file cannot be created or written, is not a wattlm store, or has a
            newer schema than this wattlm understands. Nothing is written in that case.
    """

    def __init__(
        self, path: str | os.PathLike[str], *,
        max_samples_per_run: int | None = MAX_SAMPLES_PER_RUN, busy_timeout_s: float = 30.0,
    ) -> None:
        if max_samples_per_run is not None and max_samples_per_run < 2:
            raise InvalidInputError(
                f"max_samples_per_run must be >= 2 or None, got {max_samples_per_run}")
        self.max_samples_per_run = max_samples_per_run
        self._lock = threading.RLock()
        self._counts: dict[int, int] = {}  # samples stored per run, as this process knows it
        memory = str(path) == ":memory:"
        self.path = Path(path) if memory else Path(path).expanduser()
        self.location = str(self.path)
        if not memory:
            self._check_location()
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.location, timeout=busy_timeout_s, isolation_level=None,
                check_same_thread=False)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the store {self.location}: {e}; {_HINT}") from e
        try:
            self._prepare(self._conn)
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    # --- opening ---------------------------------------------------------------------------

    def _check_location(self) -> None:
        parent = self.path.parent
        for ancestor in (parent, *parent.parents):
            if ancestor.exists():
                if not ancestor.is_dir():
                    raise StoreError(
                        f"cannot create the store {self.location}: {ancestor} is a file, not a "
                        f"directory; {_HINT}")
                break
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(
                f"cannot create the store directory {parent}: {e.strerror or e}; {_HINT}") from e
        if self.path.is_dir():
            raise StoreError(f"the store {self.location} is a directory, not a file; {_HINT}")

    def _prepare(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect on a new file
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() not in ("wal", "memory"):
                _log.info("store %s: journal mode %s (WAL unavailable)", self.location, mode)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")  # proves the file is writable, eagerly
        except sqlite3.DatabaseError as e:
            raise StoreError(
                f"cannot open the store {self.location}: {e} (is it a wattlm store, and "
                f"writable?); {_HINT}") from e
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.location} has schema version {version} but this wattlm "
                    f"reads versions up to {SCHEMA_VERSION}: upgrade wattlm, or {_HINT}")
            if version == 0:
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
                if tables:
                    raise StoreError(
                        f"{self.location} is an SQLite database but not a wattlm store; {_HINT}")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    conn.execute(statement)
            if version != SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise StoreError(
                    f"cannot create the schema of the store {self.location}: {e}; {_HINT}") from e
            raise

    # --- transactions ------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.location} is closed")
        return self._conn

    @contextmanager
    def _transaction(self, action: str, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction (``BEGIN IMMEDIATE`` to write; a read snapshot otherwise)."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield conn
                conn.execute("COMMIT")
            except BaseException as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise StoreError(f"store {self.location}: cannot {action}: {e}") from e
                raise

    def _unknown(self, conn: sqlite3.Connection, run_id: int) -> UnknownNameError:
        newest = conn.execute("SELECT max(id) FROM runs").fetchone()[0]
        tail = f"newest is {newest}" if newest is not None else "the store is empty"
        return UnknownNameError(f"no run {run_id} in {self.location}; {tail}")

    # --- writing -----------------------------------------------------------------------------

    def create_run(
        self, *, project: str, started_at: str, devices: Sequence[DeviceInfo], host: str = "",
        region: str | None = None, command: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Register a run in status ``running`` and return its id (see :class:`Store`)."""
        if not project:
            raise InvalidInputError("a run needs a non-empty project name")
        row = (
            project, started_at, parse_started_at(started_at), "running",
            host or socket.gethostname(), os.getpid(), process_created_s(), region,
            json.dumps(command) if command is not None else None, json.dumps(extra or {}),
            len(devices),
        )
        with self._transaction("create a run", write=True) as conn:
            cursor = conn.execute(
                "INSERT INTO runs (project, started_at, started_s, status, host, pid, "
                "pid_created_s, region, command, extra, n_devices) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            run_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO devices (run_id, position, name, kind, provenance, update_period_s, "
                "node, rank) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, i, d.name, d.kind, Provenance(d.provenance).value,
                  float(d.update_period_s), d.node, d.rank) for i, d in enumerate(devices)])
        return run_id

    def add_samples(self, run_id: int, samples: Sequence[Sample]) -> None:
        """Append samples in one transaction (one row); thins the run past 2x the limit.

        A batch whose first sample has the same time as a stored batch's replaces it (a
        retried flush).

        Raises:
            UnknownNameError: no such run.
            InvalidInputError: the run is finished, or a sample has the wrong number of
                channels or a non-finite value (nothing of the batch is stored).
        """
        if not samples:
            return
        with self._transaction("add samples", write=True) as conn:
            row = conn.execute("SELECT status, n_devices FROM runs WHERE id = ?",
                               (run_id,)).fetchone()
            if row is None:
                raise self._unknown(conn, run_id)
            status, n_devices = row
            if status != "running":
                raise InvalidInputError(
                    f"run {run_id} is {status}: samples can only be added to a running run")
            data = pack_samples(run_id, samples, n_devices)
            conn.execute("INSERT OR REPLACE INTO samples (run_id, first_s, count, data) "
                         "VALUES (?, ?, ?, ?)", (run_id, samples[0].time_s, len(samples), data))
            count = self._counts.get(run_id)
            if count is None:
                count = int(conn.execute(
                    "SELECT coalesce(sum(count), 0) FROM samples WHERE run_id = ?",
                    (run_id,)).fetchone()[0])
            else:
                count += len(samples)
            limit = self.max_samples_per_run
            if limit is not None and count > 2 * limit:
                count = self._downsample(conn, run_id, n_devices, limit)
            self._counts[run_id] = count

    def _downsample(self, conn: sqlite3.Connection, run_id: int, n_devices: int,
                    keep: int | None) -> int:
        """Keep at most ``keep`` samples of a run, evenly spaced in time, in few rows.

        Rows are rewritten only when samples are dropped or they fit in fewer rows. Works on
        the packed floats (no Sample objects), so thinning a running run stays cheap. Returns
        the number of samples kept.
        """
        rows = conn.execute("SELECT count(*), coalesce(sum(count), 0) FROM samples "
                            "WHERE run_id = ?", (run_id,)).fetchone()
        n_rows, total = int(rows[0]), int(rows[1])
        if not needs_rewrite(n_rows, total, keep):
            return total
        width = n_devices + 1
        values = thin(self._raw(conn, run_id, width), width, keep)
        conn.execute("DELETE FROM samples WHERE run_id = ?", (run_id,))
        conn.executemany(
            "INSERT OR REPLACE INTO samples (run_id, first_s, count, data) VALUES (?, ?, ?, ?)",
            [(run_id, *row) for row in chunk_rows(values, width)])
        return len(values) // width

    def finish_run(self, record: RunRecord) -> None:
        """Write the final record and its phases, then downsample the run's samples.

        Raises:
            InvalidInputError: ``record.id`` is not set.
            UnknownNameError: no run has that id.
        """
        if record.id is None:
            raise InvalidInputError("finish_run needs a record whose id is set (from create_run)")
        run_id = int(record.id)
        document = json.dumps(record.to_dict())
        with self._transaction("finish a run", write=True) as conn:
            found = conn.execute("SELECT n_devices FROM runs WHERE id = ?",
                                 (run_id,)).fetchone()
            if found is None:
                raise self._unknown(conn, run_id)
            n_devices = int(found[0])
            conn.execute(
                "UPDATE runs SET project = ?, started_at = ?, status = ?, region = ?, "
                "duration_s = ?, energy_j = ?, emissions_g = ?, degraded = ?, record = ? "
                "WHERE id = ?",
                (record.project, record.started_at, record.status, record.region,
                 record.duration_s, record.energy_j, record.emissions_g, int(record.degraded),
                 document, run_id))
            conn.execute("DELETE FROM phases WHERE run_id = ?", (run_id,))
            conn.executemany(
                "INSERT INTO phases (run_id, position, name, start_s, duration_s, energy_j, "
                "device_energy_j) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, i, p.name, p.start_s, p.duration_s, p.energy_j,
                  json.dumps(p.device_energy_j)) for i, p in enumerate(record.phases)])
            self._downsample(conn, run_id, n_devices, self.max_samples_per_run)
        self._counts.pop(run_id, None)
        self._release_free_pages()

    def downsample(self, run_id: int, keep: int = MAX_SAMPLES_PER_RUN) -> int:
        """Thin one run to at most ``keep`` samples now; returns how many remain."""
        with self._transaction("downsample a run", write=True) as conn:
            found = conn.execute("SELECT n_devices FROM runs WHERE id = ?",
                                 (run_id,)).fetchone()
            if found is None:
                raise self._unknown(conn, run_id)
            count = self._downsample(conn, run_id, int(found[0]), keep)
        self._counts.pop(run_id, None)
        self._release_free_pages()
        return count

    def _release_free_pages(self) -> None:
        """Give pages freed by downsampling back to the file system (best effort)."""
        with self._lock:
            try:
                # executescript steps the pragma to completion (execute frees one page)
                self._connection().executescript("PRAGMA incremental_vacuum;")
            except sqlite3.OperationalError as e:  # busy: another writer; next time
                _log.debug("store %s: incremental vacuum skipped: %s", self.location, e)

    # --- reading -----------------------------------------------------------------------------

    def _devices(self, conn: sqlite3.Connection, run_id: int) -> list[DeviceInfo]:
        return [
            DeviceInfo(name=name, kind=kind, provenance=Provenance(prov),
                       update_period_s=period, node=node, rank=rank)
            for name, kind, prov, period, node, rank in conn.execute(
                "SELECT name, kind, provenance, update_period_s, node, rank FROM devices "
                "WHERE run_id = ? ORDER BY position", (run_id,))
        ]

    def _raw(self, conn: sqlite3.Connection, run_id: int, width: int) -> array[float]:
        """Read a run's samples as one flat float64 array of ``width``-long records, time-sorted."""
        return unpack_samples(
            (data for (data,) in conn.execute(
                "SELECT data FROM samples WHERE run_id = ? ORDER BY first_s", (run_id,))),
            width)

    def _samples(self, conn: sqlite3.Connection, run_id: int, n_devices: int) -> list[Sample]:
        width = n_devices + 1
        return values_to_samples(self._raw(conn, run_id, width), width)

    def _record(self, conn: sqlite3.Connection, row: tuple[Any, ...]) -> RunRecord:
        (run_id, project, started_at, started_s, _status, host, pid, pid_created_s, region,
         command, extra, document) = row
        return record_from_row(
            run_id=int(run_id), project=project, started_at=started_at, started_s=started_s,
            host=host, pid=pid, pid_created_s=pid_created_s, region=region, command=command,
            extra=extra, document=document, devices=lambda: self._devices(conn, run_id),
            samples=lambda n: self._samples(conn, run_id, n))

    def get_run(self, run_id: int) -> RunRecord:
        """Return the run with this id (see :class:`Store`)."""
        with self._transaction("read a run", write=False) as conn:
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?",
                               (run_id,)).fetchone()
            if row is None:
                raise self._unknown(conn, run_id)
            return self._record(conn, row)

    def list_runs(self, *, limit: int = 50, project: str | None = None) -> list[RunRecord]:
        """Up to ``limit`` runs, newest first (see :class:`Store`)."""
        if limit < 1:
            raise InvalidInputError(f"limit must be >= 1, got {limit}")
        where, params = ("WHERE project = ?", [project]) if project is not None else ("", [])
        with self._transaction("list runs", write=False) as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY id DESC LIMIT ?",
                (*params, limit)).fetchall()
            return [self._record(conn, row) for row in rows]

    def samples(self, run_id: int) -> tuple[list[DeviceInfo], list[Sample]]:
        """Return a run's devices and samples in time order (see :class:`Store`)."""
        with self._transaction("read samples", write=False) as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise self._unknown(conn, run_id)
            devices = self._devices(conn, run_id)
            return devices, self._samples(conn, run_id, len(devices))

    def phases(self, run_id: int) -> list[PhaseRecord]:
        """Return the phases of a finished run, from the phases table, in order."""
        with self._transaction("read phases", write=False) as conn:
            return [
                PhaseRecord(name=name, start_s=start_s, duration_s=duration_s, energy_j=energy_j,
                            device_energy_j=json.loads(per_device))
                for name, start_s, duration_s, energy_j, per_device in conn.execute(
                    "SELECT name, start_s, duration_s, energy_j, device_energy_j FROM phases "
                    "WHERE run_id = ? ORDER BY position", (run_id,))
            ]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
