"""The PostgreSQL store against a real server (``WATTLM_TEST_POSTGRES_URL``, see conftest).

The same behaviour as the SQLite store: round trip, unfinished runs rebuilt from their samples,
downsampling, several writers at once, and errors at the door. Each test gets its own
PostgreSQL schema. The URL-only tests at the top need no server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.store._helpers import DEVICES, STARTED_AT
from wattlm.errors import StoreError
from wattlm.records import DeviceInfo
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


def test_not_a_wattlm_schema_and_newer_version_are_refused(postgres_url: str) -> None:
    with open_store(postgres_url):
        pass
    _sql(postgres_url, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match=r"schema version 99 .* up to 2: upgrade wattlm"):
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


def test_a_version_1_schema_is_upgraded_in_place(postgres_url: str) -> None:
    postgres = _postgres()
    import sqlalchemy as sa

    schema = _schema(postgres_url)
    tables = postgres._Tables(schema)  # noqa: SLF001 - the version-1 DDL, as shipped
    url = sa.engine.make_url(postgres_url.rsplit("?", 1)[0]).set(
        drivername="postgresql+psycopg")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:  # what a version-1 wattlm left: one finished run
            conn.execute(sa.schema.CreateSchema(schema))
            tables.create_version_1(conn)
            conn.execute(tables.meta.insert().values(key="schema_version", value="1"))
            run_id = conn.execute(tables.runs.insert().values(
                project="old", started_at=STARTED_AT, status="failed", n_devices=1,
                record='{"id": 1, "project": "old", "started_at": "' + STARTED_AT + '", '
                       '"duration_s": 2.0, "energy_j": 10.0, "exit_code": 4, '
                       '"status": "failed", "provenance": "measured"}',
            ).returning(tables.runs.c.id)).scalar_one()
            conn.execute(tables.devices.insert().values(
                run_id=run_id, position=0, name="gpu0", kind="gpu", provenance="measured"))
    finally:
        engine.dispose()
    with open_store(postgres_url, read_only=True) as reader:  # readers do not upgrade
        assert reader.get_run(run_id).exit_code == 4
    assert _sql(postgres_url, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    with open_store(postgres_url) as store:
        summary = store.list_summaries()[0]
        assert (summary.status, summary.exit_code, summary.provenance.value) == (
            "failed", 4, "measured")
        new = store.create_run(project="new", started_at=STARTED_AT, devices=[
            DeviceInfo("gpu0", "gpu", Provenance.MEASURED, model="NVIDIA H100 80GB HBM3")])
        assert store.samples(new)[0][0].model == "NVIDIA H100 80GB HBM3"
    assert _sql(postgres_url, "SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
