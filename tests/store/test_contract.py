"""One contract, two backends: every test here runs against SQLite and PostgreSQL.

The PostgreSQL half skips without ``WATTLM_TEST_POSTGRES_URL`` (see conftest); backend-only
behaviour (files, WAL, URLs, privileges) is in test_sqlite.py and test_postgres.py.
"""

from __future__ import annotations

import json
import math
import threading
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.store._helpers import DEVICES, STARTED_AT, T0, finished_record, ramp, raw_sql
from wattlm.errors import InvalidInputError, StoreError, StoreWarning, UnknownNameError
from wattlm.records import DeviceInfo, RunRecord, Sample
from wattlm.store import MAX_RUN_ID, DamagedRunError, Store, StoreNotFoundError, open_store
from wattlm.units import Provenance


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh store lives: an SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "r.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


def _make(target: str, **options: Any) -> Store:
    if target.startswith("postgresql"):
        from wattlm.store.postgres import PostgresStore

        return PostgresStore(target, **options)
    from wattlm.store.sqlite import SQLiteStore

    return SQLiteStore(target, **options)


def _table(target: str, name: str) -> str:
    return name  # raw_sql sets the search path on PostgreSQL


def test_finished_run_round_trips(target: str) -> None:
    with open_store(target) as store:
        run_id = store.create_run(project="bert", started_at=STARTED_AT, devices=DEVICES,
                                  region="FR", command=["python", "train.py"])
        store.add_samples(run_id, ramp(100))
        record = finished_record(run_id)
        store.finish_run(record)
        back = store.get_run(run_id)
        assert back.to_dict() == record.to_dict()
        assert json.loads(json.dumps(back.to_dict()))["id"] == run_id
        assert [p.to_dict() for p in store.phases(run_id)] == [
            p.to_dict() for p in record.phases]
        assert store.samples(run_id) == (DEVICES, ramp(100))
    with open_store(target, read_only=True) as again:  # reopened: still there
        assert again.get_run(run_id).to_dict() == record.to_dict()


def test_running_run_is_rebuilt_with_device_models(target: str) -> None:
    devices = [replace(DEVICES[0], model="NVIDIA H100 80GB HBM3"), DEVICES[1]]
    with open_store(target) as store:
        run_id = store.create_run(project="p", started_at=STARTED_AT, devices=devices)
        # 300 W and 50 W for 9 s, then 600 W / 50 W for one second (the peak)
        samples = ramp(10) + [Sample(T0 + 10, (300.0 * 9 + 600.0, 50.0 * 10))]
        store.add_samples(run_id, samples)
        record = store.get_run(run_id)
        assert store.phases(run_id) == []
    assert record.status == "running"  # this process is the writer, alive
    assert record.degraded and record.warnings[0].startswith("W305")
    assert record.duration_s == pytest.approx(10.0)
    assert [d.energy_j for d in record.devices] == [3300.0, 500.0]
    assert record.devices[0].mean_power_w == pytest.approx(330.0)
    assert record.devices[0].peak_power_w == pytest.approx(600.0)
    assert record.peak_power_w == pytest.approx(650.0)
    assert record.provenance is Provenance.MODELLED  # weakest of measured + modelled
    assert [d.model for d in record.devices] == ["NVIDIA H100 80GB HBM3", None]
    assert record.devices[1].node == "n1" and record.devices[1].rank == 0


def test_unknown_and_out_of_range_ids(target: str) -> None:
    with open_store(target) as store:
        with pytest.raises(UnknownNameError, match=r"no run 42 in .*; the store is empty"):
            store.get_run(42)
        run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        with pytest.raises(UnknownNameError, match=rf"no run 42 in .*; newest is {run_id}"):
            store.get_run(42)
        for call in (store.samples, store.phases, lambda i: store.add_samples(i, ramp(1))):
            with pytest.raises(UnknownNameError):
                call(42)
        with pytest.raises(UnknownNameError):
            store.finish_run(RunRecord(id=42, project="p", started_at="", duration_s=0,
                                       energy_j=0))
        for huge in (MAX_RUN_ID + 1, 10**30, 0, -3):
            with pytest.raises(InvalidInputError, match=f"from 1 to {MAX_RUN_ID}"):
                store.get_run(huge)
            with pytest.raises(InvalidInputError, match=f"from 1 to {MAX_RUN_ID}"):
                store.list_runs(limit=huge)
        assert store.list_summaries(limit=MAX_RUN_ID)[0].id == run_id


def test_listings_newest_first_with_filters_and_paging(target: str) -> None:
    with open_store(target) as store:
        ids = [store.create_run(project=p, started_at=STARTED_AT, devices=DEVICES)
               for p in ("a", "b", "a", "a")]
        store.finish_run(replace(finished_record(ids[1]), project="b"))
        assert [r.id for r in store.list_runs()] == ids[::-1]
        assert [r.id for r in store.list_runs(project="a", limit=2)] == [ids[3], ids[2]]
        assert [r.id for r in store.list_summaries(project="a", before=ids[3])] == [
            ids[2], ids[0]]
        assert store.list_runs(project="nope") == []
        assert store.projects() == ["a", "b"]
        assert (store.count_runs(), store.count_runs("a"), store.count_runs("nope")) == (4, 3, 0)
        full = {r.id: r for r in store.list_runs()}
        for summary in store.list_summaries():
            whole = full[summary.id]
            for name in ("project", "started_at", "duration_s", "energy_j", "emissions_g",
                         "region", "provenance", "status", "exit_code", "degraded"):
                assert getattr(summary, name) == getattr(whole, name), name
        documents = [json.loads(text) for text in store.list_documents()]
        assert documents == [full[i].to_dict() for i in ids[::-1]]
        with pytest.raises(InvalidInputError):
            store.list_runs(limit=0)


