"""Several processes on one store, and a writer killed mid-run (real processes, spawn)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.store._helpers import T0, killed_writer, ramp, writer
from wattlm.store import open_store


def test_four_processes_write_one_store(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"ids-{w}.txt" for w in range(4)]
    procs = [ctx.Process(target=writer, args=(db, w, 5, 8, str(outs[w]))) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    ids = [int(i) for out in outs for i in out.read_text().split()]
    assert len(ids) == len(set(ids)) == 20
    with open_store(db) as store:
        runs = store.list_runs(limit=100)
        assert sorted(r.id or -1 for r in runs) == sorted(ids)
        for w in range(4):
            assert len(store.list_runs(project=f"worker-{w}")) == 5
        for run_id in ids:
            _, samples = store.samples(run_id)
            assert samples == ramp(40)  # every batch of every process, in order
            record = store.get_run(run_id)
            assert record.status == "interrupted"  # writers exited without finish_run
            assert record.devices[0].energy_j == 300.0 * 39


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkilled_writer_leaves_a_readable_run(tmp_path: Path) -> None:
    db = str(tmp_path / "killed.db")
    ready = tmp_path / "ready.txt"
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=killed_writer, args=(db, str(ready)))
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ready.exists() and int(ready.read_text().split()[1]) >= 5:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the writer never committed 5 batches")
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=30)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
    assert proc.exitcode == -signal.SIGKILL
    run_id, committed = (int(x) for x in ready.read_text().split())
    with open_store(db) as store:
        _, samples = store.samples(run_id)
        # the report file is written after each commit: the store holds at least that many
        # batches, and at most one more (killed between commit and report)
        assert committed * 10 <= len(samples) <= (committed + 1) * 10
        assert samples == ramp(len(samples))
        record = store.get_run(run_id)
        assert record.status == "interrupted"
        assert record.degraded and "W305" in record.warnings[0]
        assert record.duration_s == samples[-1].time_s - T0
        assert record.devices[0].energy_j == 300.0 * (len(samples) - 1)
        assert store.list_runs()[0].status == "interrupted"
