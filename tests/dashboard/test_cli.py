"""``wattlm dashboard`` from the command line: URL line, JSON served, Ctrl-C stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.dashboard._helpers import Stored
from wattlm.cli.main import main


def test_help_names_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out and "--db" in out and "127.0.0.1" in out


def test_bad_host_or_port_is_one_error_line_without_the_warning(
        capsys: pytest.CaptureFixture[str], stored: Stored) -> None:
    for argv, message in (
            (["--host", "0.0.0.0", "--port", "-5"], "port must be a whole number from 0 to"),
            (["--host", "no such host!", "--port", "0"], "cannot listen on no such host!"),
            (["--host", "999.1.1.1", "--port", "0"], "cannot listen on 999.1.1.1")):
        assert main(["dashboard", *argv, "--db", stored.db]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"wattlm: error: {message}") and err.count("\n") == 1, err
        assert "anyone who can reach" not in err


def test_a_missing_store_is_one_error_line_and_creates_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["dashboard", "--port", "0", "--db", str(tmp_path / "typo" / "x.db")]) == 2
    assert capsys.readouterr().err.startswith(f"wattlm: error: no store at {tmp_path}")
    assert not (tmp_path / "typo").exists()


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


def test_request_errors_are_logged_to_stderr(stored: Stored) -> None:
    import sqlite3

    conn = sqlite3.connect(stored.db)
    with conn:
        conn.execute("UPDATE runs SET record = 'not json' WHERE id = ?", (stored.plain_id,))
    conn.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "wattlm", "dashboard", "--port", "0", "--db", stored.db],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[3]
        try:
            urllib.request.urlopen(f"{url}runs/{stored.plain_id}", timeout=30)
        except urllib.error.HTTPError as e:
            assert e.code == 500 and b"is damaged" in e.read()
        with urllib.request.urlopen(url + "api/runs", timeout=30) as response:
            assert [r["id"] for r in json.load(response)] == [stored.evil_id]
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert f"wattlm dashboard: WARNING: dashboard request /runs/{stored.plain_id}: run " in err
    assert f"W322: run {stored.plain_id} " in err and "Traceback" not in err
