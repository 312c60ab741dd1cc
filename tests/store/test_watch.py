"""A store file that disappears, is replaced or cannot be written mid-run (issue 10, item 4).

The store checks before each write that its file is still the one it opened; the run is then
copied into a recreated store (W320) or, when nothing can be stored, written as JSON (W321).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import pytest

import wattlm
from tests.store._helpers import DEVICES, STARTED_AT, finished_record, ramp
from wattlm.errors import StoreError, StoreWarning
from wattlm.sensors.fake import FakeSensor
from wattlm.store import open_store


def _delete_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _store_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, StoreWarning)]


def test_a_deleted_store_is_recreated_with_the_whole_run(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with open_store(path) as other:  # an older run, lost with the file
        other.finish_run(finished_record(other.create_run(
            project="old", started_at=STARTED_AT, devices=DEVICES)))
    store = open_store(path)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    assert run_id == 2
    store.add_samples(run_id, ramp(10))
    _delete_store(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.add_samples(run_id, ramp(10, start=10))
    [message] = _store_warnings(caught)
    assert message.startswith(f"W320: the store {path} was deleted during run 2; it was "
                              "recreated there and the run continues as run 1 (10 samples")
    store.add_samples(run_id, ramp(5, start=20))  # the caller's id still works
    record = finished_record(run_id)
    store.finish_run(record)
    store.close()
    assert record.id == 1 and message in record.warnings  # the summary names the stored id
    with open_store(path, read_only=True) as again:
        back = again.get_run(1)
        assert message in back.warnings
        assert again.samples(1)[1] == ramp(25)  # every sample, from before and after
    for suffix in ("-wal", "-shm"):  # closing the old connection did not unlink the new files
        assert not Path(f"{path}{suffix}.wattlm-aside").exists()


def test_a_replaced_store_receives_the_run(tmp_path: Path) -> None:
    path, elsewhere = tmp_path / "runs.db", tmp_path / "backup.db"
    store = open_store(path)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    store.add_samples(run_id, ramp(4))
    with open_store(elsewhere) as backup:
        for _ in range(3):
            backup.create_run(project="b", started_at=STARTED_AT, devices=DEVICES)
    os.replace(elsewhere, path)
    for suffix in ("-wal", "-shm"):
        Path(f"{elsewhere}{suffix}").unlink(missing_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.add_samples(run_id, ramp(4, start=4))
    assert "was replaced by another file during run 1" in _store_warnings(caught)[0]
    record = finished_record(run_id)
    store.finish_run(record)
    store.close()
    assert record.id == 4
    with open_store(path, read_only=True) as again:
        assert [r.project for r in again.list_runs()] == ["bert", "b", "b", "b"]
        assert again.samples(4)[1] == ramp(8)


def test_a_store_that_cannot_be_recreated_gets_the_run_as_json(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    folder = tmp_path / "store"
    path = folder / "runs.db"
    store = open_store(path)
    run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
    store.add_samples(run_id, ramp(3))
    _delete_store(path)
    folder.rmdir()
    folder.write_text("now a file")  # the store's directory cannot come back
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="and it cannot be recreated"):
        store.add_samples(run_id, ramp(3, start=3))  # the writer keeps its samples, retries
    record = finished_record(run_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.finish_run(record)
    store.close()
    [message] = _store_warnings(caught)
    written = tmp_path / message.rsplit(" to ", 1)[1].rsplit("/", 1)[1]
    assert message.startswith(f"W321: run {run_id} could not be saved in the store {path}")
    assert record.id is None  # not "run 1": it is not in any store
    data = json.loads(written.read_text())
    assert data["energy_j"] == finished_record(1).energy_j and f"W321: {message[6:]}" in (
        data["warnings"])


def test_the_tracker_result_names_the_recreated_run(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with open_store(path) as other:
        other.create_run(project="earlier", started_at=STARTED_AT, devices=DEVICES)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with wattlm.track(sensors=[FakeSensor("gpu0", "gpu", power_w=50.0)], db=str(path),
                          project="job", region="FR", interval_s=0.02, flush_s=0.05) as run:
            time.sleep(0.3)
            _delete_store(path)
            time.sleep(0.3)
    result = run.result
    assert result is not None and result.id == 1, result.warnings
    assert any(w.startswith("W320: ") and "during run 2" in w for w in result.warnings)
    with open_store(path, read_only=True) as again:
        stored = again.get_run(1)
        assert stored.project == "job" and stored.energy_j == pytest.approx(result.energy_j)
        assert len(again.samples(1)[1]) >= 10  # samples from before the deletion survived


def _small_tmpfs(folder: Path) -> bool:
    """Mount a 256 KiB tmpfs on ``folder`` (root, Linux); False if not possible."""
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                          capture_output=True, check=False)
    return done.returncode == 0


def test_a_full_disk_keeps_the_samples_for_a_retry_and_the_run_as_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    folder = tmp_path / "small"
    if not _small_tmpfs(folder):
        pytest.skip("needs root and mount to make a small file system")
    store = open_store(folder / "runs.db")
    try:
        run_id = store.create_run(project="p", started_at=STARTED_AT, devices=DEVICES)
        store.add_samples(run_id, ramp(10))
        filler = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
        try:  # the disk fills up mid-run
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(filler)
        with pytest.raises(StoreError, match="cannot add samples"):
            store.add_samples(run_id, ramp(20_000, start=10))  # kept by the caller, retried
        monkeypatch.chdir(tmp_path)
        record = finished_record(run_id)
        record.devices[0].name = "x" * 300_000  # a record that cannot fit either
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            store.finish_run(record)
        store.close()
        [message] = _store_warnings(caught)
        assert message.startswith(f"W321: run {run_id} could not be saved in the store")
        assert message.endswith(".json") and f" to {tmp_path}/wattlm-run-bert-" in message
        assert record.id is None
        (folder / "filler").unlink()
        with open_store(folder / "runs.db", read_only=True) as again:  # nothing half-written
            back = again.get_run(run_id)
            assert back.status == "running" and again.samples(run_id)[1] == ramp(10)
    finally:
        store.close()
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_wattlm_run_names_the_run_as_stored_after_the_child_deletes_the_store(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from wattlm.cli.main import main

    db = tmp_path / "job.db"
    with open_store(db) as other:
        other.create_run(project="earlier", started_at=STARTED_AT, devices=DEVICES)
    script = ("import os, time; time.sleep(0.3); "
              + "; ".join(f"os.path.exists({str(db) + s!r}) and os.remove({str(db) + s!r})"
                          for s in ("", "-wal", "-shm")) + "; time.sleep(0.3)")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["run", "--db", str(db), "--region", "FR", "--", sys.executable, "-c",
                     script]) == 0
    err = capsys.readouterr().err
    assert "W320: " in err and "continues as run 1" in err
    assert "run 2" not in err.split("W320")[0]  # nothing claims the lost id before the warning
    with open_store(db, read_only=True) as again:
        [run] = again.list_runs()
        assert run.id == 1 and run.command is not None and run.command[0] == sys.executable
