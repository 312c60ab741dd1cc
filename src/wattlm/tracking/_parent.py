"""The operating-system side of being a good parent: prctl, the terminal, adopted orphans.

Linux facilities, each optional (elsewhere, or where a call fails, the feature is simply off):

* ``PR_SET_PDEATHSIG``: the kernel sends the child SIGTERM when wattlm dies, even by SIGKILL.
  Set in the child between fork and exec; the signal follows the *thread* that forked, which
  is the thread that waits for the child, so it never fires early.
* ``PR_SET_CHILD_SUBREAPER``: orphaned descendants (double-forked, daemonised) are re-parented
  to wattlm instead of init, so they stay in the measured tree; wattlm reaps them.
* Terminal hand-over, as a shell does for a job: the child's process group becomes the
  terminal's foreground group, so Ctrl-C, Ctrl-Backslash and Ctrl-Z reach it exactly once, and it
  can read the terminal; wattlm takes the terminal back when the child stops or ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["ChildSetup", "foreground_terminal", "give_terminal", "hung_up", "own_children",
           "set_subreaper", "take_terminal"]

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
#: What the child receives when wattlm dies: a request to stop, which it may handle (save).
DEATH_SIGNAL = signal.SIGTERM


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()


def set_subreaper(on: bool) -> bool | None:
    """Make this process a child subreaper (or not); returns the previous state (None: n/a)."""
    if _PRCTL is None:
        return None
    previous = ctypes.c_int(0)
    if _PRCTL(PR_GET_CHILD_SUBREAPER, ctypes.byref(previous), 0, 0, 0) != 0:
        return None
    if _PRCTL(PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(int(on)), 0, 0, 0) != 0:
        return None
    return bool(previous.value)


def own_children() -> set[int]:
    """Direct children of this process (``/proc/self/task/*/children``)."""
    found: set[int] = set()
    base = Path("/proc/self/task")
    try:
        tasks = list(base.iterdir())
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError, ValueError):
            found.update(int(p) for p in (task / "children").read_text().split())
    return found


def foreground_terminal() -> int | None:
    """A terminal fd (stdin, stdout or stderr) whose foreground group is this process's."""
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
                return fd
    return None


def _set_foreground(fd: int, pgid: int) -> bool:
    """``tcsetpgrp`` with SIGTTOU blocked (a background caller would otherwise be stopped)."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(fd, pgid)
        return True
    except OSError:
        return False
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def give_terminal(fd: int, pgid: int) -> bool:
    """Make ``pgid`` the terminal's foreground process group."""
    return _set_foreground(fd, pgid)


def take_terminal(fd: int, from_pgid: int) -> bool:
    """Make this process's group the terminal's foreground group again.

    Only while ``from_pgid`` (the child's group) holds it: after ``bg`` the shell holds the
    terminal, and taking it would leave the shell in the background.
    """
    try:
        if os.tcgetpgrp(fd) != from_pgid:
            return False
    except OSError:
        return False
    return _set_foreground(fd, os.getpgrp())


def hung_up(fd: int) -> bool:
    """Whether the terminal was hung up (its foreground group got SIGHUP from the kernel)."""
    try:
        os.tcgetpgrp(fd)
    except OSError:
        return True
    return False


class ChildSetup:
    """What the child does between fork and exec (``preexec_fn``); only async-safe calls.

    Args:
        new_session: ``setsid()`` (``--scope session``) instead of a new process group.
        terminal: a terminal fd to make the child's group the foreground one.
        cgroup_procs: a ``cgroup.procs`` file to move the child into (``--scope cgroup``).
    """

    def __init__(self, *, new_session: bool = False, terminal: int | None = None,
                 cgroup_procs: Path | None = None) -> None:
        self.new_session = new_session
        self.terminal = terminal
        self.cgroup_procs = os.fsencode(cgroup_procs) if cgroup_procs else None
        self.parent = os.getpid()

    def __call__(self) -> None:
        """Run in the child: group, terminal, death signal, cgroup."""
        if self.new_session:
            os.setsid()
        else:
            os.setpgid(0, 0)
            if self.terminal is not None:
                _set_foreground(self.terminal, os.getpgrp())
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, ctypes.c_ulong(DEATH_SIGNAL), 0, 0, 0)
            if os.getppid() != self.parent:  # wattlm died before the death signal was armed
                os._exit(128 + DEATH_SIGNAL)
        if self.cgroup_procs is not None:
            with contextlib.suppress(OSError):  # the parent checks where the child ended up
                fd = os.open(self.cgroup_procs, os.O_WRONLY)
                try:
                    os.write(fd, b"0")
                finally:
                    os.close(fd)
