"""Which processes a run measures (its *scope*), read once per sample for both modelled sensors.

Three scopes (``wattlm run --scope``; see ``docs/methodology/measurement.md``):

* ``tree`` (default): the tracked process and its descendants (:class:`ProcessTree`).
* ``session``: the tree plus every process in the command's session, wherever it was
  re-parented (the command starts in a session of its own).
* ``cgroup``: every process in a cgroup: the run's own cgroup v2 when ``wattlm run`` can create
  one, else the process's cgroup (a container, a job scheduler's allocation, a systemd scope:
  other processes in it are counted too, and a warning says so). CPU time comes from the
  cgroup's own counter, which includes processes that lived only milliseconds.

The CPU and memory model sensors of a run share one scope object and so one walk per sample:
the CPU sensor takes a fresh :class:`TreeSnapshot`, the memory sensor reuses one younger than
:data:`SHARE_S`. :func:`scope_for` hands out that shared object; :func:`use_scope` lets
``wattlm run`` choose the scope of its own process before the sensors are probed.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from wattlm.sensors.cgroup import cgroup_cpu_usage_s, cgroup_pids
from wattlm.sensors.proctree import DEFAULT_REFRESH_S, ProcessTree, TreeSnapshot

__all__ = ["SCOPES", "SHARE_S", "CgroupScope", "ProcessScope", "SessionScope", "TreeScope",
           "scope_for", "session_members", "use_scope"]

#: The scope names ``wattlm run --scope`` accepts.
SCOPES = ("tree", "session", "cgroup")
#: A snapshot younger than this is shared by the next reader that accepts it (the memory model).
SHARE_S = 0.1


class ProcessScope(ABC):
    """A set of processes whose CPU time and resident memory the models attribute to the run.

    Args:
        clock: injectable monotonic clock.
    """

    kind = "tree"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: TreeSnapshot | None = None
        self._warned: set[int] = set()

    @abstractmethod
    def _take(self) -> TreeSnapshot:
        """Read the scope's processes now."""

    @abstractmethod
    def describe(self) -> str:
        """A short phrase for probe reasons (``process 12 and its descendants``)."""

    def usage(self, *, max_age_s: float = 0.0) -> TreeSnapshot:
        """The scope's usage now, or the last snapshot if it is at most ``max_age_s`` old."""
        with self._lock:
            last = self._last
            if last is not None and max_age_s > 0 and self._clock() - last.time_s <= max_age_s:
                return last
            self._last = self._take()
            return self._last

    def escaped(self) -> dict[int, str]:
        """Processes known to have escaped the scope's reach (pid -> how); none by default."""
        return {}

    def new_escapes(self) -> dict[int, str]:
        """Escapes not reported before (each pid once), for a warning."""
        with self._lock:
            fresh = {p: how for p, how in self.escaped().items() if p not in self._warned}
            self._warned.update(fresh)
        return fresh


