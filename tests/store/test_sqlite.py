from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path

import pytest

from wattlm.errors import InvalidInputError, MissingExtraError, StoreError
from wattlm.store import open_store, select_evenly
from wattlm.store.sqlite import SCHEMA_VERSION, SQLiteStore


def test_schema_created_with_wal_and_version(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "runs.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"runs", "devices", "phases", "samples"} <= tables
    finally:
        conn.close()


def test_open_store_default_uses_wattlm_db(tmp_path: Path) -> None:
    store = open_store()  # conftest points WATTLM_DB at tmp_path / "runs.db"
    try:
        assert store.location == str(tmp_path / "runs.db")
        assert (tmp_path / "runs.db").exists()
    finally:
        store.close()


def test_select_evenly_keeps_ends_and_spacing() -> None:
    times = [float(t) for t in range(10_001)]
    kept = select_evenly(times, 101)
    assert kept == list(range(0, 10_001, 100))  # exactly the grid when samples lie on it
    irregular = sorted({(i * 7919) % 10_007 / 3.0 for i in range(3000)})
    kept = select_evenly(irregular, 50)
    assert kept[0] == 0 and kept[-1] == len(irregular) - 1
    assert len(kept) <= 50 and kept == sorted(set(kept))
    assert select_evenly([1.0, 2.0], 5) == [0, 1]
    with pytest.raises(InvalidInputError):
        select_evenly(times, 1)


def test_parent_is_a_file_raises_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=r"not-a-dir is a file.*--db PATH or .*WATTLM_DB"):
        open_store(blocker / "sub" / "runs.db")
    assert blocker.read_text() == "x"


def test_bad_targets_raise_store_error(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    with pytest.raises(StoreError, match="is a directory"):
        open_store(tmp_path / "adir")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        open_store(junk)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a wattlm store"):
        open_store(other)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 99 .* up to 2: upgrade wattlm"):
        open_store(path)


def test_postgres_url_fails_clearly() -> None:
    # nothing listens on port 1: StoreError with the extra, MissingExtraError without it
    expected = StoreError if importlib.util.find_spec("sqlalchemy") else MissingExtraError
    with pytest.raises(expected) as info:
        open_store("postgresql://me:secret@127.0.0.1:1/runs")
    assert "secret" not in str(info.value)


