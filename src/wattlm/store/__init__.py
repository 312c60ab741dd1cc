"""The run store: SQLite by default, PostgreSQL by URL.

``open_store()`` opens the store that the settings name (``--db``, ``WATTLM_DB``, or
``~/.local/share/wattlm/runs.db``); see ``docs/methodology/store.md`` for the schema, flushing,
downsampling and concurrency.
"""

from __future__ import annotations

import os
import re

from wattlm.errors import StoreError
from wattlm.store.base import (
    MAX_RUN_ID,
    MAX_SAMPLES_PER_RUN,
    DamagedRunError,
    Store,
    StoreNotFoundError,
    select_evenly,
)

__all__ = ["MAX_RUN_ID", "MAX_SAMPLES_PER_RUN", "DamagedRunError", "Store",
           "StoreNotFoundError", "is_url", "open_store", "select_evenly"]

_URL_SCHEMES = ("postgresql://", "postgresql+", "postgres://")
_SQLITE_URL = "sqlite:///"
_ANY_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SUPPORTED = "supported: a file path, sqlite:///path, postgresql://user:password@host/dbname"


def is_url(target: str) -> bool:
    """Whether a store target is a PostgreSQL URL rather than an SQLite file path."""
    return target.lower().startswith(_URL_SCHEMES)


def open_store(target: str | os.PathLike[str] | None = None, *,
               read_only: bool = False) -> Store:
    """Open (creating if needed, unless ``read_only``) the run store.

    Args:
        target: ``None`` for the configured store (``WATTLM_DB`` or the ``db`` setting, else
            ``$XDG_DATA_HOME/wattlm/runs.db``, i.e. ``~/.local/share/wattlm/runs.db``); a
            ``postgresql://`` URL; ``sqlite:///path``; anything else without ``scheme://`` is
            an SQLite file path (parent directories are created). Other URLs are refused.
        read_only: open for reading only (``wattlm runs``, ``show``, ``report``, the
            dashboard): no write lock, nothing created, a missing store is an error.

    Returns:
        An open :class:`Store`; close it (or use it as a context manager) when done.

    Raises:
        StoreNotFoundError: ``read_only`` and no store exists there (nothing is created).
        StoreError: the store cannot be created or written (checked now, before any work), is
            not a wattlm store, has a newer schema, or the target is a URL of another kind
            (``mysql://``). The message names the location and says how to choose another
            (``--db PATH`` or ``WATTLM_DB``).
        MissingExtraError: a PostgreSQL URL without the ``wattlm[postgres]`` extra.
    """
    if target is None:
        from wattlm.config import resolve_settings

        target = resolve_settings().db_path
    text = os.fspath(target)
    if is_url(text):
        from wattlm.store.postgres import open_postgres

        return open_postgres(text, read_only=read_only)
    if text.lower().startswith(_SQLITE_URL):
        text = text[len(_SQLITE_URL):]  # as SQLAlchemy: sqlite:///rel.db, sqlite:////abs.db
        if not text.strip("/"):
            raise StoreError(f"the store URL {target!s} names no file; {_SUPPORTED}")
    elif _ANY_URL.match(text):
        from wattlm.store._url import redact_url

        raise StoreError(f"the store {redact_url(text)} is not a kind of store wattlm knows; "
                         f"{_SUPPORTED}")
    from wattlm.store.sqlite import SQLiteStore

    return SQLiteStore(text, read_only=read_only)
