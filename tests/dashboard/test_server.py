"""The dashboard over HTTP: pages, JSON, errors, escaping, headers, binding rules."""

from __future__ import annotations

import json
import socket
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.dashboard._helpers import EVIL, Stored, fetch
from wattlm.dashboard.server import DashboardServer, is_loopback, make_server
from wattlm.errors import InvalidInputError
from wattlm.store import open_store


class _Page(HTMLParser):
    """Collects tags and text, and checks that every element is closed in order."""

    VOID = {"meta", "link", "input", "br", "img", "line", "rect", "polyline"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.links: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.open and self.open[-1] == tag, f"unbalanced </{tag}> in {self.open}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def joined(self) -> str:
        return " ".join(" ".join(self.text).split())


def _html(srv: DashboardServer, path: str) -> _Page:
    status, headers, body = fetch(srv, path)
    assert status == 200, body[:300]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    page = _Page(body.decode("utf-8"))
    assert page.open == [], "elements left open"
    return page


def test_runs_page_lists_newest_first_and_keeps_the_evil_project_as_text(
        server: DashboardServer, stored: Stored) -> None:
    page = _html(server, "/")
    assert "script" not in page.tags
    text = page.joined
    assert EVIL in text  # shown, as text
    run_links = [link for link in page.links if link.startswith("/runs/")]
    assert run_links == [f"/runs/{stored.plain_id}", f"/runs/{stored.evil_id}"]
    # energy column: 2 kWh and 1.5 kWh; emissions 200 g and 225 g (PUE 1.0 / 1.5 at 100 g/kWh)
    assert " 2.00 kWh 200 g FR " in f" {text} "
    assert " 1.50 kWh 225 g FR " in f" {text} "


def test_project_filter_and_limit(server: DashboardServer, stored: Stored) -> None:
    page = _html(server, "/?project=plain")
    assert [link for link in page.links if link.startswith("/runs/")] == \
        [f"/runs/{stored.plain_id}"]
    assert "Runs of project plain" in page.joined
    page = _html(server, "/?limit=1")
    assert [link for link in page.links if link.startswith("/runs/")] == \
        [f"/runs/{stored.plain_id}"]
    status, _, body = fetch(server, "/?limit=zero")
    assert status == 400 and b"limit must be a whole number" in body


def test_project_links_are_url_encoded(server: DashboardServer, stored: Stored) -> None:
    page = _html(server, "/")
    assert "/?project=%3Cscript%3Ealert%281%29%3C%2Fscript%3E" in page.links
    page = _html(server, "/?project=%3Cscript%3Ealert%281%29%3C%2Fscript%3E")
    assert [link for link in page.links if link.startswith("/runs/")] == \
        [f"/runs/{stored.evil_id}"]
    assert "script" not in page.tags


def test_run_page_has_totals_devices_phases_footprint_warnings_and_chart(
        server: DashboardServer, stored: Stored) -> None:
    status, _, body = fetch(server, f"/runs/{stored.evil_id}")
    assert status == 200
    html_text = body.decode("utf-8")
    page = _Page(html_text)
    assert page.open == []
    assert "script" not in page.tags
    text = page.joined
    # totals and footprint: 1.5 kWh IT, 2.25 kWh with PUE 1.5, 225 g operational
    assert "Energy, IT equipment 1.50 kWh measured" in text
    assert "Energy incl. facility (PUE 1.50) 2.25 kWh" in text
    assert "Operational emissions 225 g CO2e" in text
    # devices with provenance, the evil device name as text
    assert "gpu0 gpu 1.00 kWh 66.7 %" in text
    assert f"{EVIL}-cpu cpu 500 Wh 33.3 %" in text
    assert text.count("measured") >= 3
    # phases, warnings section
    assert "Energy by phase" in text and " train " in text and " eval " in text
    assert "Warnings" in text
    # the chart: inline SVG, one line per device plus the total, no <img>, no script
    assert page.tags.count("svg") == 1
    assert page.tags.count("polyline") == 3
    assert "img" not in page.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;-cpu" in html_text
    assert f"/api/runs/{stored.evil_id}/samples" in page.links


def test_run_page_of_a_run_with_one_sample_says_so(tmp_path: Path) -> None:
    db = str(tmp_path / "one.db")
    with open_store(db) as store:
        from wattlm.records import DeviceInfo, Sample
        from wattlm.units import Provenance

        run_id = store.create_run(project="p", started_at="2024-05-01T12:00:00+00:00",
                                  devices=[DeviceInfo("gpu0", "gpu", Provenance.MEASURED)])
        store.add_samples(run_id, [Sample(1714564800.0, (0.0,))])
    srv = make_server(db, port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        status, _, body = fetch(srv, f"/runs/{run_id}")
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
    assert status == 200
    assert b"Too few samples to draw power over time (1 stored)" in body
    assert b"<svg" not in body


def test_api_runs_matches_the_store(server: DashboardServer, stored: Stored) -> None:
    status, headers, body = fetch(server, "/api/runs")
    assert status == 200 and headers["Content-Type"] == "application/json"
    runs = json.loads(body)
    assert [r["id"] for r in runs] == [stored.plain_id, stored.evil_id]
    assert runs[1]["project"] == EVIL
    assert runs[1]["energy_j"] == pytest.approx(5.4e6)
    assert runs[1]["emissions_g"] == pytest.approx(225.0)
    assert runs[0]["energy_kwh"] == pytest.approx(2.0)
    status, _, body = fetch(server, "/api/runs?project=plain&limit=5")
    assert [r["id"] for r in json.loads(body)] == [stored.plain_id]


def test_api_run_and_samples(server: DashboardServer, stored: Stored) -> None:
    status, _, body = fetch(server, f"/api/runs/{stored.evil_id}")
    assert status == 200
    record = json.loads(body)
    assert [d["name"] for d in record["devices"]] == ["gpu0", EVIL + "-cpu"]
    assert [d["provenance"] for d in record["devices"]] == ["measured", "measured"]
    assert [p["name"] for p in record["phases"]] == ["train", "eval"]
    assert record["footprint"]["emissions_kg"]["central"] == pytest.approx(0.225)

    status, _, body = fetch(server, f"/api/runs/{stored.evil_id}/samples")
    assert status == 200
    data = json.loads(body)
    assert data["run_id"] == stored.evil_id
    assert [d["name"] for d in data["devices"]] == ["gpu0", EVIL + "-cpu"]
    times = [s["time_s"] for s in data["samples"]]
    assert times == sorted(times) and len(times) >= 2
    assert data["samples"][-1]["energy_j"] == pytest.approx([3.6e6, 1.8e6])


@pytest.mark.parametrize("path", ["/runs/abc", "/runs/0", "/runs/-1", "/runs/1.5"])
def test_bad_run_id_is_400(server: DashboardServer, path: str) -> None:
    status, headers, body = fetch(server, path)
    assert status == 400
    assert headers["Content-Type"].startswith("text/html")
    assert b"a run id is a whole number" in body


def test_unknown_run_is_404_page_and_json(server: DashboardServer) -> None:
    status, headers, body = fetch(server, "/runs/999")
    assert status == 404 and headers["Content-Type"].startswith("text/html")
    page = _Page(body.decode())
    assert "404 Not Found" in page.joined and "999" in page.joined
    status, headers, body = fetch(server, "/api/runs/999/samples")
    assert status == 404 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["status"] == 404
    status, _, body = fetch(server, "/api/runs/x")
    assert status == 400 and json.loads(body)["error"] == "Bad Request"


@pytest.mark.parametrize("path", ["/nope", "/runs/1/samples", "/static/../server.py",
                                  "/static/missing.css", "/api"])
def test_unknown_paths_are_404(server: DashboardServer, path: str) -> None:
    assert fetch(server, path)[0] == 404


def test_unknown_path_is_escaped_in_the_404_page(server: DashboardServer) -> None:
    status, _, body = fetch(server, "/%3Cscript%3Ealert(1)%3C/script%3E")
    assert status == 404
    assert b"<script>" not in body


def test_read_only_methods_and_headers(server: DashboardServer, stored: Stored) -> None:
    status, headers, _ = fetch(server, "/api/runs", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD, OPTIONS"
    assert fetch(server, f"/runs/{stored.evil_id}", method="DELETE")[0] == 405
    status, headers, body = fetch(server, "/", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 100
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_static_css_is_served_from_the_package(server: DashboardServer) -> None:
    status, headers, body = fetch(server, "/static/dashboard.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert b"svg.chart" in body


def test_foreign_host_header_is_refused(server: DashboardServer) -> None:
    status, _, body = fetch(server, "/api/runs", headers={"Host": "evil.example:80"})
    assert status == 403 and b"127.0.0.1 or localhost only" in body
    port = server.url.rsplit(":", 1)[1].rstrip("/")
    assert fetch(server, "/api/runs", headers={"Host": f"localhost:{port}"})[0] == 200


def test_parallel_requests(server: DashboardServer, stored: Stored) -> None:
    results: list[int] = []

    def get(path: str) -> None:
        results.append(fetch(server, path)[0])

    threads = [threading.Thread(target=get, args=(p,)) for p in
               ["/", f"/runs/{stored.evil_id}", "/api/runs", f"/api/runs/{stored.plain_id}"] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [200] * 12


def test_empty_store_says_how_to_add_runs(tmp_path: Path) -> None:
    open_store(tmp_path / "empty.db").close()  # a store with no runs (the dashboard creates none)
    srv = make_server(str(tmp_path / "empty.db"), port=0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        page = _Page(fetch(srv, "/")[2].decode())
        assert json.loads(fetch(srv, "/api/runs")[2]) == []
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)
    assert "No runs here yet" in page.joined


def test_binding_rules(tmp_path: Path) -> None:
    db = str(tmp_path / "b.db")
    open_store(db).close()
    with pytest.raises(InvalidInputError, match="pass --host explicitly"):
        make_server(db, host="0.0.0.0")
    for bad in (-1, 70000, True):
        with pytest.raises(InvalidInputError, match="port must be"):
            make_server(db, port=bad)  # type: ignore[arg-type]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(InvalidInputError, match="cannot listen on 127.0.0.1 port"):
            make_server(db, port=taken.getsockname()[1])
    srv = make_server(db, port=0)
    try:
        assert srv.url.startswith("http://127.0.0.1:") and srv.loopback_only
        assert int(srv.url.rsplit(":", 1)[1].rstrip("/")) > 0
    finally:
        srv.server_close()


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert is_loopback("[::1]") and is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert not is_loopback("example.com")


def test_a_listing_summary_shows_its_stored_emissions() -> None:
    """Summaries carry emissions but no footprint: they are not re-accounted."""
    from wattlm.dashboard.pages import runs_page
    from wattlm.records import RunRecord

    summary = RunRecord(id=4, project="p", started_at="", duration_s=1.0, energy_j=5.4e6,
                        region="FR", emissions_g=225.0)
    page = runs_page([summary], project=None, projects=["p"], location="x", limit=5)
    assert '<td class="num">225 g</td>' in page
