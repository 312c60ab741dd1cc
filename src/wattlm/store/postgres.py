"""PostgreSQL run store (``postgresql://`` URLs), on SQLAlchemy Core: ``wattlm[postgres]``.

A team points every job at one database: ``--db postgresql://user:password@host/dbname`` or
``WATTLM_DB``. The store lives in its own PostgreSQL schema (``wattlm`` unless the URL says
``?schema=NAME``), so it can share a database with other tables. Tables, packed samples,
downsampling and the rebuilding of unfinished runs are those of the SQLite store: the algorithm
is :class:`~wattlm.store.sql.SQLStore`, this module only its dialect (connections, the row
lock, the schema); see ``docs/methodology/store.md``.

This is the only module that imports SQLAlchemy (and, through it, psycopg); importing it
without them raises :class:`~wattlm.errors.MissingExtraError`.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

from wattlm.errors import InvalidInputError, MissingExtraError, StoreError
from wattlm.store._url import redact_url
from wattlm.store.base import MAX_SAMPLES_PER_RUN, StoreNotFoundError
from wattlm.store.dialect import Cursor, Dialect, Params
from wattlm.store.schema import SCHEMA_VERSION, upgrade
from wattlm.store.sql import SQLStore

try:
    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import insert as pg_insert
except ImportError as _error:  # pragma: no cover - depends on the environment
    raise MissingExtraError("sqlalchemy", "postgres", "a PostgreSQL store") from _error

__all__ = ["DEFAULT_SCHEMA", "SCHEMA_VERSION", "PostgresStore", "open_postgres", "redact_url"]

#: the PostgreSQL schema (namespace) that holds the store unless the URL has ``?schema=NAME``
DEFAULT_SCHEMA = "wattlm"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_HINT = "check the URL given with --db or WATTLM_DB (user, password, host, port, database)"


def open_postgres(url: str, *, read_only: bool = False) -> PostgresStore:
    """Open (creating its schema if needed) the PostgreSQL store at ``url``.

    Raises:
        MissingExtraError: SQLAlchemy or psycopg is not installed
            (``pip install 'wattlm[postgres]'``).
        StoreError: the URL is malformed, the server cannot be reached, the login fails, the
            schema is not a wattlm store or is newer, or the user cannot write it.
    """
    return PostgresStore(url, read_only=read_only)


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


class _Cursor(Cursor):
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._conn.execute(sa.text(sql), dict(params or {}))]

    def stream(self, sql: str, params: Params | None = None) -> Iterator[tuple[Any, ...]]:
        for row in self._conn.execute(sa.text(sql), dict(params or {})):
            yield tuple(row)

    def run(self, sql: str, params: Params | None = None) -> None:
        self._conn.execute(sa.text(sql), dict(params or {}))

    def many(self, sql: str, params: Sequence[Params]) -> None:
        if params:
            self._conn.execute(sa.text(sql), [dict(p) for p in params])


class _PostgresDialect(Dialect):
    """A small SQLAlchemy connection pool on one schema of one database."""

    lock_clause = " FOR UPDATE"

    def __init__(self, url: str, *, connect_timeout_s: float, lock_timeout_s: float,
                 read_only: bool) -> None:
        self.location = redact_url(url)
        self.read_only = read_only
        engine_url, schema = self._parse(url)
        password = engine_url.password
        self.secrets = tuple({str(password), quote(str(password), safe=""),
                              quote_plus(str(password))}) if password else ()
        self.tables = _Tables(schema)
        self.schema = schema
        self.prefix = f"{schema}."
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
                             f"{_explain(e, self.secrets)}; {_HINT}") from e
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
        """Check (and, to write, create or upgrade) the schema in one transaction."""
        t = self.tables
        try:
            with self._connect() as conn, conn.begin():
                if not self.read_only:
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
                        sa.func.hashtext(f"wattlm store {t.schema}"))))
                exists = conn.execute(sa.text(
                    "SELECT 1 FROM pg_namespace WHERE nspname = :name"),
                    {"name": t.schema}).first() is not None
                version = self._version(conn) if exists else 0
                self._check_version(conn, exists, version)
                self.version = version
                if self.read_only:
                    return
                if not exists:
                    conn.execute(sa.schema.CreateSchema(t.schema))
                if version == 0:
                    t.create_version_1(conn)
                if version < SCHEMA_VERSION:
                    upgrade(_Cursor(conn), self.prefix, max(version, 1))
                    upsert = pg_insert(t.meta).values(key="schema_version",
                                                      value=str(SCHEMA_VERSION))
                    conn.execute(upsert.on_conflict_do_update(
                        index_elements=[t.meta.c.key], set_={"value": upsert.excluded.value}))
                self.version = SCHEMA_VERSION
                self._check_writable(conn)
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"cannot open the store {self.location}: "
                             f"{_explain(e, self.secrets)}; {_HINT}") from e

    def _check_version(self, conn: sa.Connection, exists: bool, version: int) -> None:
        t = self.tables
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
        if version == 0 and self.read_only:
            raise StoreNotFoundError(f"no wattlm store in schema {t.schema} of {self.location}:"
                                     " no runs yet, nothing has been measured into it; " + _HINT)

    def _version(self, conn: sa.Connection) -> int:
        t = self.tables
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
        checks = [(f"{self.tables.schema}.{table.name}", privilege)
                  for table in self.tables.written
                  for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")]
        allowed = conn.execute(sa.select(
            sa.func.current_user(),
            *(sa.func.has_table_privilege(name, privilege) for name, privilege in checks))).one()
        for (name, privilege), ok in zip(checks, allowed[1:], strict=True):
            if not ok:
                raise StoreError(f"the user {allowed[0]} cannot {privilege} on {name} in "
                                 f"{self.location}; grant it, or {_HINT}")

    def _connect(self) -> sa.Connection:
        if self._engine is None:
            raise StoreError(f"the store {self.location} is closed")
        return self._engine.connect()

    @contextmanager
    def transaction(self, action: str, *, write: bool) -> Iterator[Cursor]:
        """Read committed with row locks to write; a read-only snapshot to read."""
        if write and self.read_only:
            raise StoreError(f"the store {self.location} was opened read-only: cannot {action}")
        try:
            with self._connect() as conn:
                if not write:
                    conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                                  postgresql_readonly=True)
                with conn.begin():
                    yield _Cursor(conn)
        except sa.exc.SQLAlchemyError as e:
            raise StoreError(f"store {self.location}: cannot {action}: "
                             f"{_explain(e, self.secrets)}") from e

    def close(self) -> None:
        """Close the connections (idempotent)."""
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()


class PostgresStore(SQLStore):
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
        read_only: read only: nothing is created or upgraded, read-only transactions.

    Raises:
        MissingExtraError: the URL's driver (psycopg) is not installed.
        StoreNotFoundError: ``read_only`` and the schema holds no wattlm store.
        StoreError: checked now, before any work: the URL is malformed, the server cannot be
            reached, the login fails, the schema is not a wattlm store or has a newer version,
            or the user cannot create or write the tables. The password never appears.
    """

    def __init__(
        self, url: str, *, max_samples_per_run: int | None = MAX_SAMPLES_PER_RUN,
        connect_timeout_s: float = 10.0, lock_timeout_s: float = 30.0, read_only: bool = False,
    ) -> None:
        if max_samples_per_run is not None and max_samples_per_run < 2:
            raise InvalidInputError(
                f"max_samples_per_run must be >= 2 or None, got {max_samples_per_run}")
        dialect = _PostgresDialect(url, connect_timeout_s=connect_timeout_s,
                                   lock_timeout_s=lock_timeout_s, read_only=read_only)
        self.schema = dialect.schema
        super().__init__(dialect, max_samples_per_run=max_samples_per_run)
