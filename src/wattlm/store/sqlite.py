"""The default run store: one SQLite file (standard library only).

The file is in WAL mode with ``synchronous=NORMAL``: a committed transaction survives the
death of the writing process (SIGKILL included); a power cut can lose the last commits but never
corrupts the file. Every write is one short ``BEGIN IMMEDIATE`` transaction and the connection
waits up to ``busy_timeout_s`` for the write lock, so several processes can write one store.
A store opened read-only (``mode=ro``) never takes the write lock, never creates a file or a
directory, and is read even on a read-only mount. Before each write the file's device, inode
and ``-wal`` file are checked (see :mod:`wattlm.store._relocate`). The schema is versioned with
``PRAGMA user_version``; see ``docs/methodology/store.md``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wattlm.errors import StoreError
from wattlm.store.base import MAX_SAMPLES_PER_RUN, StoreNotFoundError
from wattlm.store.dialect import Cursor, Dialect, Params, StoreMovedError
from wattlm.store.schema import SCHEMA_VERSION, SQLITE_VERSION_1, upgrade
from wattlm.store.sql import SQLStore

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

_log = logging.getLogger(__name__)

_HINT = "choose another location with --db PATH or the WATTLM_DB environment variable"


class _Cursor(Cursor):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params or {}).fetchall()

    def stream(self, sql: str, params: Params | None = None) -> Iterator[tuple[Any, ...]]:
        yield from self._conn.execute(sql, params or {})

    def run(self, sql: str, params: Params | None = None) -> None:
        self._conn.execute(sql, params or {})

    def many(self, sql: str, params: Sequence[Params]) -> None:
        if params:
            self._conn.executemany(sql, params)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


class _SQLiteDialect(Dialect):
    """One SQLite connection, shared by the threads of this process (under the store's lock)."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float,
                 read_only: bool) -> None:
        self.memory = str(path) == ":memory:"
        self.path = Path(path) if self.memory else Path(path).expanduser()
        self.location = str(self.path)
        self.read_only = read_only
        self.immutable = False
        self._emptied = False
        self._timeout_s = busy_timeout_s
        self._retired: list[sqlite3.Connection] = []
        self._conn: sqlite3.Connection | None = None
        if read_only and not self.memory:
            self._conn = self._open_read_only()
        else:
            self._conn = self._open_for_writing()
        self._remember()

    # --- opening -----------------------------------------------------------------------------

    def _open_for_writing(self) -> sqlite3.Connection:
        if not self.memory:
            self._check_location()
        try:
            conn = sqlite3.connect(self.location, timeout=self._timeout_s, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the store {self.location}: {e}; {_HINT}") from e
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

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

    def _open_read_only(self) -> sqlite3.Connection:
        if not self.path.exists():
            raise StoreNotFoundError(
                f"no store at {self.location}: no runs yet, nothing has been measured into it "
                f"(is the path mistyped?); {_HINT}")
        if self.path.is_dir():
            raise StoreError(f"the store {self.location} is a directory, not a file; {_HINT}")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            conn = self._connect_checked(uri)
        except sqlite3.OperationalError as e:
            # a read-only directory or mount: no -shm can be made; read the file as it is
            _log.info("store %s: read-only open failed (%s); reading it as immutable",
                      self.location, e)
            self.immutable = True
            try:
                conn = self._connect_checked(uri + "&immutable=1")
            except sqlite3.Error as e2:
                raise StoreError(f"cannot read the store {self.location}: {e2}; {_HINT}") from e2
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot read the store {self.location}: {e} (is it a wattlm "
                             f"store?); {_HINT}") from e
        try:
            self._check_version(conn, read_only=True)
        except sqlite3.Error as e:
            conn.close()
            raise StoreError(f"cannot read the store {self.location}: {e}; {_HINT}") from e
        except BaseException:
            conn.close()
            raise
        return conn

    def _connect_checked(self, uri: str) -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=self._timeout_s, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_version(self, conn: sqlite3.Connection, *, read_only: bool) -> int:
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
            if read_only:
                raise StoreNotFoundError(f"the store {self.location} is empty: no runs yet, "
                                         f"nothing has been measured into it; {_HINT}")
        self.version = version
        return version

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
            version = self._check_version(conn, read_only=False)
            cur = _Cursor(conn)
            if version == 0:
                for statement in SQLITE_VERSION_1:
                    cur.run(statement)
            if version < SCHEMA_VERSION:
                upgrade(cur, "", max(version, 1))
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
            self.version = SCHEMA_VERSION
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise StoreError(
                    f"cannot create the schema of the store {self.location}: {e}; {_HINT}") from e
            raise

    # --- the file under watch ------------------------------------------------------------------

    def _remember(self) -> None:
        if self.memory or self.read_only:
            self._ident = self._wal = self._shm = None
            self._had_size = False
            return
        self._ident = _identity(self.path)
        self._wal = _identity(Path(f"{self.path}-wal"))
        self._shm = _identity(Path(f"{self.path}-shm"))
        with suppress(OSError):
            self._had_size = self.path.stat().st_size > 0

    def check_in_place(self) -> None:
        """The file must be the one opened: same device and inode, its -wal, not emptied."""
        if self.memory or self.read_only:
            return
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise StoreMovedError("was deleted") from None
        except OSError as e:
            raise StoreMovedError(f"cannot be reached ({e.strerror or e})") from e
        if (st.st_dev, st.st_ino) != self._ident:
            raise StoreMovedError("was replaced by another file")
        if st.st_size == 0 and self._had_size:
            self._emptied = True
            raise StoreMovedError("was emptied (truncated to 0 bytes)", same_file=True)
        if self._wal is not None and _identity(Path(f"{self.path}-wal")) != self._wal:
            raise StoreMovedError("lost its -wal file (deleted or replaced)")

    def reopen(self) -> None:
        """Open (recreating) the store at its path; the old connection is retired."""
        old = self._conn
        if self._emptied:  # the old connection keeps the emptied inode; start a new file
            with suppress(OSError):
                self.path.unlink()
            self._emptied = False
        # the old file's -wal must never be replayed into the new one: remove the -wal and
        # -shm that are the old connection's (it keeps them open), or all if there is no file
        fresh = not self.path.exists()
        for suffix, known in (("-wal", self._wal), ("-shm", self._shm)):
            name = Path(f"{self.path}{suffix}")
            if fresh or (known is not None and _identity(name) == known):
                with suppress(OSError):
                    name.unlink()
        conn = self._open_for_writing()
        if old is not None:
            self._retired.append(old)
        self._conn = conn
        self._remember()

    def fallback_dir(self) -> Path | None:
        """The store's directory, if it still exists."""
        parent = self.path.parent
        return parent if not self.memory and parent.is_dir() else None

    # --- transactions ------------------------------------------------------------------------

    @contextmanager
    def transaction(self, action: str, *, write: bool) -> Iterator[Cursor]:
        """``BEGIN IMMEDIATE`` to write; a deferred read snapshot otherwise."""
        if self._conn is None:
            raise StoreError(f"the store {self.location} is closed")
        if write and self.read_only:
            raise StoreError(f"the store {self.location} was opened read-only: cannot {action}")
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield _Cursor(conn)
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(e, (sqlite3.Error, OverflowError)):
                raise StoreError(f"store {self.location}: cannot {action}: {e}") from e
            raise
        if write and not self.memory:
            self._wal = _identity(Path(f"{self.path}-wal"))
            self._shm = _identity(Path(f"{self.path}-shm"))
            if not self._had_size:
                with suppress(OSError):
                    self._had_size = self.path.stat().st_size > 0

    def after_release(self) -> None:
        """Give pages freed by downsampling back to the file system (best effort)."""
        if self._conn is None or self.read_only:
            return
        try:
            # executescript steps the pragma to completion (execute frees one page)
            self._conn.executescript("PRAGMA incremental_vacuum;")
        except sqlite3.Error as e:  # busy: another writer; next time
            _log.debug("store %s: incremental vacuum skipped: %s", self.location, e)

    def close(self) -> None:
        """Close the connection, then any retired one without touching the new -wal/-shm."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        for old in self._retired:
            _close_retired(old, self.path)
        self._retired.clear()


def _close_retired(conn: sqlite3.Connection, path: Path) -> None:
    """Close a connection to a deleted store file without harming the recreated one.

    SQLite unlinks ``-wal``/``-shm`` *by name* when it closes, and those names now belong to
    the recreated store, so they are moved aside meanwhile.
    """
    aside = []
    for suffix in ("-wal", "-shm"):
        name = Path(f"{path}{suffix}")
        moved = Path(f"{path}{suffix}.wattlm-aside")
        with suppress(OSError):
            name.rename(moved)
            aside.append((moved, name))
    try:
        conn.close()
    finally:
        for moved, name in aside:
            with suppress(OSError):
                moved.rename(name)


class SQLiteStore(SQLStore):
    """A :class:`~wattlm.store.base.Store` in one SQLite file.

    Args:
        path: the database file (parent directories are created unless ``read_only``), or
            ``":memory:"``.
        max_samples_per_run: samples kept per run after downsampling (a running run is thinned
            back to this when it passes twice as many); ``None`` disables downsampling.
        busy_timeout_s: how long a write waits for another process's transaction.
        read_only: open for reading only: no write lock, nothing created, a version-1 store
            read as it is (not upgraded); works on a read-only file or mount.

    Raises:
        StoreNotFoundError: ``read_only`` and there is no store at ``path``.
        StoreError: the file cannot be created or written, is not a wattlm store, or has a
            newer schema than this wattlm understands. Nothing is written in that case.
    """

    def __init__(
        self, path: str | os.PathLike[str], *,
        max_samples_per_run: int | None = MAX_SAMPLES_PER_RUN, busy_timeout_s: float = 30.0,
        read_only: bool = False,
    ) -> None:
        if max_samples_per_run is not None and max_samples_per_run < 2:
            from wattlm.errors import InvalidInputError

            raise InvalidInputError(
                f"max_samples_per_run must be >= 2 or None, got {max_samples_per_run}")
        dialect = _SQLiteDialect(path, busy_timeout_s=busy_timeout_s, read_only=read_only)
        self.path = dialect.path
        super().__init__(dialect, max_samples_per_run=max_samples_per_run)
