"""Measure a whole command (``wattlm run -- CMD``) as a good parent does.

* The child runs in its own process group (``--scope session``: its own session). When wattlm
  is in the foreground of a terminal, the child's group gets the terminal, as a shell gives it
  to a job: Ctrl-C, Ctrl-Backslash and Ctrl-Z reach the child once, from the terminal, and never
  again from wattlm; the child can read the terminal. Ctrl-Z stops the child and then wattlm,
  so the shell sees the job stopped; ``fg`` resumes both.
* SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to wattlm are forwarded to the child once each
  (a hang-up of the terminal, which the kernel already delivered to the child's group, is not
  repeated); the run ends when the child does and is saved ``interrupted``.
* If wattlm dies (SIGKILL, a crash), the kernel sends the child SIGTERM (``PR_SET_PDEATHSIG``,
  Linux), and the stored run reads back as ``interrupted`` with warning W305.
* wattlm is a child subreaper while the command runs: double-forked and daemonised
  descendants are re-parented to it, stay measured, and are reaped. Descendants that left the
  session are reported (W131), and so are those still running when the command ends (W132).
* The exit code is the child's, ``128 + N`` when a signal N killed it; 126 when the command is
  not executable (a directory, no execute permission) and 127 when it does not exist.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from wattlm._secrets import mask_text
from wattlm.errors import InvalidInputError, MeasurementWarning, SensorWarning, warn
from wattlm.records import RunRecord
from wattlm.tracking import _parent
from wattlm.tracking.scopes import RunScope, open_scope
from wattlm.tracking.tracker import PARENT_RUN_VARIABLE, Tracker

__all__ = ["FORWARDED_SIGNALS", "CommandNotExecutableError", "CommandNotFoundError",
           "CommandResult", "resolve_command", "run_command"]

#: Signals wattlm forwards to the child, once each.
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class CommandNotFoundError(InvalidInputError):
    """The command to measure does not exist (the CLI exits 127, as a shell does)."""

    exit_code = 127


class CommandNotExecutableError(CommandNotFoundError):
    """The command is a directory or lacks execute permission (exit 126, as a shell does)."""

    exit_code = 126


@dataclass
class CommandResult:
    """The measured run and the child's exit code."""

    record: RunRecord
    exit_code: int


def resolve_command(command: Sequence[str]) -> str:
    """Find the program as a shell would, before anything is measured.

    Raises:
        InvalidInputError: no command.
        CommandNotFoundError: it does not exist (127).
        CommandNotExecutableError: it is a directory or not executable (126).
    """
    if not command or not command[0]:
        raise InvalidInputError("no command given: use wattlm run [OPTIONS] -- COMMAND [ARGS...]")
    program = command[0]
    if os.sep not in program:
        found = shutil.which(program)
        if found is None:
            raise CommandNotFoundError(f"command not found: {program}")
        program = found
    if os.path.isdir(program):
        raise CommandNotExecutableError(f"cannot run {program}: it is a directory")
    if not os.path.exists(program):
        raise CommandNotFoundError(f"command not found: {program} (no such file)")
    if not os.access(program, os.X_OK):
        raise CommandNotExecutableError(f"cannot run {program}: permission denied "
                                        "(not executable; chmod +x it)")
    return program


