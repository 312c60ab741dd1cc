"""The tracked process and its descendants: who they are and what they use, in one walk.

:class:`ProcessTree` finds descendants through the kernel's per-thread ``children`` files
(``/proc/<pid>/task/<tid>/children``; a full ``/proc`` scan where they do not exist) every
``refresh_s`` seconds (0.5 s by default) and reads every tracked process once per
:meth:`ProcessTree.snapshot`: CPU time and resident memory together, so the CPU and memory
models share one walk per sample (see :mod:`wattlm.sensors.scope`).

A descendant seen once stays tracked even when it is re-parented. ``wattlm run`` also makes
itself a child subreaper (``PR_SET_CHILD_SUBREAPER``), so a double-forked or daemonised
descendant is re-parented to it rather than to init, and the next rescan finds it however
short-lived its intermediate parent was. A descendant that left the root's session (``setsid``)
or was re-parented to init is reported once in :attr:`ProcessTree.escaped`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psutil

from wattlm._validate import count
from wattlm.errors import InvalidInputError, SensorError

__all__ = ["DEFAULT_REFRESH_S", "ProcessTree", "TreeSnapshot", "check_pid"]

#: Seconds between rescans of the tree's membership (the documented 0.5 s).
DEFAULT_REFRESH_S = 0.5

_parents_lock = threading.Lock()
_parents_cache: tuple[float, dict[int, list[int]]] = (-float("inf"), {})


def _children_by_parent(max_age_s: float) -> dict[int, list[int]]:
    """Map parent pid -> child pids for every process, reused for ``max_age_s`` seconds."""
    global _parents_cache
    with _parents_lock:
        taken, mapping = _parents_cache
        now = time.monotonic()
        if now - taken <= max_age_s:
            return mapping
        mapping = {}
        for proc in psutil.process_iter(["ppid"]):
            ppid = proc.info.get("ppid")
            if ppid is not None:
                mapping.setdefault(ppid, []).append(proc.pid)
        _parents_cache = (now, mapping)
        return mapping


def _children_files_supported() -> bool:
    """Whether ``/proc/<pid>/task/<tid>/children`` exists (Linux >= 3.5, CONFIG_PROC_CHILDREN)."""
    return os.path.exists(f"{psutil.PROCFS_PATH}/self/task/{threading.get_native_id()}/children")


def _children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` from its threads' ``children`` files (no full /proc scan)."""
    base = f"{psutil.PROCFS_PATH}/{pid}/task"
    try:
        tasks = os.listdir(base)
    except OSError:
        return []
    children: list[int] = []
    for tid in tasks:
        try:
            with open(f"{base}/{tid}/children", encoding="ascii") as handle:
                children.extend(int(c) for c in handle.read().split())
        except (OSError, ValueError):
            continue
    return children


def check_pid(pid: int, origin: str = "pid") -> int:
    """Return ``pid`` if it names a running process, else raise one clear error.

    Raises:
        InvalidInputError: not a positive integer, or no such process (``origin`` names
            where the value came from: ``--pid``, ``track(pid=...)``).
    """
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise InvalidInputError(f"{origin} must be a positive process id, got {pid!r}")
    pid = count(pid, "pid", origin=origin, low=1)
    try:
        alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        alive = False
    except psutil.Error:
        alive = True  # exists, but belongs to someone else: the probe will say what it can read
    if not alive:
        raise InvalidInputError(f"{origin}: no process {pid} is running here (it has ended or "
                                "never existed); give the id of a running process (see `ps`)")
    return pid


@dataclass(frozen=True)
class TreeSnapshot:
    """What the tracked processes use at one moment.

    Attributes:
        time_s: monotonic clock when it was taken.
        cpu_s: CPU-seconds (user + system) of the tree, never decreasing.
        rss_bytes: resident memory, summed over processes.
        pids: the live tracked processes.
    """

    time_s: float
    cpu_s: float
    rss_bytes: int
    pids: tuple[int, ...]


