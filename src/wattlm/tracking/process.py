"""Measure a whole command (``wattlm run -- CMD``): its process tree, exit code and signals.

The child inherits stdin/stdout/stderr. SIGINT and SIGTERM are forwarded to it; when it ends,
the run is stopped and saved (``interrupted`` if a signal ended it). The child's exit code is
returned as a shell would report it (``128 + signal`` when killed by one).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

from wattlm.errors import InvalidInputError
from wattlm.records import RunRecord
from wattlm.tracking.tracker import PARENT_RUN_VARIABLE, Tracker

__all__ = ["CommandNotFoundError", "CommandResult", "run_command"]


class CommandNotFoundError(InvalidInputError):
    """The command to measure does not exist (the CLI exits 127, as a shell does)."""


@dataclass
class CommandResult:
    """The measured run and the child's exit code."""

    record: RunRecord
    exit_code: int


def _resolve(command: Sequence[str]) -> str:
    if not command:
        raise InvalidInputError("no command given: use wattlm run [OPTIONS] -- COMMAND [ARGS...]")
    program = command[0]
    if os.sep in program:
        if not os.path.isfile(program):
            raise CommandNotFoundError(f"command not found: {program}")
        if not os.access(program, os.X_OK):
            raise CommandNotFoundError(f"command is not executable: {program}")
        return program
    found = shutil.which(program)
    if found is None:
        raise CommandNotFoundError(f"command not found: {program}")
    return found


def run_command(tracker: Tracker, command: Sequence[str]) -> CommandResult:
    """Start ``tracker``, run ``command`` to completion, stop and return both results.

    The tracker's modelled sensors follow this process's tree, which contains the child and,
    once the child is reaped, its CPU time too. Raises :class:`CommandNotFoundError` (before
    measuring) when the program does not exist.
    """
    program = _resolve(command)
    tracker.command = list(command)
    tracker.start()
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    try:
        env = dict(os.environ)
        if tracker.run_id is not None:  # nested wattlm runs in the child point back to this one
            env[PARENT_RUN_VARIABLE] = str(tracker.run_id)
        child = subprocess.Popen([program, *command[1:]], env=env)
    except OSError as e:
        tracker.stop(exit_code=127, status="failed")
        raise CommandNotFoundError(f"cannot start {command[0]}: {e.strerror or e}") from e
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                returncode = child.wait()
                break
            except KeyboardInterrupt:  # a second Ctrl-C during wait: keep waiting for the child
                continue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    exit_code = 128 - returncode if returncode < 0 else returncode
    status = "interrupted" if received or returncode < 0 else "finished"
    record = tracker.stop(exit_code=exit_code, status=status)
    return CommandResult(record=record, exit_code=exit_code)
