"""Fixtures: a store with two known runs and a dashboard serving it on a free port, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard._helpers import Stored, store_two_runs
from wattlm.dashboard.server import DashboardServer, make_server


@pytest.fixture
def stored(tmp_path: Path) -> Stored:
    return store_two_runs(tmp_path)


@pytest.fixture
def server(stored: Stored) -> Iterator[DashboardServer]:
    srv = make_server(stored.db, port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
