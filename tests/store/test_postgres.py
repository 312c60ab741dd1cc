"""The PostgreSQL store against a real server (``WATTLM_TEST_POSTGRES_URL``, see conftest).

The same behaviour as the SQLite store: round trip, unfinished runs rebuilt from their samples,
downsampling, several writers at once, and errors at the door. Each test gets its own
PostgreSQL schema. The URL-only tests at the top need no server.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.store._helpers import DEVICES, STARTED_AT, T0, finished_record, ramp
from wattlm.errors import InvalidInputError, StoreError, UnknownNameError
from wattlm.records import RunRecord, Sample
from wattlm.store import open_store
from wattlm.units import Provenance

SRC = Path(__file__).resolve().parents[2] / "src"


def _postgres() -> Any:
    """The store module (skips without the extra)."""
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    from wattlm.store import postgres

    return postgres


def _schema(url: str) -> str:
    """The test's PostgreSQL schema, from the URL."""
    return url.rsplit("schema=", 1)[1]


def _sql(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement in the test's schema (outside wattlm) and return its rows."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    schema = _schema(url)
    engine = sa.create_engine(
        parsed.difference_update_query(["schema"]).set(drivername="postgresql+psycopg"),
        poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'SET LOCAL search_path = "{schema}"'))
            result = conn.execute(sa.text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


# --- no server needed ---------------------------------------------------------------------------


def test_redact_url_hides_every_form_of_password() -> None:
    redact = _postgres().redact_url
    assert redact("postgresql://me:s3cret@db:5432/runs") == "postgresql://me:***@db:5432/runs"
    assert redact("postgresql://me:p@ss@db/runs") == "postgresql://me:***@db/runs"
    assert redact("postgresql://db/runs?password=s3cret&sslmode=require") == (
        "postgresql://db/runs?password=***&sslmode=require")
    assert redact("postgresql://me@db/runs") == "postgresql://me@db/runs"  # nothing to hide


def test_without_the_extra_a_url_names_wattlm_postgres() -> None:
    # a fresh interpreter without site-packages has no SQLAlchemy (wattlm's core needs none)
    code = ("from wattlm.store import open_store\n"
            "try:\n    open_store('postgresql://me:s3cret@127.0.0.1:1/runs')\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=60, check=True)
    assert done.stdout.startswith("MissingExtraError sqlalchemy is needed for a PostgreSQL store")
    assert "pip install 'wattlm[postgres]'" in done.stdout
    assert "s3cret" not in done.stdout


def test_sqlite_store_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    code = ("import sys\nfrom wattlm.store import open_store\n"
            f"open_store({str(tmp_path / 'r.db')!r}).close()\n"
            "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'psycopg'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql://me:s3cret@127.0.0.1:notaport/runs", "not a valid PostgreSQL URL"),
    ("postgresql+asyncpg://me:s3cret@127.0.0.1/runs", "driver 'asyncpg' is not supported"),
    ("postgresql://me:s3cret@127.0.0.1/runs?schema=Runs", "schema name 'Runs' is not valid"),
    ("postgresql://me:s3cret@127.0.0.1:1/runs", "port 1 failed: Connection refused"),
])
def test_bad_urls_raise_store_error_without_the_password(url: str, message: str) -> None:
    _postgres()
    with pytest.raises(StoreError, match=message) as info:
        open_store(url)
    assert "s3cret" not in str(info.value) and "me:***@" in str(info.value)


# --- against the server ---------------------------------------------------------------------------


def test_wrong_password_is_refused_at_the_door(postgres_url: str) -> None:
    postgres = _postgres()
    import sqlalchemy as sa

    good = sa.engine.make_url(postgres_url)
    assert good.password, "the test URL must carry a password"
    bad = good.set(password="not-" + str(good.password) + "-at-all")
    text = bad.render_as_string(hide_password=False)
    with pytest.raises(StoreError, match="password authentication failed") as info:
        postgres.PostgresStore(text)
    assert str(good.password) not in str(info.value) and "not-" not in str(info.value)
    assert _sql(postgres_url, "SELECT count(*) FROM pg_namespace WHERE nspname = "
                f"'{_schema(postgres_url)}'") == [(0,)]  # nothing was created