class ProcessTree:
    """The tracked process and its descendants, including those that were re-parented.

    CPU time counts each CPU-second once: live processes' own time plus their
    ``children_user + children_system`` (descendants that exited and were waited for). If a
    process disappears without a tracked parent collecting its time, the total is held at its
    last value (it never decreases), so at most the time since the previous read is lost.

    Args:
        pid: root of the tree.
        refresh_s: how often the list of descendants is rescanned (a scan reads the tree's own
            ``children`` files; reads in between cost ~50 us per process).
        clock: injectable clock.
        members: extra discovery (a session's or cgroup's processes): called at each rescan,
            its pids join the tracked set with their own descendants.

    Raises:
        SensorError: the root process does not exist or cannot be inspected.
    """

    def __init__(self, pid: int, *, refresh_s: float = DEFAULT_REFRESH_S,
                 clock: Callable[[], float] = time.monotonic,
                 members: Callable[[], Iterable[int]] | None = None) -> None:
        try:
            self._root = psutil.Process(pid)
            self._session = os.getsid(pid)
        except (psutil.Error, OSError) as e:
            raise SensorError(f"process {pid} cannot be inspected: {e}") from e
        self.pid = pid
        self._refresh_s = refresh_s
        self._clock = clock
        self._members = members
        self._known: dict[int, psutil.Process] = {pid: self._root}
        self._children_files = _children_files_supported()
        self._last_scan = -float("inf")
        self._floor_s = 0.0
        self._offset_s = 0.0
        self._lock = threading.Lock()
        self.escaped: dict[int, str] = {}
        """pid -> how it escaped (``left the session``, ``re-parented to init``), once each."""

    def _scan(self, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_scan < self._refresh_s:
            return
        self._last_scan = now
        if self._children_files:
            children_of = _children_of
        else:
            by_parent = _children_by_parent(0.0 if force else self._refresh_s)
            children_of = lambda pid: by_parent.get(pid, [])  # noqa: E731
        stack = list(self._known)
        if self._members is not None:
            stack.extend(p for p in self._members() if p not in self._known)
        while stack:
            pid = stack.pop()
            if pid not in self._known:
                try:
                    self._known[pid] = psutil.Process(pid)
                except psutil.Error:
                    continue
            stack.extend(c for c in children_of(pid) if c not in self._known)
        for pid, proc in list(self._known.items()):  # at each rescan only: escapes, and
            try:                                     # pids reused by another process
                running = proc.is_running()
            except psutil.Error:
                running = False
            if not running and pid != self.pid:
                del self._known[pid]
            elif running:
                self._check_escape(pid, proc)

    def rescan(self) -> None:
        """Rescan the membership now (not waiting for ``refresh_s``)."""
        with self._lock:
            self._scan(force=True)

    def _check_escape(self, pid: int, proc: psutil.Process) -> None:
        if pid == self.pid or pid in self.escaped:
            return
        try:
            if os.getsid(pid) != self._session:
                self.escaped[pid] = "left the session (setsid)"
            elif proc.ppid() == 1 and self.pid != 1:
                self.escaped[pid] = "was re-parented to init"
        except (psutil.Error, OSError):
            return

    def processes(self) -> list[psutil.Process]:
        """Return the tracked processes still alive (root first)."""
        self._scan()
        alive = []
        for pid, proc in list(self._known.items()):
            try:
                if proc.is_running():  # a zombie too: it holds its CPU time until reaped
                    alive.append(proc)
                    continue
            except psutil.Error:
                pass
            if pid != self.pid:
                del self._known[pid]
        return alive

    def snapshot(self) -> TreeSnapshot:
        """Read every tracked process once: CPU time and resident memory (thread-safe)."""
        with self._lock:
            cpu, rss, pids = 0.0, 0, []
            self._scan()
            for pid, proc in list(self._known.items()):  # liveness is checked at rescans
                try:
                    with proc.oneshot():
                        t = proc.cpu_times()
                        memory = proc.memory_info().rss
                except psutil.Error:
                    if pid != self.pid:
                        del self._known[pid]
                    continue
                cpu += t.user + t.system + t.children_user + t.children_system
                rss += memory
                pids.append(proc.pid)
            if cpu + self._offset_s < self._floor_s:  # a process vanished uncollected
                self._offset_s = self._floor_s - cpu
            self._floor_s = cpu + self._offset_s
            return TreeSnapshot(self._clock(), self._floor_s, rss, tuple(pids))

    def cpu_seconds(self) -> float:
        """CPU-seconds (user + system) used by the tree since its processes started."""
        return self.snapshot().cpu_s

    def rss_bytes(self) -> int:
        """Resident memory of the tree (sum over processes; shared pages count per process)."""
        return self.snapshot().rss_bytes
