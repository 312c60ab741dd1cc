"""How tests/store/data/runs-v1.db was made (run once, with wattlm at commit 4744b49, schema 1).

    PYTHONPATH=src python tests/store/data/make_v1_store.py /tmp/v1.db
    python -c "import sqlite3; sqlite3.connect('/tmp/v1.db').execute(
        'PRAGMA wal_checkpoint(TRUNCATE)')"
    cp /tmp/v1.db tests/store/data/runs-v1.db

(the checkpoint folds the killed writer's WAL into the file, so the one file holds both runs;
the file stays in WAL journal mode, as every wattlm store is).

It tracks two FakeSensor runs through the real tracker into a fresh SQLite file: run 1 finishes
normally (two devices, one phase); run 2 is created and given samples by a child process that is
then killed (SIGKILL), so it stays ``running`` with a dead writer, as after a crash. The device
``model`` names are set on the sensors but schema 1 has no column for them, so the unfinished
run loses them; the migration test checks what version 2 recovers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from dataclasses import replace

import wattlm
from wattlm.sensors.fake import FakeSensor


def _sensor(name: str, kind: str, power_w: float, model: str) -> FakeSensor:
    sensor = FakeSensor(name, kind, power_w=power_w)
    sensor.info = replace(sensor.info, model=model)
    return sensor


def _killed_child(db: str) -> None:
    tracker = wattlm.track(project="crashed", region="FR", db=db, interval_s=0.05, flush_s=0.1,
                           sensors=[_sensor("fake-gpu0", "gpu", 250.0, "NVIDIA A100-SXM4-40GB")])
    tracker.start()
    while True:
        time.sleep(0.05)


def main(db: str) -> None:
    sensors = [_sensor("fake-gpu0", "gpu", 300.0, "NVIDIA H100 80GB HBM3"),
               _sensor("fake-cpu", "cpu", 40.0, "Intel Xeon Platinum 8480+")]
    with wattlm.track(project="demo", region="FR", db=db, interval_s=0.05, flush_s=0.1,
                      sensors=sensors) as run, run.phase("train"):
        time.sleep(0.5)
    child = multiprocessing.get_context("spawn").Process(target=_killed_child, args=(db,))
    child.start()
    time.sleep(3.0)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join()


if __name__ == "__main__":
    main(sys.argv[1])
