"""Shared builders for the store tests (importable by spawned processes)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from wattlm.records import DeviceEnergy, DeviceInfo, Footprint, PhaseRecord, RunRecord, Sample
from wattlm.units import Provenance, Range

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


def finished_record(run_id: int) -> RunRecord:
    """A finished record with every field set (phases, footprint, distributed, extra)."""
    return RunRecord(
        id=run_id, project="bert", started_at=STARTED_AT, duration_s=99.0, energy_j=34650.0,
        devices=[
            DeviceEnergy("gpu0", "gpu", 29700.0, Provenance.MEASURED, 300.0, 310.0),
            DeviceEnergy("package-0", "cpu", 4950.0, Provenance.MODELLED, 50.0, 55.0,
                         node="n1", rank=0, degraded=True),
        ],
        phases=[PhaseRecord("train", T0 + 1, 60.0, 21000.0, {"gpu0": 18000.0}),
                PhaseRecord("train/epoch-1", T0 + 1, 30.0, 10500.0)],
        region="FR", intensity_g_per_kwh=56.0, pue=1.2, emissions_g=0.6468,
        provenance=Provenance.MODELLED, degraded=True, warnings=["W101: sensor x dropped"],
        exit_code=0, command=["python", "train.py"], host="h", mean_power_w=350.0,
        peak_power_w=365.0, baseline_power_w=20.0, net_energy_j=32670.0,
        footprint=Footprint(Range(0.009, 0.0096, 0.011), Range(5e-4, 6.5e-4, 8e-4),
                            Range.exact(1e-4), Range(0.01, 0.02, 0.03),
                            {"pue": {"value": 1.2, "source": "user", "provenance": "assumed"}}),
        distributed={"world_size": 2, "nodes": ["n1"]}, extra={"model": "bert-base"},
    )


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


def raw_sql(target: str, statement: str, params: dict[str, object] | None = None) -> list[tuple]:
    """Run one statement on a store outside wattlm (SQLite file or PostgreSQL URL + schema)."""
    if target.startswith("postgresql"):
        import sqlalchemy as sa

        url, schema = target.rsplit("schema=", 1)
        parsed = sa.engine.make_url(url.rstrip("?&")).set(drivername="postgresql+psycopg")
        engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f'SET LOCAL search_path = "{schema}"'))
                result = conn.execute(sa.text(statement), params or {})
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()
    import sqlite3

    conn = sqlite3.connect(target)
    try:
        with conn:
            rows = conn.execute(statement, params or {}).fetchall()
        return [tuple(r) for r in rows]
    finally:
        conn.close()
