"""Shared builders for the store tests (importable by spawned processes)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from wattlm.records import DeviceInfo, Sample
from wattlm.units import Provenance

DEVICES = [
    DeviceInfo("gpu0", "gpu", Provenance.MEASURED, update_period_s=0.1),
    DeviceInfo("package-0", "cpu", Provenance.MODELLED, node="n1", rank=0),
]
T0 = 1_700_000_000.0
STARTED_AT = "2023-11-14T22:13:20+00:00"  # = T0


def ramp(count: int, *, start: int = 0, interval_s: float = 1.0,
         power_w: tuple[float, float] = (300.0, 50.0)) -> list[Sample]:
    """Cumulative samples of constant power: energy = power x elapsed."""
    return [Sample(T0 + i * interval_s, tuple(p * i * interval_s for p in power_w))
            for i in range(start, start + count)]


def writer(db: str, worker: int, runs: int, batches: int, out: str) -> None:
    """Child process: create ``runs`` runs and add ``batches`` batches of 5 samples to each."""
    from wattlm.store import open_store

    store = open_store(db)
    ids = []
    for _ in range(runs):
        run_id = store.create_run(project=f"worker-{worker}", started_at=STARTED_AT,
                                  devices=DEVICES)
        ids.append(run_id)
        for b in range(batches):
            store.add_samples(run_id, ramp(5, start=b * 5))
    store.close()
    Path(out).write_text(" ".join(map(str, ids)))


def killed_writer(db: str, ready: str) -> None:
    """Child process: add one batch every 50 ms forever, reporting each commit in ``ready``."""
    from wattlm.store import open_store

    store = open_store(db)
    run_id = store.create_run(project="killed", started_at=STARTED_AT, devices=DEVICES)
    batch = 0
    while True:
        store.add_samples(run_id, ramp(10, start=batch * 10))
        batch += 1
        tmp = f"{ready}.tmp"
        Path(tmp).write_text(f"{run_id} {batch}")
        os.replace(tmp, ready)
        time.sleep(0.05)
