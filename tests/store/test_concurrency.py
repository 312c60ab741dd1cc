"""Several processes on one store, and a writer killed mid-run (real processes, spawn)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.store._multiprocess import check_four_writers, check_killed_writer


def test_four_processes_write_one_store(tmp_path: Path) -> None:
    check_four_writers(str(tmp_path / "shared.db"), tmp_path, join_timeout_s=120)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkilled_writer_leaves_a_readable_run(tmp_path: Path) -> None:
    check_killed_writer(str(tmp_path / "killed.db"), tmp_path, wait_s=60)
