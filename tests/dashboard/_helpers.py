"""Helpers: a store with two known runs, and fetching pages from a running dashboard."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import wattlm
from wattlm.dashboard.server import DashboardServer
from wattlm.sensors.fake import FakeSensor

EVIL = "<script>alert(1)</script>"


@dataclass
class Stored:
    db: str
    evil_id: int  # GPU 1 kWh + CPU 0.5 kWh, PUE 1.5, 100 g/kWh: 225 g; phases train, eval
    plain_id: int  # GPU 2 kWh, PUE 1.0, 100 g/kWh: 200 g; project "plain"


def store_two_runs(tmp_path: Path) -> Stored:
    db = str(tmp_path / "dash.db")
    gpu = FakeSensor("gpu0", "gpu", readings=[3.6e6])
    cpu = FakeSensor(EVIL + "-cpu", "cpu", readings=[1.8e6])
    with wattlm.track(sensors=[gpu, cpu], db=db, region="FR", project=EVIL, pue=1.5,
                      intensity_g_per_kwh=100.0, interval_s=0.02) as first:
        with first.phase("train"):
            time.sleep(0.05)
        with first.phase("eval"):
            time.sleep(0.05)
    with wattlm.track(sensors=[FakeSensor("gpu0", "gpu", readings=[7.2e6])], db=db,
                      region="FR", project="plain", pue=1.0, intensity_g_per_kwh=100.0,
                      interval_s=0.02) as second:
        time.sleep(0.05)
    assert first.result is not None and first.result.id is not None
    assert second.result is not None and second.result.id is not None
    return Stored(db, first.result.id, second.result.id)


def fetch(srv: DashboardServer, path: str, *, method: str = "GET",
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one request (error statuses included)."""
    request = urllib.request.Request(srv.url.rstrip("/") + path, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, dict(e.headers), e.read()
