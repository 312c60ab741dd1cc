"""Store benchmark: ingest one million synthetic samples (4 devices) as the tracker would.

Prints, for each batch size (samples per ``add_samples`` call: at 1 s sampling a 10 s flush
gives 10, at 10 ms sampling 1,000):

* seconds and samples/s to ingest 1,000,000 samples into one run;
* bytes the samples occupy on disk before downsampling (downsampling disabled) and after
  ``finish_run`` thinned them to 2,000, and the bytes per stored sample;
* the same ingest with the default in-flight downsampling (the store never holds more than
  2 x 2,000 samples of the run).

With ``--listing N`` it instead fills a store with N finished runs (records as the tracker
writes them: two devices, two phases, a footprint) and prints the reading figures of issue 12:
wall-clock seconds of ``wattlm runs --limit N --format json`` (to a pipe), ``wattlm runs``,
``wattlm show``, the dashboard's ``/`` and ``/api/runs?limit=N`` against a real server, and
``wattlm runs`` while another connection holds the write lock (readers must not wait); and the
ratio of the old listing path (parse, rebuild and re-encode every record) to the pass-through.

Usage: ``python bench/bench_store.py [--samples N] [--batches 10,100,1000]`` or
``python bench/bench_store.py --listing 10000``.
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


def _record(run_id: int) -> RunRecord:
    from wattlm.records import DeviceEnergy, Footprint, PhaseRecord
    from wattlm.units import Range

    return RunRecord(
        id=run_id, project=f"project-{run_id % 20}", started_at="2023-11-14T22:13:20+00:00",
        duration_s=99.0, energy_j=34650.0,
        devices=[DeviceEnergy("gpu0", "gpu", 29700.0, Provenance.MEASURED, 300.0, 310.0,
                              model="NVIDIA H100 80GB HBM3"),
                 DeviceEnergy("package-0", "cpu", 4950.0, Provenance.MODELLED, 50.0, 55.0)],
        phases=[PhaseRecord("train", T0 + 1, 60.0, 21000.0, {"gpu0": 18000.0}),
                PhaseRecord("eval", T0 + 61, 30.0, 10500.0)],
        region="FR", intensity_g_per_kwh=56.0, pue=1.2, emissions_g=0.6468,
        provenance=Provenance.MODELLED, warnings=["W201: no region given"], exit_code=0,
        command=["python", "train.py"], host="h", mean_power_w=350.0, peak_power_w=365.0,
        footprint=Footprint(Range(0.009, 0.0096, 0.011), Range(5e-4, 6.5e-4, 8e-4),
                            Range.exact(1e-4), Range(0.01, 0.02, 0.03),
                            {"pue": {"value": 1.2, "source": "user", "provenance": "assumed"}}),
    )


def _timed(argv: list[str], env: dict[str, str]) -> float:
    import subprocess
    import sys

    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "wattlm", *argv], env=env,
                          capture_output=True, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"wattlm {' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def listing(count: int) -> None:
    """Fill a store with ``count`` finished runs and print the reading figures."""
    import json
    import threading
    import urllib.request

    from wattlm.cli._output import to_jsonable
    from wattlm.dashboard.server import make_server

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.db"
        began = time.perf_counter()
        with SQLiteStore(path) as store:
            for _ in range(count):
                run_id = store.create_run(project="p", started_at="2023-11-14T22:13:20+00:00",
                                          devices=DEVICES[:2])
                store.finish_run(_record(run_id))
        print(f"{count:,} finished runs written in {time.perf_counter() - began:.1f} s "
              f"({os.path.getsize(path) / 1e6:.1f} MB)")
        env = {**os.environ, "WATTLM_DB": str(path)}
        import resource

        figures = {
            f"wattlm runs --limit {count} --format json": _timed(
                ["runs", "--limit", str(count), "--format", "json"], env)}
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        figures |= {
            "wattlm runs": _timed(["runs"], env),
            f"wattlm runs --limit {count}": _timed(["runs", "--limit", str(count)], env),
            "wattlm show last": _timed(["show", "last"], env),
            f"wattlm show {count // 2}": _timed(["show", str(count // 2)], env),
            "wattlm --help (interpreter + import floor)": _timed(["--help"], env),
        }
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        figures["wattlm runs, write lock held elsewhere"] = _timed(["runs"], env)
        writer.execute("ROLLBACK")
        writer.close()
        server = make_server(path, port=0)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        for page in ("", f"api/runs?limit={count}"):
            began = time.perf_counter()
            with urllib.request.urlopen(server.url + page, timeout=120) as response:
                response.read()
            figures[f"dashboard /{page}"] = time.perf_counter() - began
        server.shutdown()
        server.server_close()
        with SQLiteStore(path, read_only=True) as store:
            began = time.perf_counter()
            old = json.dumps(to_jsonable([r.to_dict() for r in store.list_runs(limit=count)]),
                             indent=2)
            old_s = time.perf_counter() - began
            began = time.perf_counter()
            new = "[\n" + ",\n".join(store.list_documents(limit=count)) + "\n]\n"
            new_s = time.perf_counter() - began
        assert json.loads(old) == json.loads(new)
    for name, seconds in figures.items():
        print(f"{name:52s} {seconds:6.3f} s")
    print(f"peak RSS of `wattlm runs --limit {count} --format json`: {peak_mib:.0f} MiB")
    print(f"listing {count:,} records in-process: parse+rebuild+re-encode {old_s:.3f} s, "
          f"pass-through {new_s:.3f} s, ratio {old_s / new_s:.1f}x")


def main() -> None:
    """Run the benchmark and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--batches", default="10,100,1000")
    parser.add_argument("--listing", type=int, default=0, metavar="N",
                        help="instead: the reading figures over a store of N finished runs")
    args = parser.parse_args()
    if args.listing:
        listing(args.listing)
        return
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
