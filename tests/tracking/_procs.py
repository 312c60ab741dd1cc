"""Helpers for tests that run ``wattlm run`` as a real process and signal it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

WAIT_S = 60.0  # generous: the machine is shared and loaded


def wattlm_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "wattlm", *args]


def wait_for(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def kill_quietly(*pids: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def read_pids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(p) for p in path.read_text().split() if p.isdigit()]


def start(args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(wattlm_argv(*args), **kwargs)  # type: ignore[call-overload]
