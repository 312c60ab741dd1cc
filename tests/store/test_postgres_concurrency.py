"""Several processes on one PostgreSQL store, and a writer killed mid-run (real processes).

The four writers open a schema that does not exist yet, so they also race to create it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.store._multiprocess import check_four_writers, check_killed_writer


def test_four_processes_write_one_store(postgres_url: str, tmp_path: Path) -> None:
    check_four_writers(postgres_url, tmp_path, join_timeout_s=180)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkilled_writer_leaves_a_readable_run(postgres_url: str, tmp_path: Path) -> None:
    check_killed_writer(postgres_url, tmp_path, wait_s=90)
