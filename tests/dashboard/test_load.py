"""The dashboard under load and odd requests (issue 10, item 7): a real server on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.dashboard._helpers import Stored, fetch
from wattlm.dashboard import server as server_module
from wattlm.dashboard.server import DashboardServer, make_server
from wattlm.store import open_store


def _address(srv: DashboardServer) -> tuple[str, int]:
    parts = urlsplit(srv.url)
    return str(parts.hostname), int(parts.port or 0)


def test_200_concurrent_requests_are_all_answered(server: DashboardServer,
                                                  stored: Stored) -> None:
    host, port = _address(server)
    barrier = threading.Barrier(200, timeout=60)

    def one(i: int) -> int:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            barrier.wait()  # all 200 connect at once
            path = ["/", "/api/runs", f"/runs/{stored.evil_id}",
                    f"/api/runs/{stored.plain_id}/samples"][i % 4]
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(one, range(200)))
    assert statuses == [200] * 200
    assert server.request_queue_size == server_module.LISTEN_BACKLOG >= 200


def test_an_idle_connection_is_closed(stored: Stored, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module._Handler, "timeout", 0.5)  # noqa: SLF001
    srv = make_server(stored.db, port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with socket.create_connection(_address(srv), timeout=10) as idle:
            started = time.monotonic()
            assert idle.recv(1024) == b""  # the server hung up on a client that said nothing
            assert time.monotonic() - started < 8.0
        assert fetch(srv, "/api/runs")[0] == 200  # and still serves the others
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize("path", [
    "/runs/%C2%B2", "/runs/99999999999999999999999", "/api/runs/9223372036854775808",
    "/api/runs/1e3", "/api/runs/-1/samples", "/api/runs?limit=%C2%B2", "/?limit=10001",
    "/api/runs?before=x", "/?before=0",
])
def test_malformed_ids_and_parameters_are_400(server: DashboardServer, path: str) -> None:
    status, _, body = fetch(server, path)
    assert status == 400, body


def test_options_and_other_methods(server: DashboardServer) -> None:
    host, port = _address(server)
    for method, expected in (("OPTIONS", 204), ("TRACE", 405), ("FROB", 405), ("PUT", 405),
                             ("POST", 405)):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.request(method, "/api/runs")
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        assert response.status == expected, method
        assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_api_runs_pages_with_a_next_link(tmp_path: Path) -> None:
    from tests.store._helpers import DEVICES, STARTED_AT

    db = tmp_path / "paged.db"
    with open_store(db) as store:
        ids = [store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
               for _ in range(7)]
    srv = make_server(db, port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        seen: list[int] = []
        path: str | None = "/api/runs?limit=3"
        while path is not None:
            status, headers, body = fetch(srv, path)
            assert status == 200
            seen += [r["id"] for r in json.loads(body)]
            link = headers.get("Link")
            path = link[1:link.index(">")] if link else None
        assert seen == ids[::-1]
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
