"""``wattlm run`` and ``track(pid=)`` refuse bad input in one line, before any work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import wattlm
from wattlm.cli.main import main
from wattlm.store import open_store


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _stored_runs() -> int:
    db = Path(os.environ["WATTLM_DB"])
    if not db.exists():
        return 0
    store = open_store(str(db))
    try:
        return len(store.list_runs())
    finally:
        store.close()


@pytest.mark.parametrize(("options", "message"), [
    (["--interval", "nan"], "--interval must be a number of seconds > 0"),
    (["--interval", "inf"], "--interval must be a number of seconds > 0"),
    (["--interval", "1e308"], "<= 86400"),
    (["--baseline", "inf"], "--baseline must be a number of seconds >= 0"),
    (["--baseline", "nan"], "--baseline must be a number of seconds >= 0"),
    (["--baseline", "1e9"], "<= 3600"),
    (["--project", ""], "--project must not be empty"),
    (["--project", "  "], "--project must not be empty"),
    (["-o", "."], "is a directory"),
])
def test_bad_options_exit_2_before_the_command_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str],
        message: str) -> None:
    marker = tmp_path / "ran"
    code = main(["run", "--region", "FR", *options, "--", sys.executable, "-c",
                 f"open({str(marker)!r}, 'w')"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()  # the work never started
    assert _stored_runs() == 0  # nothing half-written


def test_output_below_a_file_fails_before_the_work(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    marker = tmp_path / "ran"
    assert main(["run", "--region", "FR", "-o", str(blocker / "r.json"), "--", sys.executable,
                 "-c", f"open({str(marker)!r}, 'w')"]) == 2
    assert "does not exist" in capsys.readouterr().err and not marker.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_output_fails_before_the_work(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    marker = tmp_path / "ran"
    try:
        assert main(["run", "--region", "FR", "-o", str(locked / "r.json"), "--",
                     sys.executable, "-c", f"open({str(marker)!r}, 'w')"]) == 2
    finally:
        locked.chmod(0o700)
    assert not marker.exists()


def test_env_with_a_dead_pid_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    pid = _dead_pid()
    assert main(["env", "--pid", str(pid)]) == 2
    err = capsys.readouterr().err
    assert f"argument --pid: no process {pid} is running here" in err
    assert len(err.strip().splitlines()) == 1


def test_track_with_a_dead_pid_raises_a_clear_error() -> None:
    pid = _dead_pid()
    message = rf"track\(pid=\.\.\.\): no process {pid} is running here"
    with pytest.raises(wattlm.WattlmError, match=message):
        wattlm.track(pid=pid)
    with pytest.raises(wattlm.WattlmError, match="positive process id"):
        wattlm.track(pid=0)
