from __future__ import annotations

import importlib.util
import json
import math
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.store._helpers import DEVICES, STARTED_AT, T0, finished_record, ramp
from wattlm.errors import InvalidInputError, MissingExtraError, StoreError, UnknownNameError
from wattlm.records import RunRecord, Sample
from wattlm.store import open_store, select_evenly
from wattlm.store.sqlite import SCHEMA_VERSION, SQLiteStore
from wattlm.units import Provenance


def test_schema_created_with_wal_and_version(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "runs.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
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


def test_finished_run_round_trips(tmp_path: Path) -> None:
    with open_store(tmp_path / "r.db") as store:
        run_id = store.create_run(project="bert", started_at=STARTED_AT, devices=DEVICES,
                                  region="FR", command=["python", "train.py"])
        store.add_samples(run_id, ramp(100))
        record = finished_record(run_id)
        store.finish_run(record)
        back = store.get_run(run_id)
        assert back.to_dict() == record.to_dict()
        assert json.loads(json.dumps(back.to_dict()))["id"] == run_id
        assert isinstance(store, SQLiteStore)
        assert [p.name for p in store.phases(run_id)] == ["train", "train/epoch-1"]
    with open_store(tmp_path / "r.db") as again:  # reopened: still there
        assert again.get_run(run_id).to_dict() == record.to_dict()


def test_running_run_is_rebuilt_from_last_sample(tmp_path: Path) -> None:
    with open_store(tmp_path / "r.db") as store:
        run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        # 300 W and 50 W for 9 s, then 600 W / 50 W for one second (the peak)
        samples = ramp(10) + [Sample(T0 + 10, (300.0 * 9 + 600.0, 50.0 * 10))]
        store.add_samples(run_id, samples)
        record = store.get_run(run_id)
    assert record.status == "running"  # this process is the writer, alive
    assert record.degraded and record.warnings[0].startswith("W305")
    assert record.duration_s == pytest.approx(10.0)
    assert [d.energy_j for d in record.devices] == [3300.0, 500.0]
    assert record.energy_j == pytest.approx(3800.0)
    assert record.devices[0].mean_power_w == pytest.approx(330.0)
    assert record.devices[0].peak_power_w == pytest.approx(600.0)
    assert record.peak_power_w == pytest.approx(650.0)
    assert record.provenance is Provenance.MODELLED  # weakest of measured + modelled
    assert record.devices[1].node == "n1" and record.devices[1].rank == 0


def test_unknown_run_names_the_newest(tmp_path: Path) -> None:
    with open_store(tmp_path / "r.db") as store:
        with pytest.raises(UnknownNameError, match=r"no run 42 in .*r\.db; the store is empty"):
            store.get_run(42)
        run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        with pytest.raises(UnknownNameError, match=rf"no run 42 in .*; newest is {run_id}"):
            store.get_run(42)
        with pytest.raises(UnknownNameError):
            store.samples(42)
        with pytest.raises(UnknownNameError):
            store.add_samples(42, ramp(1))
        with pytest.raises(UnknownNameError):
            store.finish_run(RunRecord(id=42, project="p", started_at="", duration_s=0,
                                       energy_j=0))


def test_list_runs_newest_first_with_filters(tmp_path: Path) -> None:
    with open_store(tmp_path / "r.db") as store:
        ids = [store.create_run(project=p, started_at=STARTED_AT, devices=DEVICES)
               for p in ("a", "b", "a", "a")]
        assert [r.id for r in store.list_runs()] == ids[::-1]
        assert [r.id for r in store.list_runs(project="a", limit=2)] == [ids[3], ids[2]]
        assert store.list_runs(project="nope") == []
        with pytest.raises(InvalidInputError):
            store.list_runs(limit=0)


def test_bad_samples_are_rejected_whole(tmp_path: Path) -> None:
    with open_store(tmp_path / "r.db") as store:
        run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        store.add_samples(run_id, ramp(3))
        with pytest.raises(InvalidInputError, match="2 devices but the sample at .* has 3"):
            store.add_samples(run_id, [*ramp(2, start=3), Sample(T0 + 9, (1.0, 2.0, 3.0))])
        with pytest.raises(InvalidInputError, match="non-finite"):
            store.add_samples(run_id, [Sample(T0 + 9, (math.nan, 1.0))])
        _, stored = store.samples(run_id)
        assert [s.time_s - T0 for s in stored] == [0.0, 1.0, 2.0]  # nothing of either batch
        store.finish_run(RunRecord(id=run_id, project="p", started_at=STARTED_AT,
                                   duration_s=2.0, energy_j=700.0))
        with pytest.raises(InvalidInputError, match="is finished"):
            store.add_samples(run_id, ramp(1, start=5))
        with pytest.raises(InvalidInputError, match="id is set"):
            store.finish_run(RunRecord(id=None, project="p", started_at="", duration_s=0,
                                       energy_j=0))


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


def test_finish_downsamples_keeping_totals_exactly(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.db", max_samples_per_run=100)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    power = (301.7, 49.3)
    for start in range(0, 1000, 50):  # 1000 samples; in-flight thinning keeps <= 200 rows
        store.add_samples(run_id, ramp(50, start=start, interval_s=0.37, power_w=power))
        assert len(store.samples(run_id)[1]) <= 200
    last = ramp(1, start=999, interval_s=0.37, power_w=power)[0]
    before = store.get_run(run_id)
    assert [d.energy_j for d in before.devices] == list(last.energy_j)  # exact, not approx
    store.finish_run(RunRecord(id=run_id, project="p", started_at=STARTED_AT,
                               duration_s=999 * 0.37, energy_j=sum(last.energy_j)))
    _, kept = store.samples(run_id)
    assert 2 < len(kept) <= 100
    assert kept[0].time_s == T0 and kept[-1] == last  # first and last survive, bit for bit
    gaps = [b.time_s - a.time_s for a, b in zip(kept, kept[1:], strict=False)]
    assert max(gaps) <= 2.5 * (999 * 0.37) / 99  # evenly spread, not bunched
    store.close()


def test_downsampling_bounds_rows_of_a_long_run(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.db", max_samples_per_run=50)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    for start in range(0, 20_000, 10):  # a "week" of flushes of 10 samples
        store.add_samples(run_id, ramp(10, start=start))
    conn = sqlite3.connect(tmp_path / "r.db")
    try:
        rows, total = conn.execute("SELECT count(*), sum(count) FROM samples").fetchone()
    finally:
        conn.close()
    assert total <= 100 and rows <= 100
    assert store.get_run(run_id).devices[0].energy_j == 300.0 * 19_999
    store.close()


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
    with pytest.raises(StoreError, match="schema version 99 .* up to 1: upgrade wattlm"):
        open_store(path)


def test_postgres_url_fails_clearly() -> None:
    # nothing listens on port 1: StoreError with the extra, MissingExtraError without it
    expected = StoreError if importlib.util.find_spec("sqlalchemy") else MissingExtraError
    with pytest.raises(expected) as info:
        open_store("postgresql://me:secret@127.0.0.1:1/runs")
    assert "secret" not in str(info.value)


def test_closed_store_raises(tmp_path: Path) -> None:
    store = open_store(tmp_path / "r.db")
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_runs()


def test_sampler_thread_and_reader_share_a_store(tmp_path: Path) -> None:
    store = open_store(tmp_path / "r.db")
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    errors: list[BaseException] = []

    def sampler() -> None:
        try:
            for start in range(0, 500, 10):
                store.add_samples(run_id, ramp(10, start=start))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    thread = threading.Thread(target=sampler)
    thread.start()
    while thread.is_alive():
        store.get_run(run_id)
    thread.join()
    assert not errors
    assert store.samples(run_id)[1] == ramp(500)
    store.close()
