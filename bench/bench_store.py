"""Store benchmark: ingest one million synthetic samples (4 devices) as the tracker would.

Prints, for each batch size (samples per ``add_samples`` call: at 1 s sampling a 10 s flush
gives 10, at 10 ms sampling 1,000):

* seconds and samples/s to ingest 1,000,000 samples into one run;
* bytes the samples occupy on disk before downsampling (downsampling disabled) and after
  ``finish_run`` thinned them to 2,000, and the bytes per stored sample;
* the same ingest with the default in-flight downsampling (the store never holds more than
  2 x 2,000 samples of the run).

Usage: ``python bench/bench_store.py [--samples N] [--batches 10,100,1000]``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from wattlm.records import DeviceInfo, RunRecord, Sample
from wattlm.store.sqlite import SQLiteStore
from wattlm.units import Provenance

DEVICES = [
    DeviceInfo("gpu0", "gpu", Provenance.MEASURED),
    DeviceInfo("gpu1", "gpu", Provenance.MEASURED),
    DeviceInfo("package-0", "cpu", Provenance.MEASURED),
    DeviceInfo("dram", "memory", Provenance.MODELLED),
]
POWER_W = (300.0, 280.0, 95.0, 12.0)
T0 = 1_700_000_000.0


def batches(total: int, size: int, interval_s: float) -> list[list[Sample]]:
    """Synthetic cumulative samples, prepared up front so only the store is timed."""
    out: list[list[Sample]] = []
    for start in range(0, total, size):
        out.append([
            Sample(T0 + i * interval_s, tuple(p * i * interval_s for p in POWER_W))
            for i in range(start, min(start + size, total))
        ])
    return out


def samples_bytes(path: Path) -> int:
    """Bytes of the pages that hold the samples table (dbstat)."""
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'samples'").fetchone()
    finally:
        conn.close()
    return int(row[0] or 0)


def run_case(total: int, size: int, *, downsample_in_flight: bool) -> dict[str, float]:
    """Ingest ``total`` samples in batches of ``size``; returns the measurements."""
    prepared = batches(total, size, interval_s=0.01)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        store = SQLiteStore(path, max_samples_per_run=2000 if downsample_in_flight else None)
        run_id = store.create_run(project="bench", started_at="2023-11-14T22:13:20+00:00",
                                  devices=DEVICES)
        began = time.perf_counter()
        for batch in prepared:
            store.add_samples(run_id, batch)
        ingest_s = time.perf_counter() - began
        before_b = samples_bytes(path)
        last = prepared[-1][-1]
        record = RunRecord(id=run_id, project="bench", started_at="2023-11-14T22:13:20+00:00",
                           duration_s=last.time_s - T0, energy_j=sum(last.energy_j))
        began = time.perf_counter()
        store.finish_run(record)  # thins to 2,000 samples (default limit)
        if not downsample_in_flight:
            store.downsample(run_id, 2000)
        finish_s = time.perf_counter() - began
        _, kept = store.samples(run_id)
        store.close()
        file_b = os.path.getsize(path)  # closing checkpointed the WAL into the file
        after_b = samples_bytes(path)
    return {
        "ingest_s": ingest_s, "rate": total / ingest_s, "before_b": before_b,
        "kept": len(kept), "after_b": after_b, "finish_s": finish_s, "file_b": file_b,
    }


def main() -> None:
    """Run the benchmark and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--batches", default="10,100,1000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.batches.split(",")]
    print(f"{args.samples:,} samples x {len(DEVICES)} devices, SQLite {sqlite3.sqlite_version}")
    for in_flight in (False, True):
        label = "in-flight downsampling" if in_flight else "no in-flight downsampling"
        for size in sizes:
            r = run_case(args.samples, size, downsample_in_flight=in_flight)
            print(
                f"{label:26s} batch {size:>5}: ingest {r['ingest_s']:6.2f} s "
                f"({r['rate']:>9,.0f} samples/s); samples table before "
                f"{r['before_b'] / 1e6:7.2f} MB ({r['before_b'] / args.samples:5.1f} B/sample), "
                f"after finish {r['kept']} samples = {r['after_b']:,} B "
                f"({r['after_b'] / max(r['kept'], 1):5.1f} B/stored sample, "
                f"{r['after_b'] / args.samples:.3f} B/ingested sample); "
                f"finish {r['finish_s']:.2f} s; file {r['file_b']:,} B"
            )


if __name__ == "__main__":
    main()