def test_failed_command_is_stored_failed_with_its_exit_code(target: str) -> None:
    with open_store(target) as store:
        run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        record = replace(finished_record(run_id), exit_code=3, status="finished")
        store.finish_run(record)
        assert record.status == "failed"
        summary = store.list_summaries()[0]
        assert (summary.status, summary.exit_code) == ("failed", 3)
        assert (store.get_run(run_id).status, store.get_run(run_id).exit_code) == ("failed", 3)


def test_bad_samples_are_rejected_whole(target: str) -> None:
    with open_store(target) as store:
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


def test_finish_downsamples_keeping_totals_exactly(target: str) -> None:
    store = _make(target, max_samples_per_run=100)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    power = (301.7, 49.3)
    for start in range(0, 1000, 50):  # 1000 samples; in-flight thinning keeps <= 200
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


def test_downsampling_bounds_rows_of_a_long_run(target: str) -> None:
    store = _make(target, max_samples_per_run=50)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    for start in range(0, 4000, 10):  # many flushes of 10 samples
        store.add_samples(run_id, ramp(10, start=start))
    rows, total = raw_sql(target, "SELECT count(*), sum(count) FROM samples")[0]
    assert total <= 100 and rows <= 100
    assert store.get_run(run_id).devices[0].energy_j == 300.0 * 3999
    store.close()


def test_closed_store_raises(target: str) -> None:
    store = open_store(target)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_runs()


def test_sampler_thread_and_reader_share_a_store(target: str) -> None:
    store = open_store(target)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    errors: list[BaseException] = []

    def sampler() -> None:
        try:
            for start in range(0, 300, 10):
                store.add_samples(run_id, ramp(10, start=start))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    thread = threading.Thread(target=sampler)
    thread.start()
    while thread.is_alive():
        store.get_run(run_id)
    thread.join()
    assert not errors
    assert store.samples(run_id)[1] == ramp(300)
    store.close()


def test_read_only_store_reads_and_refuses_writes(target: str) -> None:
    with pytest.raises(StoreNotFoundError, match="nothing has been measured"):
        open_store(target, read_only=True)
    if not target.startswith("postgresql"):
        assert not Path(target).exists()  # nothing created at a mistyped path
    else:
        assert raw_sql(target, "SELECT count(*) FROM pg_namespace WHERE nspname = "
                       "current_schema()") == [(0,)]
    with open_store(target) as writer:
        run_id = writer.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        writer.add_samples(run_id, ramp(5))
    with open_store(target, read_only=True) as reader:
        assert reader.read_only and reader.get_run(run_id).energy_j == pytest.approx(1400.0)
        with pytest.raises(StoreError, match="read-only"):
            reader.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        with pytest.raises(StoreError, match="read-only"):
            reader.add_samples(run_id, ramp(1, start=9))


def test_damaged_rows_are_skipped_with_a_warning_naming_them(target: str) -> None:
    with open_store(target) as store:
        good = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        store.finish_run(finished_record(good))
        bad_json = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        store.finish_run(finished_record(bad_json))
        bad_blob = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        store.add_samples(bad_blob, ramp(3))
    raw_sql(target, "UPDATE runs SET record = '{\"id\": 2, broken' WHERE id = :id",
            {"id": bad_json})
    raw_sql(target, "UPDATE samples SET data = :data WHERE run_id = :id",
            {"data": b"\x00" * 13, "id": bad_blob})
    with open_store(target, read_only=True) as store:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            listed = [r.id for r in store.list_runs()]
            documents = [json.loads(d)["id"] for d in store.list_documents()]
            summaries = [r.id for r in store.list_summaries()]
        assert listed == documents == [good]
        assert summaries == [bad_json, good]  # the table needs only the intact columns
        messages = [str(w.message) for w in caught if issubclass(w.category, StoreWarning)]
        assert any(m.startswith(f"W322: run {bad_json} ") for m in messages)
        assert any(m.startswith(f"W322: run {bad_blob} ") for m in messages)
        assert len(store.skipped) == len(messages) == 5
        with pytest.raises(DamagedRunError, match=f"run {bad_json} .* is damaged"):
            store.get_run(bad_json)
        with pytest.raises(DamagedRunError, match=f"run {bad_blob} .* is damaged"):
            store.samples(bad_blob)


def test_device_info_model_survives_a_finished_record(target: str) -> None:
    devices = [DeviceInfo("gpu0", "gpu", Provenance.MEASURED, model="NVIDIA A100-SXM4-40GB")]
    with open_store(target) as store:
        run_id = store.create_run(project="p", started_at=STARTED_AT, devices=devices)
        assert store.samples(run_id)[0] == devices


def test_two_hundred_runs_page_and_pass_through(target: str) -> None:
    with open_store(target) as store:
        ids = []
        for i in range(200):
            run_id = store.create_run(project=f"p{i % 3}", started_at=STARTED_AT,
                                      devices=DEVICES)
            store.finish_run(replace(finished_record(run_id), project=f"p{i % 3}"))
            ids.append(run_id)
    with open_store(target, read_only=True) as store:
        paged: list[int] = []
        before = None
        while True:
            page = store.list_summaries(limit=37, before=before)
            if not page:
                break
            paged += [int(r.id or 0) for r in page]
            before = paged[-1]
        assert paged == ids[::-1]
        listed: list[int] = []
        texts = store.list_documents(limit=200, project="p1", ids=listed)
        assert listed == [i for i in ids[::-1] if (i - ids[0]) % 3 == 1]
        assert [json.loads(t) for t in texts] == [store.get_run(i).to_dict() for i in listed]
        assert store.projects() == ["p0", "p1", "p2"] and store.count_runs("p2") == 66