def _exit_code(status: int) -> int:
    """A ``waitpid`` status as a shell reports it."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


class _Parent:
    """The signal handlers, terminal and orphans of one ``wattlm run``."""

    def __init__(self, terminal: int | None, known_children: set[int]) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.terminal = terminal
        self.known = set(known_children)
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def forward(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.child is not None:  # else attach() forwards it once the child exists
            self._send(signum)

    def _send(self, signum: int) -> None:
        assert self.child is not None
        if signum == signal.SIGHUP and self.terminal is not None and _parent.hung_up(
                self.terminal):
            return  # the kernel hung up the terminal's foreground group: the child has it
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child.pid, signum)

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        """The child exists: forward what arrived while it was starting, reap orphans."""
        self.child = child
        self.known.add(child.pid)
        for signum in list(self.received):
            self._send(signum)
        if self._previous:  # handlers are installed (main thread)
            self._previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, self.reap_orphans)

    def reap_orphans(self, _signum: int = 0, _frame: FrameType | None = None) -> None:
        """Reap adopted descendants that ended (never the child, never others' children)."""
        for pid in _parent.own_children() - self.known:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)

    @contextlib.contextmanager
    def handlers(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signals are delivered to the main thread only: nothing to forward here
            return
        self._previous = {sig: signal.signal(sig, self.forward) for sig in FORWARDED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
            self._previous = {}

    def suspend(self) -> None:
        """The child stopped (Ctrl-Z, or reading the terminal in the background): stop too."""
        assert self.terminal is not None and self.child is not None
        _parent.take_terminal(self.terminal, self.child.pid)
        os.kill(os.getpid(), signal.SIGSTOP)  # the shell sees the job stopped; fg/bg resume us
        if _parent.foreground_terminal() == self.terminal:
            _parent.give_terminal(self.terminal, self.child.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.child.pid, signal.SIGCONT)

    def wait(self) -> int:
        """Wait for the child's end; return the raw wait status."""
        assert self.child is not None
        flags = os.WUNTRACED if self.terminal is not None else 0
        while True:
            try:
                _pid, status = os.waitpid(self.child.pid, flags)
            except ChildProcessError:  # reaped elsewhere: its status is lost
                return 0
            if os.WIFSTOPPED(status):
                self.suspend()
                continue
            self.child.returncode = (-os.WTERMSIG(status) if os.WIFSIGNALED(status)
                                     else os.waitstatus_to_exitcode(status))
            return status


def _spawn(program: str, command: Sequence[str], tracker: Tracker, scope: RunScope,
           terminal: int | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if tracker.run_id is not None:  # nested wattlm runs in the child point back to this one
        env[PARENT_RUN_VARIABLE] = str(tracker.run_id)
    setup = _parent.ChildSetup(new_session=scope.new_session, terminal=terminal,
                               cgroup_procs=scope.cgroup_procs)
    child = subprocess.Popen([program, *command[1:]], env=env, preexec_fn=setup)  # noqa: PLW1509
    if not scope.new_session:
        with contextlib.suppress(OSError):  # as a shell does: set it from both sides
            os.setpgid(child.pid, child.pid)
        if terminal is not None:
            _parent.give_terminal(terminal, child.pid)
    return child


def run_command(tracker: Tracker, command: Sequence[str], *, scope: str = "tree",
                cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup") -> CommandResult:
    """Start ``tracker``, run ``command`` to completion, stop and return both results.

    Args:
        tracker: a tracker not yet started (its modelled sensors follow ``scope``).
        command: program and arguments.
        scope: ``tree`` (this process and its descendants), ``session`` or ``cgroup``; see
            :mod:`wattlm.sensors.scope`.
        cgroup_root: the cgroup mount, for ``scope="cgroup"``.

    Raises:
        CommandNotFoundError: before measuring, when the program does not exist (127) or
            cannot be executed (:class:`CommandNotExecutableError`, 126).
    """
    program = resolve_command(command)
    tracker.command = [mask_text(arg) for arg in command]  # stored: no credential
    with open_scope(scope, os.getpid(), cgroup_root=cgroup_root) as run_scope:
        subreaper = _parent.set_subreaper(True)
        if subreaper is None:
            run_scope.note = warn(
                "no PR_SET_PDEATHSIG / PR_SET_CHILD_SUBREAPER here (not Linux): if wattlm is "
                "killed the command keeps running (the stored run then reads back interrupted, "
                "W305), and double-forked descendants may escape the tree", SensorWarning,
                "W422")
        try:
            return _measure(tracker, program, command, run_scope)
        finally:
            if subreaper is not None:
                _parent.set_subreaper(subreaper)


def _measure(tracker: Tracker, program: str, command: Sequence[str],
             scope: RunScope) -> CommandResult:
    known = _parent.own_children()
    terminal = None if scope.new_session else _parent.foreground_terminal()
    tracker.start()
    parent = _Parent(terminal, known)
    with parent.handlers():  # before the child exists: a signal is never lost or fatal
        try:
            child = _spawn(program, command, tracker, scope, terminal)
        except (OSError, subprocess.SubprocessError) as e:
            code = 127 if isinstance(e, FileNotFoundError) else 126
            tracker.stop(exit_code=code, status="failed")
            cls = CommandNotFoundError if code == 127 else CommandNotExecutableError
            raise cls(f"cannot start {command[0]}: {getattr(e, 'strerror', None) or e}") from e
        parent.attach(child)
        scope.started(child.pid, tracker, known)
        try:
            status = parent.wait()
        finally:
            if terminal is not None:
                _parent.take_terminal(terminal, child.pid)
    parent.reap_orphans()
    exit_code = _exit_code(status)
    for signum in dict.fromkeys(parent.received):
        tracker.add_warning(warn(f"wattlm received {signal.Signals(signum).name} and forwarded "
                                 f"it to the command (pid {child.pid}); the run ends with the "
                                 "command and is stored as interrupted",
                                 MeasurementWarning, "W421"))
    for text in scope.finished(child.pid):
        tracker.add_warning(text)
    interrupted = bool(parent.received) or os.WIFSIGNALED(status)
    status_text = "interrupted" if interrupted else "failed" if exit_code else "finished"
    record = tracker.stop(exit_code=exit_code, status=status_text)
    return CommandResult(record=record, exit_code=exit_code)