class TreeScope(ProcessScope):
    """``tree``: a process and its descendants (re-parented ones included once seen).

    Args:
        pid: root of the tree.
        refresh_s: seconds between rescans of the membership.
        clock: injectable monotonic clock.

    Raises:
        SensorError: the process cannot be inspected.
    """

    kind = "tree"

    def __init__(self, pid: int, *, refresh_s: float = DEFAULT_REFRESH_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.pid = pid
        self.tree = self._make_tree(pid, refresh_s, clock)

    def _make_tree(self, pid: int, refresh_s: float, clock: Callable[[], float]) -> ProcessTree:
        return ProcessTree(pid, refresh_s=refresh_s, clock=clock)

    def _take(self) -> TreeSnapshot:
        return self.tree.snapshot()

    def describe(self) -> str:
        """What is measured."""
        return f"process {self.pid} and its descendants"

    def escaped(self) -> dict[int, str]:
        """Descendants that left the session or were re-parented to init."""
        return dict(self.tree.escaped)


def session_members(sid: int, proc_root: str | os.PathLike[str] = "/proc") -> list[int]:
    """Every process whose session id is ``sid`` (field 6 of ``/proc/<pid>/stat``)."""
    found = []
    root = Path(proc_root)
    for entry in os.scandir(root):
        if not entry.name.isdigit():
            continue
        try:
            stat = (root / entry.name / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "
        if len(fields) > 3 and fields[3] == str(sid):
            found.append(int(entry.name))
    return found


class SessionScope(TreeScope):
    """``session``: the tree of ``pid`` plus every process in session ``sid``.

    Args:
        pid: root of the tree (``wattlm run`` itself, which collects its children's time).
        sid: the session to follow (the command's: it is started as a session leader).
        refresh_s: seconds between rescans.
        clock: injectable monotonic clock.
    """

    kind = "session"

    def __init__(self, pid: int, sid: int | None = None, *,
                 refresh_s: float = DEFAULT_REFRESH_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sid = sid
        super().__init__(pid, refresh_s=refresh_s, clock=clock)

    def _make_tree(self, pid: int, refresh_s: float, clock: Callable[[], float]) -> ProcessTree:
        return ProcessTree(pid, refresh_s=refresh_s, clock=clock, members=self._members)

    def _members(self) -> list[int]:
        return session_members(self.sid) if self.sid is not None else []

    def describe(self) -> str:
        """What is measured."""
        return f"process {self.pid}, its descendants and every process of session {self.sid}"

    def escaped(self) -> dict[int, str]:
        """Only leaving init-parented is an escape here; a new session is still followed."""
        return {p: how for p, how in self.tree.escaped.items() if "init" in how}


class CgroupScope(ProcessScope):
    """``cgroup``: every process in a cgroup directory (and its sub-cgroups).

    CPU time is the cgroup's own counter (``cpu.stat`` ``usage_usec``, v1 ``cpuacct.usage``),
    which includes every process that ever ran there; where it is unreadable, the sum over
    its current processes. Memory is the processes' resident memory.

    Args:
        directory: the cgroup directory.
        own: whether it is the run's own cgroup (else a shared one, with other processes).
        clock: injectable monotonic clock.
    """

    kind = "cgroup"

    def __init__(self, directory: Path, *, own: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.directory = directory
        self.own = own
        self._offset_s = 0.0
        self._floor_s = 0.0

    def describe(self) -> str:
        """What is measured."""
        which = "the run's own cgroup" if self.own else "every process of cgroup"
        return f"{which} {self.directory}"

    def move_to(self, directory: Path, *, own: bool) -> None:
        """Follow another cgroup from now on; the CPU total stays continuous."""
        with self._lock:
            self.directory, self.own, self._last = directory, own, None
            self._offset_s = self._floor_s - (cgroup_cpu_usage_s(directory) or 0.0)

    def _take(self) -> TreeSnapshot:
        rss, cpu_sum, pids = 0, 0.0, []
        for pid in cgroup_pids(self.directory):
            try:
                proc = psutil.Process(pid)
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    t = proc.cpu_times()
            except psutil.Error:
                continue
            cpu_sum += t.user + t.system
            pids.append(pid)
        counter = cgroup_cpu_usage_s(self.directory)
        cpu = (counter if counter is not None else cpu_sum) + self._offset_s
        self._floor_s = max(self._floor_s, cpu)
        return TreeSnapshot(self._clock(), self._floor_s, rss, tuple(pids))


_chosen: dict[int, ProcessScope] = {}
_shared: weakref.WeakValueDictionary[int, ProcessScope] = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def scope_for(pid: int) -> ProcessScope:
    """The scope the modelled sensors of ``pid`` share.

    The one chosen with :func:`use_scope`, else one :class:`TreeScope` per pid while any sensor
    holds it.

    Raises:
        SensorError: the process cannot be inspected.
    """
    with _shared_lock:
        scope = _chosen.get(pid) or _shared.get(pid)
        if scope is None:
            scope = TreeScope(pid)
            _shared[pid] = scope
        return scope


@contextmanager
def use_scope(pid: int, scope: ProcessScope) -> Iterator[ProcessScope]:
    """Within the block, sensors probed for ``pid`` measure ``scope`` (``wattlm run --scope``)."""
    with _shared_lock:
        previous = _chosen.get(pid)
        _chosen[pid] = scope
    try:
        yield scope
    finally:
        with _shared_lock:
            if previous is None:
                _chosen.pop(pid, None)
            else:
                _chosen[pid] = previous