def test_schema_created_with_version(postgres_url: str) -> None:
    postgres = _postgres()
    with open_store(postgres_url) as store:
        assert isinstance(store, postgres.PostgresStore)
        assert "***" in store.location and str(store.location).endswith(store.schema)
    assert _sql(postgres_url, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(postgres.SCHEMA_VERSION),)]
    tables = {row[0] for row in _sql(
        postgres_url, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    assert tables == {"meta", "runs", "devices", "phases", "samples"}


def test_finished_run_round_trips(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        run_id = store.create_run(project="bert", started_at=STARTED_AT, devices=DEVICES,
                                  region="FR", command=["python", "train.py"],
                                  extra={"model": "bert-base"})
        store.add_samples(run_id, ramp(100))
        record = finished_record(run_id)
        store.finish_run(record)
        assert store.get_run(run_id).to_dict() == record.to_dict()
        assert isinstance(store, _postgres().PostgresStore)
        assert [p.name for p in store.phases(run_id)] == ["train", "train/epoch-1"]
        devices, samples = store.samples(run_id)
        assert devices == DEVICES and samples == ramp(100)  # float64 bit for bit
    with open_store(postgres_url) as again:  # another connection: still there
        assert again.get_run(run_id).to_dict() == record.to_dict()
        assert again.list_runs()[0].to_dict() == record.to_dict()


def test_running_run_is_rebuilt_from_last_sample(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        # 300 W and 50 W for 9 s, then 600 W / 50 W for one second (the peak)
        store.add_samples(run_id, ramp(10) + [Sample(T0 + 10, (300.0 * 9 + 600.0, 500.0))])
        record = store.get_run(run_id)
    assert record.status == "running"  # this process is the writer, alive
    assert record.degraded and record.warnings[0].startswith("W305")
    assert record.duration_s == pytest.approx(10.0)
    assert [d.energy_j for d in record.devices] == [3300.0, 500.0]
    assert record.devices[0].peak_power_w == pytest.approx(600.0)
    assert record.peak_power_w == pytest.approx(650.0)
    assert record.provenance is Provenance.MODELLED


def test_unknown_runs_limits_and_bad_samples(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        with pytest.raises(UnknownNameError, match=r"no run 42 in .*; the store is empty"):
            store.get_run(42)
        ids = [store.create_run(project=p, started_at=STARTED_AT, devices=DEVICES)
               for p in ("a", "b", "a", "a")]
        with pytest.raises(UnknownNameError, match=rf"no run 4242 in .*; newest is {ids[-1]}"):
            store.add_samples(4242, ramp(1))
        with pytest.raises(UnknownNameError):
            store.finish_run(RunRecord(id=4242, project="p", started_at="", duration_s=0,
                                       energy_j=0))
        assert [r.id for r in store.list_runs()] == ids[::-1]
        assert [r.id for r in store.list_runs(project="a", limit=2)] == [ids[3], ids[2]]
        run_id = ids[0]
        store.add_samples(run_id, ramp(3))
        with pytest.raises(InvalidInputError, match="2 devices but the sample at .* has 3"):
            store.add_samples(run_id, [*ramp(2, start=3), Sample(T0 + 9, (1.0, 2.0, 3.0))])
        with pytest.raises(InvalidInputError, match="non-finite"):
            store.add_samples(run_id, [Sample(T0 + 9, (math.nan, 1.0))])
        store.add_samples(run_id, ramp(3))  # a retried flush (same first time) replaces
        assert store.samples(run_id)[1] == ramp(3)
        store.finish_run(RunRecord(id=run_id, project="a", started_at=STARTED_AT,
                                   duration_s=2.0, energy_j=700.0))
        with pytest.raises(InvalidInputError, match="is finished"):
            store.add_samples(run_id, ramp(1, start=5))


def test_finish_downsamples_keeping_totals_exactly(postgres_url: str) -> None:
    store = _postgres().PostgresStore(postgres_url, max_samples_per_run=100)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    power = (301.7, 49.3)
    for start in range(0, 1000, 50):  # 1000 samples; in-flight thinning keeps <= 200
        store.add_samples(run_id, ramp(50, start=start, interval_s=0.37, power_w=power))
        assert len(store.samples(run_id)[1]) <= 200
    last = ramp(1, start=999, interval_s=0.37, power_w=power)[0]
    assert [d.energy_j for d in store.get_run(run_id).devices] == list(last.energy_j)
    store.finish_run(RunRecord(id=run_id, project="p", started_at=STARTED_AT,
                               duration_s=999 * 0.37, energy_j=sum(last.energy_j)))
    _, kept = store.samples(run_id)
    assert 2 < len(kept) <= 100
    assert kept[0].time_s == T0 and kept[-1] == last  # first and last survive, bit for bit
    gaps = [b.time_s - a.time_s for a, b in zip(kept, kept[1:], strict=False)]
    assert max(gaps) <= 2.5 * (999 * 0.37) / 99
    assert _sql(postgres_url, "SELECT count(*), sum(count) FROM samples") == [(1, len(kept))]
    store.close()


def test_downsampling_bounds_rows_of_a_long_run(postgres_url: str) -> None:
    store = _postgres().PostgresStore(postgres_url, max_samples_per_run=50)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    for start in range(0, 3000, 10):
        store.add_samples(run_id, ramp(10, start=start))
    rows, total = _sql(postgres_url, "SELECT count(*), sum(count) FROM samples")[0]
    assert total <= 100 and rows <= 100
    assert store.get_run(run_id).devices[0].energy_j == 300.0 * 2999
    store.close()


def test_not_a_wattlm_schema_and_newer_version_are_refused(postgres_url: str) -> None:
    with open_store(postgres_url):
        pass
    _sql(postgres_url, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match=r"schema version 99 .* up to 1: upgrade wattlm"):
        open_store(postgres_url)
    other = f"{_schema(postgres_url)}_other"
    try:
        _sql(postgres_url, f"CREATE SCHEMA {other}")
        _sql(postgres_url, f"CREATE TABLE {other}.orders (x int)")
        with pytest.raises(StoreError, match="holds tables that are not a wattlm store"):
            open_store(postgres_url.replace(f"schema={_schema(postgres_url)}", f"schema={other}"))
        assert _sql(postgres_url, f"SELECT count(*) FROM pg_tables WHERE schemaname = '{other}'"
                    ) == [(1,)]  # left as it was
    finally:
        _sql(postgres_url, f"DROP SCHEMA IF EXISTS {other} CASCADE")


def test_closed_store_raises(postgres_url: str) -> None:
    store = open_store(postgres_url)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_runs()


def test_sampler_thread_and_reader_share_a_store(postgres_url: str) -> None:
    store = open_store(postgres_url)
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


def test_schema_parameter_separates_stores(postgres_url: str) -> None:
    other = f"{_schema(postgres_url)}_b"
    second = postgres_url.replace(f"schema={_schema(postgres_url)}", f"schema={other}")
    try:
        with open_store(postgres_url) as one, open_store(second) as two:
            one.create_run(project="one", started_at=STARTED_AT, devices=DEVICES)
            assert two.list_runs() == []
            assert [r.project for r in one.list_runs()] == ["one"]
    finally:
        _sql(postgres_url, f"DROP SCHEMA IF EXISTS {other} CASCADE")


def test_a_user_who_cannot_write_is_refused_at_the_door(postgres_url: str) -> None:
    with open_store(postgres_url):
        pass
    # an owner may revoke its own privileges (a read-only table for everyone)
    _sql(postgres_url, "REVOKE DELETE ON samples FROM current_user")
    with pytest.raises(StoreError, match=r"cannot DELETE on wattlm_test_\w+\.samples"):
        open_store(postgres_url)
