"""PostgreSQL run store (``postgresql://`` URLs), through SQLAlchemy: ``wattlm[postgres]``.

Not implemented in this version: opening a ``postgresql://`` URL raises a clear error before
any work starts (``MissingExtraError`` when SQLAlchemy is absent, ``StoreError`` otherwise), so
a tracked job never runs with nowhere to save it. Use an SQLite file (``--db PATH``); several
processes, even on several machines sharing a local file system, can write one SQLite store.
"""

from __future__ import annotations

import importlib.util
import re

from wattlm.errors import MissingExtraError, StoreError
from wattlm.store.base import Store

__all__ = ["open_postgres", "redact_url"]


def redact_url(url: str) -> str:
    """Return the URL with any password replaced by ``***`` (for messages)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def open_postgres(url: str) -> Store:
    """Open a PostgreSQL store; in this version, explain why that is not possible.

    Raises:
        MissingExtraError: SQLAlchemy is not installed (``pip install 'wattlm[postgres]'``).
        StoreError: SQLAlchemy is installed, but this version has no PostgreSQL store yet.
    """
    if importlib.util.find_spec("sqlalchemy") is None:
        raise MissingExtraError("sqlalchemy", "postgres", "a PostgreSQL store")
    raise StoreError(
        f"cannot open {redact_url(url)}: this version of wattlm stores runs in SQLite only; "
        "give a file path with --db PATH or WATTLM_DB")
