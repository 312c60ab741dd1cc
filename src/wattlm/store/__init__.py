"""The run store: SQLite by default, PostgreSQL by URL.

``open_store()`` opens the store that the settings name (``--db``, ``WATTLM_DB``, or
``~/.local/share/wattlm/runs.db``); see ``docs/methodology/store.md`` for the schema, flushing,
downsampling and concurrency.
"""

from __future__ import annotations

import os

from wattlm.store.base import MAX_SAMPLES_PER_RUN, Store, select_evenly

__all__ = ["MAX_SAMPLES_PER_RUN", "Store", "is_url", "open_store", "select_evenly"]

_URL_SCHEMES = ("postgresql://", "postgresql+", "postgres://")


def is_url(target: str) -> bool:
    """Whether a store target is a PostgreSQL URL rather than an SQLite file path."""
    return target.lower().startswith(_URL_SCHEMES)


def open_store(target: str | os.PathLike[str] | None = None) -> Store:
    """Open (creating if needed) the run store.

    Args:
        target: ``None`` for the configured store (``WATTLM_DB`` or the ``db`` setting, else
            ``$XDG_DATA_HOME/wattlm/runs.db``, i.e. ``~/.local/share/wattlm/runs.db``); a
            ``postgresql://`` URL; anything else is an SQLite file path (parent directories
            are created).

    Returns:
        An open :class:`Store`; close it (or use it as a context manager) when done.

    Raises:
        StoreError: the store cannot be created or written (checked now, before any work), is
            not a wattlm store, or has a newer schema. The message names the location and says
            how to choose another (``--db PATH`` or ``WATTLM_DB``).
        MissingExtraError: a PostgreSQL URL without the ``wattlm[postgres]`` extra.
    """
    if target is None:
        from wattlm.config import resolve_settings

        target = resolve_settings().db_path
    text = os.fspath(target)
    if is_url(text):
        from wattlm.store.postgres import open_postgres

        return open_postgres(text)
    from wattlm.store.sqlite import SQLiteStore

    return SQLiteStore(text)
