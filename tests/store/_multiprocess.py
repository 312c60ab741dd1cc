"""The multi-process store checks, run the same way against SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from tests.store._helpers import T0, killed_writer, ramp, writer
from wattlm.store import open_store


def check_four_writers(db: str, tmp_path: Path, *, join_timeout_s: float) -> None:
    """Four spawned processes each write 5 runs of 8 batches to ``db``; all 20 runs read back."""
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"ids-{w}.txt" for w in range(4)]
    procs = [ctx.Process(target=writer, args=(db, w, 5, 8, str(outs[w]))) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=join_timeout_s)
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


def check_killed_writer(db: str, tmp_path: Path, *, wait_s: float) -> None:
    """A writer SIGKILLed after 5 committed batches leaves an interrupted, readable run."""
    ready = tmp_path / "ready.txt"
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=killed_writer, args=(db, str(ready)))
    proc.start()
    try:
        deadline = time.monotonic() + wait_s
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
