"""Issue 13, strict at the door: each bad input below is one stderr line and exit 2.

The cases come from the issue's lists (catalogue queries that listed everything, a dead or
huge ``--pid``, empty or multi-line text options, a bad ``WATTLM_CPU_TDP_W``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wattlm.cli.main import main


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("wattlm: error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", ["hardware", "models"])
@pytest.mark.parametrize("query", ["🌍", ".*[", "***", "()"])
def test_catalogue_query_without_letters_is_no_match(command: str, query: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Before: the whole catalogue was listed (every name contains the empty string)."""
    assert main([command, query]) == 2
    line = _one_error_line(capsys)
    assert "matched literally" in line and f"`wattlm {command}`" in line


def test_catalogue_query_is_literal_and_still_suggests(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hardware", "h100.*"]) == 0  # punctuation ignored: 'h100' matches
    assert "H100-SXM" in capsys.readouterr().out
    assert main(["hardware", "x" * 5000]) == 2
    line = _one_error_line(capsys)
    assert len(line) < 400  # the bad value is shown cut, not 5,000 characters


def test_env_pid_dead_or_huge(capsys: pytest.CaptureFixture[str]) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid names no process (until reused, which takes a while)
    assert main(["env", "--pid", str(child.pid)]) == 2
    assert f"no process {child.pid} is running" in _one_error_line(capsys)
    assert main(["env", "--pid", "9" * 30]) == 2
    assert "pid must be a whole number in [1, 4,194,304]" in _one_error_line(capsys)
    assert main(["env", "--pid", str(os.getpid()), "--format", "json"]) == 0


@pytest.mark.parametrize(("argv", "fragment"), [
    (["runs", "--project", ""], "argument --project: project must be a non-empty line"),
    (["runs", "--project", "a\nb"], "argument --project: project must be"),
    (["show", "last", "--region", ""], "argument --region: region must be a non-empty line"),
    (["dashboard", "--host", "a\nb"], "argument --host: host must be"),
])
def test_text_options(argv: list[str], fragment: str, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    assert main([*argv, "--db", str(db)]) == 2
    assert fragment in _one_error_line(capsys)
    assert not db.exists()  # checked before the store is opened


@pytest.mark.parametrize("value", ["-5", "abc", "nan", "1e9"])
def test_bad_cpu_tdp_stops_run_at_the_door(value: str, tmp_path: Path) -> None:
    """Before: the CPU sensor was silently dropped and the run went on (exit 0)."""
    marker = tmp_path / "ran"
    env = {**os.environ, "WATTLM_CPU_TDP_W": value, "WATTLM_DB": str(tmp_path / "runs.db")}
    proc = subprocess.run(
        [sys.executable, "-m", "wattlm", "run", "--", sys.executable, "-c",
         f"open({str(marker)!r}, 'w').close()"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "environment WATTLM_CPU_TDP_W: cpu_tdp_w must be" in lines[0]
    assert not marker.exists() and not (tmp_path / "runs.db").exists()


@pytest.mark.parametrize("command", ["regions", "hardware", "models"])
@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_is_an_error_not_everything(command: str, query: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, query]) == 2
    assert "non-empty" in _one_error_line(capsys)
