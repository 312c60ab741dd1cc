"""``wattlm dashboard`` from the command line: URL line, JSON served, Ctrl-C stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard._helpers import Stored
from wattlm.cli.main import main


def test_help_names_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out and "--db" in out and "127.0.0.1" in out


def test_remote_host_warns_and_bad_port_is_one_error_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["dashboard", "--host", "0.0.0.0", "--port", "-5", "--db",
                 str(tmp_path / "x.db")])
    err = capsys.readouterr().err
    assert code == 2
    assert "wattlm: warning: the dashboard listens on 0.0.0.0" in err
    assert "wattlm: error: port must be a whole number from 0 to 65535" in err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics")
def test_serves_until_ctrl_c(stored: Stored) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "wattlm", "dashboard", "--port", "0", "--db", stored.db],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("wattlm dashboard at http://127.0.0.1:"), line
        url = line.split()[3]
        with urllib.request.urlopen(url + "api/runs", timeout=30) as response:
            ids = [r["id"] for r in json.load(response)]
        assert ids == [stored.plain_id, stored.evil_id]
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "wattlm dashboard stopped" in err
    assert "Traceback" not in err
