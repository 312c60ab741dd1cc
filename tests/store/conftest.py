"""The PostgreSQL server for the store tests: ``WATTLM_TEST_POSTGRES_URL`` (see .ci/postgres.sh)."""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator

import pytest

URL_VARIABLE = "WATTLM_TEST_POSTGRES_URL"


def with_schema(url: str, schema: str) -> str:
    """The URL with wattlm's ``schema`` query parameter added."""
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a private, empty PostgreSQL schema, dropped after the test.

    Skipped when ``WATTLM_TEST_POSTGRES_URL`` is unset or empty (``.ci/postgres.sh`` prints one)
    or when the ``wattlm[postgres]`` extra (SQLAlchemy, psycopg) is not installed.
    """
    url = os.environ.get(URL_VARIABLE, "").strip()
    if not url:
        pytest.skip(f"{URL_VARIABLE} is not set: no PostgreSQL server to test against "
                    "(.ci/postgres.sh starts one and prints the URL)")
    for package in ("sqlalchemy", "psycopg"):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed: pip install 'wattlm[postgres]'")
    import sqlalchemy as sa

    schema = f"wattlm_test_{uuid.uuid4().hex[:12]}"
    yield with_schema(url, schema)
    engine = sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg"),
                              poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '30s'"))
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()
