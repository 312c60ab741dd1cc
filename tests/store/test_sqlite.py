from __future__ import annotations

import importlib.util
import os
import shutil
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.store._helpers import DEVICES, STARTED_AT, finished_record, ramp
from wattlm.errors import InvalidInputError, MissingExtraError, StoreError
from wattlm.store import StoreNotFoundError, open_store, select_evenly
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




DATA = Path(__file__).parent / "data"


def test_a_real_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    shutil.copyfile(DATA / "runs-v1.db", path)  # made by data/make_v1_store.py at schema 1
    with SQLiteStore(path, read_only=True) as reader:  # a reader never upgrades
        assert [r.id for r in reader.list_runs()] == [2, 1]
        assert reader.get_run(1).devices[0].model == "NVIDIA H100 80GB HBM3"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1
    before = SQLiteStore(path, read_only=True).get_run(1).to_dict()
    with SQLiteStore(path) as store:  # a writer upgrades
        finished, crashed = store.get_run(1), store.get_run(2)
        assert finished.to_dict() == before
        assert [d.model for d in finished.devices] == ["NVIDIA H100 80GB HBM3",
                                                       "Intel Xeon Platinum 8480+"]
        assert [p.name for p in store.phases(1)] == ["train"]
        assert crashed.status == "interrupted"  # its writer was SIGKILLed
        assert crashed.devices[0].model is None  # schema 1 never stored it: unknown, not guessed
        assert len(store.samples(2)[1]) == 55
        summary = {r.id: r for r in store.list_summaries()}[1]
        assert (summary.provenance, summary.exit_code) == (finished.provenance, None)
        run_id = store.create_run(project="new", started_at=STARTED_AT, devices=[
            replace(DEVICES[0], model="NVIDIA A100-SXM4-40GB")])
        assert run_id == 3 and store.get_run(3).devices[0].model == "NVIDIA A100-SXM4-40GB"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        columns = {r[1] for r in conn.execute("PRAGMA table_info(devices)")}
        assert "model" in columns
    finally:
        conn.close()


def test_other_urls_are_refused_and_sqlite_urls_accepted(tmp_path: Path) -> None:
    for url in ("mysql://me:secret@db/runs", "http://x/runs.db", "sqlite://relative.db"):
        with pytest.raises(StoreError, match="supported: a file path, sqlite:///path, "
                           "postgresql://") as info:
            open_store(url)
        assert "secret" not in str(info.value)
    assert not Path("mysql:").exists() and not Path("http:").exists()
    with open_store(f"sqlite:///{tmp_path}/via-url.db") as store:
        assert store.location == str(tmp_path / "via-url.db")
    assert (tmp_path / "via-url.db").exists()


def test_reading_a_mistyped_path_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "dir" / "runs.db"
    with pytest.raises(StoreNotFoundError, match=f"no store at {missing}"):
        open_store(missing, read_only=True)
    assert not (tmp_path / "typo").exists()


def test_a_store_on_a_read_only_directory_can_be_read(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "runs.db"
    with open_store(path) as store:
        run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        store.finish_run(finished_record(run_id))
    for extra in ("runs.db-wal", "runs.db-shm"):
        assert not (folder / extra).exists()  # closed cleanly: no -shm to read through
    # root ignores permission bits, so make the directory unwritable with an immutable mount
    # when possible, and otherwise prove the fallback itself (immutable=1) reads the file
    mounted = _read_only_bind(folder)
    try:
        with open_store(path, read_only=True) as reader:
            assert reader.get_run(run_id).to_dict() == finished_record(run_id).to_dict()
            if mounted:
                assert getattr(reader._d, "immutable", False)  # noqa: SLF001
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=False)


def _read_only_bind(folder: Path) -> bool:
    """Bind-mount ``folder`` read-only onto itself (root, Linux); False if not possible."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    first = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True,
                           check=False)
    if first.returncode != 0:
        return False
    again = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True,
                           check=False)
    if again.returncode != 0:
        subprocess.run(["umount", str(folder)], check=False)
        return False
    return True


def test_only_store_errors_cross_the_interface(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    store = SQLiteStore(path, busy_timeout_s=0.2)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock too long
    try:
        with pytest.raises(StoreError, match="cannot add samples: database is locked"):
            store.add_samples(run_id, ramp(3))
        with pytest.raises(StoreError, match="cannot downsample a run: database is locked"):
            store.downsample(run_id)
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.add_samples(run_id, ramp(3))  # the retry succeeds
    assert store.samples(run_id)[1] == ramp(3)
    store.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        open_store(junk, read_only=True)
    (tmp_path / "adir").mkdir()
    with pytest.raises(StoreError, match="is a directory"):
        open_store(tmp_path / "adir", read_only=True)
