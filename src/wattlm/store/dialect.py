"""The few primitives a SQL backend provides to :class:`~wattlm.store.sql.SQLStore`.

Statements are written once, in the SQL that SQLite and PostgreSQL share, with ``:name``
parameters and ``{p}`` before every table name (the dialect's ``prefix``: ``""`` for SQLite,
``"schema."`` for PostgreSQL). A dialect runs them in transactions, turns its driver's errors
into :class:`~wattlm.errors.StoreError`, and says whether the store it opened is still there.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from wattlm.errors import StoreError

__all__ = ["Cursor", "Dialect", "StoreMovedError"]

Params = Mapping[str, Any]


class StoreMovedError(StoreError):
    """The store file is no longer the one that was opened (deleted, replaced or emptied)."""

    def __init__(self, message: str, *, same_file: bool = False) -> None:
        super().__init__(message)
        #: whether the old connection still sees the same file (emptied in place)
        self.same_file = same_file


class Cursor(abc.ABC):
    """Statements inside one transaction."""

    @abc.abstractmethod
    def rows(self, sql: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        """All rows of a query."""

    @abc.abstractmethod
    def stream(self, sql: str, params: Params | None = None) -> Iterator[tuple[Any, ...]]:
        """The rows of a query, one at a time."""

    @abc.abstractmethod
    def run(self, sql: str, params: Params | None = None) -> None:
        """A statement without rows."""

    @abc.abstractmethod
    def many(self, sql: str, params: Sequence[Params]) -> None:
        """One statement for each parameter set (nothing when there are none)."""

    def one(self, sql: str, params: Params | None = None) -> tuple[Any, ...] | None:
        """The first row of a query, or ``None``."""
        for row in self.stream(sql, params):
            return row
        return None


class Dialect(abc.ABC):
    """One open connection (or pool) to a store, and what differs between backends."""

    #: where the store is, for messages (a path, or a URL without its password)
    location: str
    #: written before every table name
    prefix: str = ""
    #: appended to a ``SELECT`` that must lock the run's row until the transaction ends
    lock_clause: str = ""
    #: the store was opened for reading only
    read_only: bool = False
    #: the schema version of the store as opened (older versions are read, never written)
    version: int = 0

    @abc.abstractmethod
    def transaction(self, action: str, *, write: bool) -> AbstractContextManager[Cursor]:
        """One transaction: the write lock when ``write``, a read snapshot otherwise.

        Raises:
            StoreError: the driver failed (``action`` is named in the message), or the store
                is read-only and ``write`` is asked.
        """

    def check_in_place(self) -> None:
        """Raise :class:`StoreMovedError` if the store is no longer the one that was opened."""
        return None

    def reopen(self) -> None:
        """Open the store at its location again (created if missing).

        The old connection stays readable until :meth:`close`.

        Raises:
            StoreError: it cannot be opened or created.
        """
        raise StoreError(f"the store {self.location} cannot be reopened")

    def fallback_dir(self) -> Path | None:
        """Where a run that cannot be stored is written as JSON (``None``: the working dir)."""
        return None

    def after_release(self) -> None:
        """Give freed space back after samples were deleted (best effort)."""
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """Release every connection (idempotent)."""
