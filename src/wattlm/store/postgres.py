"""PostgreSQL run store (``postgresql://`` URLs), on SQLAlchemy Core: ``wattlm[postgres]``.

A team points every job at one database: ``--db postgresql://user:password@host/dbname`` or
``WATTLM_DB``. The store lives in its own PostgreSQL schema (``wattlm`` unless the URL says
``?schema=NAME``), so it can share a database with other tables. Tables, packed samples,
downsampling and the rebuilding of unfinished runs are those of the SQLite store (the shared
logic is in :mod:`wattlm.store.base`); see ``docs/methodology/store.md``.

This is the only module that imports SQLAlchemy (and, through it, psycopg); importing it
without them raises :class:`~wattlm.errors.MissingExtraError`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import threading
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

from wattlm.errors import InvalidInputError, MissingExtraError, StoreError, UnknownNameError
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

try:
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import insert as pg_insert
except ImportError as _error:  # pragma: no cover - depends on the environment
    raise MissingExtraError("sqlalchemy", "postgres", "a PostgreSQL store") from _error

__all__ = ["DEFAULT_SCHEMA", "SCHEMA_VERSION", "PostgresStore", "open_postgres", "redact_url"]

SCHEMA_VERSION = 1
#: the PostgreSQL schema (namespace) that holds the store unless the URL has ``?schema=NAME``
DEFAULT_SCHEMA = "wattlm"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_HINT = "check the URL given with --db or WATTLM_DB (user, password, host, port, database)"


def redact_url(url: str) -> str:
    """Return the URL with any password replaced by ``***`` (for messages).

    Everything between ``user:`` and the last ``@`` is hidden (so a password holding an
    unescaped ``@`` is hidden whole), and so is a ``password=`` query parameter.
    """
    from wattlm._secrets import mask_url

    return mask_url(url)


def open_postgres(url: str) -> Store:
    """Open (creating its schema if needed) the PostgreSQL store at ``url``.

    Raises:
        MissingExtraError: SQLAlchemy or psycopg is not installed
            (``pip install 'wattlm[postgres]'``).
        StoreError: the URL is malformed, the server cannot be reached, the login fails, the
            schema is not a wattlm store or is newer, or the user cannot write it.
    """
    return PostgresStore(url)


class _Tables:
    """The store's tables (SQLAlchemy Core) inside one PostgreSQL schema."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.metadata = sa.MetaData(schema=schema)
        self.meta = sa.Table(
            "meta", self.metadata,
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
        self.runs = sa.Table(
            "runs", self.metadata,
            sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
            sa.Column("project", sa.Text, nullable=False),
            sa.Column("started_at", sa.Text, nullable=False),
            sa.Column("started_s", sa.Double),
            sa.Column("status", sa.Text, nullable=False),
            sa.Column("host", sa.Text, nullable=False, server_default=""),
            sa.Column("pid", sa.BigInteger),
            sa.Column("pid_created_s", sa.Double),
            sa.Column("region", sa.Text),
            sa.Column("command", sa.Text),
            sa.Column("extra", sa.Text, nullable=False, server_default="{}"),
            sa.Column("n_devices", sa.Integer, nullable=False),
            sa.Column("duration_s", sa.Double),
            sa.Column("energy_j", sa.Double),
            sa.Column("emissions_g", sa.Double),
            sa.Column("degraded", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("record", sa.Text),
            sa.Index("runs_by_project", "project", "id"),
            sa.Index("runs_by_started_at", "started_at"),
        )
        run_id = f"{schema}.runs.id"
        self.devices = sa.Table(
            "devices", self.metadata,
            sa.Column("run_id", sa.BigInteger, sa.ForeignKey(run_id, ondelete="CASCADE"),
                      primary_key=True),
            sa.Column("position", sa.Integer, primary_key=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("provenance", sa.Text, nullable=False),
            sa.Column("update_period_s", sa.Double, nullable=False, server_default="0"),
            sa.Column("node", sa.Text),
            sa.Column("rank", sa.Integer),
        )
        self.phases = sa.Table(
            "phases", self.metadata,
            sa.Column("run_id", sa.BigInteger, sa.ForeignKey(run_id, ondelete="CASCADE"),
                      primary_key=True),
            sa.Column("position", sa.Integer, primary_key=True),
            sa.Column("name", sa.Text, nullable=False),
            sa.Column("start_s", sa.Double, nullable=False),
            sa.Column("duration_s", sa.Double, nullable=False),
            sa.Column("energy_j", sa.Double, nullable=False),
            sa.Column("device_energy_j", sa.Text, nullable=False, server_default="{}"),
        )
        # data: ``count`` records of (time_s, energy_j per device), little-endian float64
        self.samples = sa.Table(
            "samples", self.metadata,
            sa.Column("run_id", sa.BigInteger, sa.ForeignKey(run_id, ondelete="CASCADE"),
                      primary_key=True),
            sa.Column("first_s", sa.Double, primary_key=True),
            sa.Column("count", sa.Integer, nullable=False),
            sa.Column("data", sa.LargeBinary, nullable=False),
        )
        self.written = (self.runs, self.devices, self.phases, self.samples)

    def create_version_1(self, conn: sa.Connection) -> None:
        """Migration 0 -> 1: create the tables."""
        self.metadata.create_all(conn, tables=[self.meta, *self.written])


def _explain(error: BaseException, secrets: Sequence[str]) -> str:
    """One line from a driver or SQLAlchemy error, without SQL, links or any secret."""
    if isinstance(error, sa.exc.DBAPIError) and error.orig is not None:
        text = str(error.orig)
    elif isinstance(error, sa.exc.SQLAlchemyError) and error.args:
        text = str(error.args[0])
    else:
        text = str(error) or type(error).__name__
    text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    from wattlm._secrets import mask_text

    del secrets  # masked by parsing (URLs, password= pairs), never by searching for the value
    return mask_text(text)


class PostgresStore(Store):
    """A :class:`~wattlm.store.base.Store` in a PostgreSQL database, through SQLAlchemy Core.

    Args:
        url: ``postgresql://user:password@host:port/dbname`` (``postgres://`` and an explicit
            ``postgresql+DRIVER://`` are accepted; the default driver is psycopg 3). Query
            parameters go to libpq (``sslmode=require``, ``connect_timeout=5``), except
            ``schema=NAME``, the PostgreSQL schema that holds the store (default ``wattlm``).
        max_samples_per_run: samples kept per run after downsampling (a running run is thinned
            back to this when it passes twice as many); ``None`` disables downsampling.
        connect_timeout_s: how long to wait for the server, unless the URL sets
            ``connect_timeout``.
        lock_timeout_s: how long a write waits for another writer's row lock.

    Raises:
        MissingExtraError: the URL's driver (psycopg) is not installed.
        StoreError: checked now, before any work: the URL is malformed, the server cannot be
            reached, the login fails, the schema is not a wattlm store or has a newer version,
            or the user cannot create or write the tables. The password never appears.
    """

    def __init__(
        self, url: str, *, max_samples_per_run: int | None = MAX_SAMPLES_PER_RUN,
        connect_timeout_s: float = 10.0, lock_timeout_s: float = 30.0,
    ) -> None:
        if max_samples_per_run is not None and max_samples_per_run < 2:
            raise InvalidInputError(
                f"max_samples_per_run must be >= 2 or None, got {max_samples_per_run}")
        self.max_samples_per_run = max_samples_per_run
        self.location = redact_url(url)
        self._lock = threading.Lock()
        self._counts: dict[int, int] = {}  # samples stored per run, as this process knows it
        engine_url, schema = self._parse(url)
        password = engine_url.password
        self._secrets = tuple({str(password), quote(str(password), safe=""),
                               quote_plus(str(password))}) if password else ()
        self._t = _Tables(schema)
        self.schema = schema
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in engine_url.query:
            connect_args["connect_timeout"] = max(1, round(connect_timeout_s))
        if "application_name" not in engine_url.query:
            connect_args["application_name"] = "wattlm"
        try:
            engine = sa.create_engine(engine_url, connect_args=connect_args,
                                      pool_pre_ping=True, pool_size=2, max_overflow=4)
        except (sa.exc.SQLAlchemyError, ValueError, TypeError) as e:
            raise StoreError(f"cannot open the store {self.location}: "
                             f"{_explain(e, self._secrets)}; {_HINT}") from e
        lock_timeout_ms = max(1, round(lock_timeout_s * 1000))

        @sa.event.listens_for(engine, "connect")
        def _session_settings(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"SET lock_timeout = {lock_timeout_ms}")
            finally:
                cursor.close()
            dbapi_connection.commit()  # a SET inside a rolled-back transaction is undone

        self._engine: sa.Engine | None = engine
        try:
            self._prepare()
        except BaseException:
            engine.dispose()
            self._engine = None
            raise

    # --- opening ---------------------------------------------------------------------------

    def _parse(self, url: str) -> tuple[sa.URL, str]:
        """The SQLAlchemy URL to connect to (psycopg by default) and the store's schema."""
        try:
            parsed = sa.engine.make_url(url)
        except (sa.exc.ArgumentError, ValueError) as e:
            raise StoreError(f"{self.location} is not a valid PostgreSQL URL "
                             f"(postgresql://user:password@host:port/dbname); {_HINT}") from e
        backend, _, driver = parsed.drivername.partition("+")
        if backend not in ("postgresql", "postgres"):
            raise StoreError(f"{self.location} is not a PostgreSQL URL; {_HINT}")
        driver = driver or "psycopg"
        if driver not in ("psycopg", "psycopg2"):
            raise StoreError(f"{self.location}: the driver {driver!r} is not supported; use "
                             f"postgresql:// (psycopg 3) or postgresql+psycopg2://; {_HINT}")
        if importlib.util.find_spec(driver) is None:
            raise MissingExtraError(driver, "postgres", "a PostgreSQL store")
        schema = parsed.query.get("schema", DEFAULT_SCHEMA)
        if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
            raise StoreError(f"{self.location}: the schema name {schema!r} is not valid; use "
                             "lower-case letters, digits and _ (at most 63, not starting with "
                             "a digit)")
        parsed = parsed.difference_update_query(["schema"]).set(
            drivername=f"postgresql+{driver}")
        return parsed, schema

    def _prepare(self) -> None:
        """Create or check the schema in one transaction, serialised by an advisory lock."""
        t = self._t
        try:
            with self._connection() as conn, conn.begin():
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
                    sa.func.hashtext(f"wattlm store {t.schema}"))))
                exists = conn.execute(sa.text(
                    "SELECT 1 FROM pg_namespace WHERE nspname = :name"),
                    {"name": t.schema}).first() is not None
                version = self._version(conn) if exists else 0
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"the store {self.location} (schema {t.schema}) has schema version "
                        f"{version} but this wattlm reads versions up to {SCHEMA_VERSION}: "
                        f"upgrade wattlm, or choose another with ?schema=NAME; {_HINT}")
                if exists and version == 0:
                    tables = conn.execute(sa.text(
                        "SELECT count(*) FROM pg_tables WHERE schemaname = :name"),
                        {"name": t.schema}).scalar_one()
                    if tables:
                        raise StoreError(
                            f"the schema {t.schema} of {self.location} holds tables that are "
                            "not a wattlm store; choose another with ?schema=NAME in the URL")
                if not exists:
                    conn.execute(sa.schema.CreateSchema(t.schema))
                migrations = {1: t.create_version_1}
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    migrations[target](conn)
                if version != SCHEMA_VERSION:
                    upsert = pg_insert(t.meta).values(key="schema_version",
                                                      value=str(SCHEMA_VERSION))
                    conn.execute(upsert.on_conflict_do_update(
                        index_elements=[t.meta.c.key], set_={"value": upsert.excluded.value}))
                self._check_writable(conn)
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"cannot open the store {self.location}: "
                             f"{_explain(e, self._secrets)}; {_HINT}") from e

    def _version(self, conn: sa.Connection) -> int:
        t = self._t
        has_meta = conn.execute(sa.select(sa.func.to_regclass(f"{t.schema}.meta"))).scalar()
        if has_meta is None:
            return 0
        value = conn.execute(sa.select(t.meta.c.value).where(
            t.meta.c.key == "schema_version")).scalar()
        try:
            return int(value) if value is not None else 0
        except ValueError as e:
            raise StoreError(f"the store {self.location} has a bad schema version "
                             f"{value!r}") from e

    def _check_writable(self, conn: sa.Connection) -> None:
        """Raise StoreError now if this user cannot write every table."""
        checks = [(f"{self._t.schema}.{table.name}", privilege)
                  for table in self._t.written
                  for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")]
        allowed = conn.execute(sa.select(
            sa.func.current_user(),
            *(sa.func.has_table_privilege(name, privilege) for name, privilege in checks))).one()
        for (name, privilege), ok in zip(checks, allowed[1:], strict=True):
            if not ok:
                raise StoreError(f"the user {allowed[0]} cannot {privilege} on {name} in "
                                 f"{self.location}; grant it, or {_HINT}")

    # --- transactions ------------------------------------------------------------------------

    def _connection(self) -> sa.Connection:
        if self._engine is None:
            raise StoreError(f"the store {self.location} is closed")
        return self._engine.connect()

    @contextmanager
    def _transaction(self, action: str, *, write: bool) -> Iterator[sa.Connection]:
        """One transaction: read committed with row locks to write; a snapshot to read."""
        try:
            with self._connection() as conn:
                if not write:
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"store {self.location}: cannot {action}: "
                             f"{_explain(e, self._secrets)}") from e

    def _unknown(self, conn: sa.Connection, run_id: int) -> UnknownNameError:
        newest = conn.execute(sa.select(sa.func.max(self._t.runs.c.id))).scalar()
        tail = f"newest is {newest}" if newest is not None else "the store is empty"
        return UnknownNameError(f"no run {run_id} in {self.location}; {tail}")

    def _lock_run(self, conn: sa.Connection, run_id: int) -> tuple[str, int]:
        """The run's status and device count, row-locked until the transaction ends."""
        runs = self._t.runs
        row = conn.execute(sa.select(runs.c.status, runs.c.n_devices)
                           .where(runs.c.id == run_id).with_for_update()).first()
        if row is None:
            raise self._unknown(conn, run_id)
        return str(row[0]), int(row[1])

    # --- writing -----------------------------------------------------------------------------

    def create_run(
        self, *, project: str, started_at: str, devices: Sequence[DeviceInfo], host: str = "",
        region: str | None = None, command: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Register a run in status ``running`` and return its id (see :class:`Store`)."""
        if not project:
            raise InvalidInputError("a run needs a non-empty project name")
        t = self._t
        values = {
            "project": project, "started_at": started_at,
            "started_s": parse_started_at(started_at), "status": "running",
            "host": host or socket.gethostname(), "pid": os.getpid(),
            "pid_created_s": process_created_s(), "region": region,
            "command": json.dumps(command) if command is not None else None,
            "extra": json.dumps(extra or {}), "n_devices": len(devices),
        }
        with self._transaction("create a run", write=True) as conn:
            run_id = int(conn.execute(
                t.runs.insert().values(**values).returning(t.runs.c.id)).scalar_one())
            if devices:
                conn.execute(t.devices.insert(), [
                    {"run_id": run_id, "position": i, "name": d.name, "kind": d.kind,
                     "provenance": Provenance(d.provenance).value,
                     "update_period_s": float(d.update_period_s), "node": d.node,
                     "rank": d.rank}
                    for i, d in enumerate(devices)])
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
        t = self._t
        with self._transaction("add samples", write=True) as conn:
            status, n_devices = self._lock_run(conn, run_id)
            if status != "running":
                raise InvalidInputError(
                    f"run {run_id} is {status}: samples can only be added to a running run")
            data = pack_samples(run_id, samples, n_devices)
            insert = pg_insert(t.samples).values(
                run_id=run_id, first_s=samples[0].time_s, count=len(samples), data=data)
            conn.execute(insert.on_conflict_do_update(
                index_elements=[t.samples.c.run_id, t.samples.c.first_s],
                set_={"count": insert.excluded.count, "data": insert.excluded.data}))
            with self._lock:
                count = self._counts.get(run_id)
            if count is None:
                count = int(conn.execute(
                    sa.select(sa.func.coalesce(sa.func.sum(t.samples.c.count), 0))
                    .where(t.samples.c.run_id == run_id)).scalar_one())
            else:
                count += len(samples)
            limit = self.max_samples_per_run
            if limit is not None and count > 2 * limit:
                count = self._downsample(conn, run_id, n_devices, limit)
            with self._lock:
                self._counts[run_id] = count

    def _downsample(self, conn: sa.Connection, run_id: int, n_devices: int,
                    keep: int | None) -> int:
        """Keep at most ``keep`` samples of a (row-locked) run, evenly spaced, in few rows."""
        samples = self._t.samples
        n_rows, total = tuple(conn.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(samples.c.count), 0))
            .where(samples.c.run_id == run_id)).one())
        if not needs_rewrite(int(n_rows), int(total), keep):
            return int(total)
        width = n_devices + 1
        values = thin(self._raw(conn, run_id, width), width, keep)
        conn.execute(samples.delete().where(samples.c.run_id == run_id))
        rows = chunk_rows(values, width)
        if rows:
            conn.execute(samples.insert(), [
                {"run_id": run_id, "first_s": first_s, "count": count, "data": data}
                for first_s, count, data in rows])
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
        t = self._t
        with self._transaction("finish a run", write=True) as conn:
            _, n_devices = self._lock_run(conn, run_id)
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(
                project=record.project, started_at=record.started_at, status=record.status,
                region=record.region, duration_s=record.duration_s, energy_j=record.energy_j,
                emissions_g=record.emissions_g, degraded=bool(record.degraded),
                record=document))
            conn.execute(t.phases.delete().where(t.phases.c.run_id == run_id))
            if record.phases:
                conn.execute(t.phases.insert(), [
                    {"run_id": run_id, "position": i, "name": p.name, "start_s": p.start_s,
                     "duration_s": p.duration_s, "energy_j": p.energy_j,
                     "device_energy_j": json.dumps(p.device_energy_j)}
                    for i, p in enumerate(record.phases)])
            self._downsample(conn, run_id, n_devices, self.max_samples_per_run)
        with self._lock:
            self._counts.pop(run_id, None)

    def downsample(self, run_id: int, keep: int = MAX_SAMPLES_PER_RUN) -> int:
        """Thin one run to at most ``keep`` samples now; returns how many remain."""
        with self._transaction("downsample a run", write=True) as conn:
            _, n_devices = self._lock_run(conn, run_id)
            count = self._downsample(conn, run_id, n_devices, keep)
        with self._lock:
            self._counts.pop(run_id, None)
        return count

    # --- reading -----------------------------------------------------------------------------

    def _devices(self, conn: sa.Connection, run_id: int) -> list[DeviceInfo]:
        d = self._t.devices
        rows = conn.execute(
            sa.select(d.c.name, d.c.kind, d.c.provenance, d.c.update_period_s, d.c.node,
                      d.c.rank).where(d.c.run_id == run_id).order_by(d.c.position))
        return [DeviceInfo(name=name, kind=kind, provenance=Provenance(prov),
                           update_period_s=period, node=node, rank=rank)
                for name, kind, prov, period, node, rank in rows]

    def _raw(self, conn: sa.Connection, run_id: int, width: int) -> array[float]:
        samples = self._t.samples
        rows = conn.execute(sa.select(samples.c.data).where(samples.c.run_id == run_id)
                            .order_by(samples.c.first_s))
        return unpack_samples((data for (data,) in rows), width)

    def _samples(self, conn: sa.Connection, run_id: int, n_devices: int) -> list[Sample]:
        width = n_devices + 1
        return values_to_samples(self._raw(conn, run_id, width), width)

    def _select_runs(self) -> sa.Select[Any]:
        r = self._t.runs
        return sa.select(r.c.id, r.c.project, r.c.started_at, r.c.started_s, r.c.host, r.c.pid,
                         r.c.pid_created_s, r.c.region, r.c.command, r.c.extra, r.c.record)

    def _record(self, conn: sa.Connection, row: Sequence[Any]) -> RunRecord:
        (run_id, project, started_at, started_s, host, pid, pid_created_s, region, command,
         extra, document) = row
        return record_from_row(
            run_id=int(run_id), project=project, started_at=started_at, started_s=started_s,
            host=host, pid=pid, pid_created_s=pid_created_s, region=region, command=command,
            extra=extra, document=document, devices=lambda: self._devices(conn, run_id),
            samples=lambda n: self._samples(conn, run_id, n))

    def get_run(self, run_id: int) -> RunRecord:
        """Return the run with this id (see :class:`Store`)."""
        with self._transaction("read a run", write=False) as conn:
            row = conn.execute(self._select_runs().where(self._t.runs.c.id == run_id)).first()
            if row is None:
                raise self._unknown(conn, run_id)
            return self._record(conn, row)

    def list_runs(self, *, limit: int = 50, project: str | None = None) -> list[RunRecord]:
        """Up to ``limit`` runs, newest first (see :class:`Store`)."""
        if limit < 1:
            raise InvalidInputError(f"limit must be >= 1, got {limit}")
        runs = self._t.runs
        query = self._select_runs().order_by(runs.c.id.desc()).limit(limit)
        if project is not None:
            query = query.where(runs.c.project == project)
        with self._transaction("list runs", write=False) as conn:
            return [self._record(conn, row) for row in conn.execute(query).all()]

    def samples(self, run_id: int) -> tuple[list[DeviceInfo], list[Sample]]:
        """Return a run's devices and samples in time order (see :class:`Store`)."""
        runs = self._t.runs
        with self._transaction("read samples", write=False) as conn:
            if conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                raise self._unknown(conn, run_id)
            devices = self._devices(conn, run_id)
            return devices, self._samples(conn, run_id, len(devices))

    def phases(self, run_id: int) -> list[PhaseRecord]:
        """Return the phases of a finished run, from the phases table, in order."""
        p = self._t.phases
        with self._transaction("read phases", write=False) as conn:
            rows = conn.execute(
                sa.select(p.c.name, p.c.start_s, p.c.duration_s, p.c.energy_j,
                          p.c.device_energy_j).where(p.c.run_id == run_id)
                .order_by(p.c.position))
            return [PhaseRecord(name=name, start_s=start_s, duration_s=duration_s,
                                energy_j=energy_j, device_energy_j=json.loads(per_device))
                    for name, start_s, duration_s, energy_j, per_device in rows]

    def close(self) -> None:
        """Close the connections (idempotent)."""
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()
