"""Electricity Maps client against a local fake HTTP server (never the internet)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from wattlm.carbon.intensity import resolve_region
from wattlm.carbon.live import (
    ElectricityMapsClient,
    LiveProviderError,
    default_cache_dir,
    live_intensity,
    live_series,
)
from wattlm.errors import AccountingWarning


class FakeApi:
    """Answers /carbon-intensity/{latest,history}; behaviour set per test."""

    def __init__(self) -> None:
        self.status = 200
        self.body: bytes | None = None
        self.delay_s = 0.0
        self.requests: list[tuple[str, str | None]] = []

    def answer(self, path: str) -> tuple[int, bytes]:
        if self.body is not None:
            return self.status, self.body
        if path.startswith("/v3/carbon-intensity/latest"):
            doc: dict[str, Any] = {"zone": "FR", "carbonIntensity": 31,
                                   "datetime": "2024-03-01T12:00:00.000Z"}
        else:
            doc = {"zone": "FR", "history": [
                {"carbonIntensity": 100, "datetime": "2024-03-01T00:00:00.000Z"},
                {"carbonIntensity": 300, "datetime": "2024-03-01T01:00:00.000Z"}]}
        return self.status, json.dumps(doc).encode()


@pytest.fixture()
def api() -> Iterator[tuple[FakeApi, str]]:
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            fake.requests.append((self.path, self.headers.get("auth-token")))
            if fake.delay_s:
                time.sleep(fake.delay_s)
            status, body = fake.answer(self.path)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/v3"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _client(url: str, tmp_path: Path, **kwargs: Any) -> ElectricityMapsClient:
    return ElectricityMapsClient("secret-token", base_url=url, cache_dir=tmp_path / "cache",
                                 **kwargs)


def test_latest_sends_token_and_caches_without_it(api: tuple[FakeApi, str],
                                                  tmp_path: Path) -> None:
    fake, url = api
    client = _client(url, tmp_path)
    assert client.latest("FR") == 31.0
    assert fake.requests == [("/v3/carbon-intensity/latest?zone=FR", "secret-token")]
    assert client.latest("FR") == 31.0
    assert len(fake.requests) == 1  # second answer came from the disk cache
    cached = (tmp_path / "cache" / "latest-FR.json").read_text()
    assert "secret-token" not in cached


def test_cache_expires(api: tuple[FakeApi, str], tmp_path: Path) -> None:
    fake, url = api
    now = [1000.0]
    client = _client(url, tmp_path, cache_ttl_s=60, clock=lambda: now[0])
    client.latest("FR")
    now[0] += 61
    client.latest("FR")
    assert len(fake.requests) == 2


def test_history_becomes_a_series(api: tuple[FakeApi, str], tmp_path: Path) -> None:
    _, url = api
    series = _client(url, tmp_path).history("FR")
    assert series.values_g_per_kwh == (100.0, 300.0)
    assert series.step_s == 3600


@pytest.mark.parametrize("status, body, match", [
    (500, b"oops", "HTTP 500"),
    (200, b"{not json", "not JSON"),
    (200, b'{"zone": "FR"}', "carbonIntensity missing"),
    (200, b'{"carbonIntensity": -4}', "carbonIntensity missing or invalid"),
])
def test_failures_raise_live_provider_error(api: tuple[FakeApi, str], tmp_path: Path,
                                            status: int, body: bytes, match: str) -> None:
    fake, url = api
    fake.status, fake.body = status, body
    with pytest.raises(LiveProviderError, match=match):
        _client(url, tmp_path).latest("FR")


def test_timeout_is_short_and_falls_back_with_warning(api: tuple[FakeApi, str],
                                                      tmp_path: Path) -> None:
    fake, url = api
    fake.delay_s = 1.0
    grid = resolve_region("FR")
    started = time.monotonic()
    with pytest.warns(AccountingWarning, match="W203"):
        result, notes = live_intensity(grid, _client(url, tmp_path, timeout_s=0.2))
    assert time.monotonic() - started < 0.9
    assert result == grid  # the packaged annual value
    assert notes and notes[0].startswith("W203")


def test_live_intensity_replaces_the_value(api: tuple[FakeApi, str], tmp_path: Path) -> None:
    _, url = api
    result, notes = live_intensity(resolve_region("aws:eu-west-3"), _client(url, tmp_path))
    assert notes == []
    assert result.intensity_g_per_kwh == 31.0
    assert "Electricity Maps" in result.source and result.code == "aws:eu-west-3"


def test_bad_history_falls_back(api: tuple[FakeApi, str], tmp_path: Path) -> None:
    fake, url = api
    fake.body = b'{"history": []}'
    with pytest.warns(AccountingWarning, match="W203"):
        series, notes = live_series(resolve_region("FR"), _client(url, tmp_path))
    assert series is None and notes


def test_unreachable_server(tmp_path: Path) -> None:
    client = ElectricityMapsClient("t", base_url="http://127.0.0.1:9/v3", timeout_s=0.5,
                                   cache_dir=tmp_path)
    with pytest.raises(LiveProviderError, match="unreachable"):
        client.latest("FR")


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "wattlm" / "electricitymaps"
    with pytest.raises(LiveProviderError, match="token"):
        ElectricityMapsClient("")
