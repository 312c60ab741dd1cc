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
        registry = serve_metrics(run, port=-1)
        clock[0] += 10.0  # 2,000 J
        first = prometheus_client.generate_latest(registry).decode()
        clock[0] += 5.0   # +1,000 J
        second = prometheus_client.generate_latest(registry).decode()
    assert _value(first, "wattlm_energy_joules_total", device="gpu:0") == pytest.approx(2000.0)
    assert _value(second, "wattlm_energy_joules_total", device="gpu:0") == pytest.approx(3000.0)
    # power between scrapes: 1,000 J over the wall-clock time between the two reads
    power = _value(second, "wattlm_power_watts", device="gpu:0", provenance="measured")
    assert power > 0
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
        serve_metrics(run, port=port)
        time.sleep(0.05)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    assert b"wattlm_energy_joules_total" in body
