import time

import pytest

import wattlm
from wattlm.sensors.fake import FakeSensor

prometheus_client = pytest.importorskip("prometheus_client")


def _value(text: str, metric: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(metric + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{metric} {labels} not in:\n{text}")


def test_metrics_follow_the_running_tracker():
    from wattlm.integrations.prometheus import serve_metrics

    clock = [1000.0]
    gpu = FakeSensor("gpu:0", power_w=200.0, clock=lambda: clock[0])
    with wattlm.track(region="FR", project="prom", sensors=[gpu], save=False, pue=1.5) as run:
        registry = serve_metrics(run, port=-1).registry
        clock[0] += 10.0  # 2,000 J
        first = prometheus_client.generate_latest(registry).decode()
        clock[0] += 5.0   # +1,000 J
        second = prometheus_client.generate_latest(registry).decode()
    assert _value(first, "wattlm_energy_joules_total", device="gpu:0") == pytest.approx(2000.0)
    assert _value(second, "wattlm_energy_joules_total", device="gpu:0") == pytest.approx(3000.0)
    intensity = run.grid.intensity_g_per_kwh
    expected_g = 3000.0 / 3.6e6 * 1.5 * intensity
    assert _value(second, "wattlm_emissions_grams_total", region="FR") == pytest.approx(expected_g)
    # after the run: nothing is exported, nothing raises
    after = prometheus_client.generate_latest(registry).decode()
    assert "wattlm_energy_joules_total{" not in after


def test_http_endpoint_serves_metrics():
    import socket
    import urllib.request

    from wattlm.integrations.prometheus import serve_metrics

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with wattlm.track(region="FR", sensors=[FakeSensor("gpu:0")], save=False) as run:
        server = serve_metrics(run, port=port)
        time.sleep(0.05)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        server.stop()
    assert server.port == port
    assert b"wattlm_energy_joules_total" in body


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> str:
    import urllib.request

    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def test_stop_closes_the_port_and_a_second_run_shares_it():
    import urllib.error

    from wattlm.integrations.prometheus import serve_metrics

    port = _free_port()
    with wattlm.track(region="FR", project="one", sensors=[FakeSensor("gpu:0")],
                      save=False) as first:
        one = serve_metrics(first, port=port)
    # a second run of the same process on the same port: no "address already in use"
    with wattlm.track(region="FR", project="two", sensors=[FakeSensor("gpu:0")],
                      save=False) as second:
        two = serve_metrics(second, port=port)
        body = _scrape(port)
        assert two.port == port
        assert 'project="two"' in body and 'project="one"' not in body  # the first one stopped
    one.stop()
    _scrape(port)  # still served: the second handle holds the port
    two.stop()
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _scrape(port)


def test_a_port_held_by_another_process_warns_and_the_run_goes_on():
    import socket

    from wattlm.errors import MeasurementWarning
    from wattlm.integrations.prometheus import serve_metrics

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        with wattlm.track(region="FR", sensors=[FakeSensor("gpu:0")], save=False) as run:
            with pytest.warns(MeasurementWarning, match="W460"):
                server = serve_metrics(run, port=port)
            assert server.port is None
            text = prometheus_client.generate_latest(server.registry).decode()
            assert "wattlm_energy_joules_total{" in text
        server.stop()


def test_local_rank_serves_on_its_own_port_with_rank_and_host_labels(monkeypatch):
    import socket

    from wattlm.integrations.prometheus import serve_metrics

    base = _free_port()
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("RANK", "3")
    with wattlm.track(region="FR", sensors=[FakeSensor("gpu:0")], save=False,
                      distributed=False) as run:
        server = serve_metrics(run, port=base)
        try:
            body = _scrape(base + 1)
        finally:
            server.stop()
    assert server.port == base + 1
    assert _value(body, "wattlm_energy_joules_total", rank="3",
                  host=socket.gethostname()) >= 0.0
    assert 'rank="3"' in body.split("wattlm_emissions_grams_total{", 1)[1].split("\n", 1)[0]


def test_power_is_the_same_whoever_scraped_last():
    from wattlm.integrations.prometheus import serve_metrics

    gpu = FakeSensor("gpu:0", power_w=50.0)  # real clock: 50 J per second
    with wattlm.track(region="FR", sensors=[gpu], save=False, interval_s=0.1) as run:
        server = serve_metrics(run, port=-1)
        time.sleep(0.6)
        # two scrapers back to back: the old "since the previous scrape" read 0.1 ms apart
        first = prometheus_client.generate_latest(server.registry).decode()
        second = prometheus_client.generate_latest(server.registry).decode()
    for text in (first, second):
        assert _value(text, "wattlm_power_watts", device="gpu:0") == pytest.approx(50.0, rel=0.05)


def test_zero_intensity_exports_zero_grams_like_the_stored_run():
    from wattlm.integrations.prometheus import serve_metrics

    gpu = FakeSensor("gpu:0", power_w=100.0)
    with wattlm.track(region="FR", sensors=[gpu], save=False, intensity_g_per_kwh=0) as run:
        server = serve_metrics(run, port=-1)
        time.sleep(0.05)
        text = prometheus_client.generate_latest(server.registry).decode()
    assert _value(text, "wattlm_emissions_grams_total", region="FR") == 0.0
    assert run.result.emissions_g == 0.0


def test_wattlm_run_metrics_port_serves_the_run_to_its_child(tmp_path):
    """The measured command scrapes its own run; the port closes when wattlm run ends."""
    import sys
    import urllib.error

    from wattlm.cli.main import main

    port = _free_port()
    child = ("import sys, time, urllib.request\n"
             "time.sleep(0.3)\n"
             f"body = urllib.request.urlopen('http://127.0.0.1:{port}/metrics', timeout=5)"
             ".read().decode()\n"
             "sys.exit(0 if 'wattlm_energy_joules_total{' in body and 'project=\"prom-cli\"'"
             " in body else 5)\n")
    code = main(["run", "--region", "FR", "--project", "prom-cli", "--no-save", "--quiet",
                 "--metrics-port", str(port), "--", sys.executable, "-c", child])
    assert code == 0
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _scrape(port)
