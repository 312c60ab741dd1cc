"""The scope of one ``wattlm run`` (``--scope tree|session|cgroup``): set up, checked, reported.

:func:`open_scope` builds the :class:`~wattlm.sensors.scope.ProcessScope` the modelled sensors
will read (they are probed inside the block, by :meth:`Tracker.start`), tells the child how to
start (a new session, a cgroup to join) and, once the command has ended, which warnings the run
carries: descendants that escaped (W131), processes still running after the command (W132), a
cgroup scope that had to fall back to a shared cgroup (W133).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from wattlm.errors import InvalidInputError, SensorWarning, warn
from wattlm.sensors.cgroup import (
    cgroup_cpu_usage_s,
    cgroup_directory,
    cgroup_pids,
    create_run_cgroup,
    is_v2,
)
from wattlm.sensors.scope import (
    SCOPES,
    CgroupScope,
    ProcessScope,
    SessionScope,
    TreeScope,
    use_scope,
)

__all__ = ["RunScope", "open_scope"]

_ADVICE = ("--scope cgroup follows every process of a cgroup, --scope session every process "
           "of the command's session")


def _pids_text(pids: list[int]) -> str:
    return ", ".join(str(p) for p in pids[:5]) + (", ..." if len(pids) > 5 else "")


def _name(pid: int) -> str:
    try:
        return psutil.Process(pid).name()
    except psutil.Error:
        return "?"


class RunScope:
    """One run's scope: the sensors' :class:`ProcessScope` and how the child joins it.

    Args:
        scope: what the modelled sensors read.
        new_session: the child starts a session of its own (``session``).
        own_cgroup: the run's own cgroup, which the child joins (``cgroup``), if created.
        shared_cgroup: the cgroup to fall back to when the child could not join its own.
        note: a warning to attach once the run has started (a fallback already taken).
    """

    def __init__(self, scope: ProcessScope, *, new_session: bool = False,
                 own_cgroup: Path | None = None, shared_cgroup: Path | None = None,
                 note: str = "") -> None:
        self.scope = scope
        self.new_session = new_session
        self.own_cgroup = own_cgroup
        self.shared_cgroup = shared_cgroup
        self.note = note
        self._known: set[int] = set()

    @property
    def cgroup_procs(self) -> Path | None:
        """The ``cgroup.procs`` file the child writes itself into, if any."""
        return self.own_cgroup / "cgroup.procs" if self.own_cgroup else None

    def started(self, child_pid: int, tracker: Any, before: set[int] | None = None) -> None:
        """The child runs: follow its session, check it joined its cgroup, attach notes.

        ``before``: this process's children from before the run (not the command's).
        """
        self._known = {os.getpid(), *(before or ())}
        if isinstance(self.scope, SessionScope):
            self.scope.sid = child_pid
            self.scope.tree.rescan()
        if isinstance(self.scope, CgroupScope) and self.own_cgroup is not None and (
                not self._joined(child_pid, self.own_cgroup)):
            shared = self.shared_cgroup or self.own_cgroup.parent
            self.scope.move_to(shared, own=False)
            self.note = warn(f"the command could not join the run's cgroup {self.own_cgroup}: "
                             f"every process of cgroup {shared} is measured instead",
                             SensorWarning, "W133")
        if self.note:
            tracker.add_warning(self.note)

    @staticmethod
    def _joined(child_pid: int, own: Path) -> bool:
        """Whether the child is (or was: a quick command may be gone) in the run's cgroup."""
        if child_pid in cgroup_pids(own):
            return True
        used = cgroup_cpu_usage_s(own)  # only the child can have run there
        return used is not None and used > 0

    def finished(self, child_pid: int) -> list[str]:
        """Warnings once the command has ended: escaped and left-over processes."""
        texts = []
        escapes = self.scope.new_escapes()
        if escapes:
            pids = sorted(escapes)
            how = "; ".join(f"{p} ({_name(p)}) {escapes[p]}" for p in pids[:5])
            texts.append(warn(f"{len(pids)} descendant(s) escaped the command's session or "
                              f"parent: {how}. They were measured while wattlm saw them but "
                              f"may outlive the command; {_ADVICE}", SensorWarning,
                              "W131"))
        left = self._leftovers(child_pid)
        if left:
            texts.append(warn(f"{len(left)} process(es) started by the command still run after "
                              f"it ended (pid {_pids_text(left)}); their energy from now on is "
                              "not measured", SensorWarning, "W132"))
        return texts

    def _leftovers(self, child_pid: int) -> list[int]:
        if isinstance(self.scope, CgroupScope):
            if not self.scope.own:
                return []  # a shared cgroup always holds other processes
            pids = cgroup_pids(self.scope.directory)
        elif isinstance(self.scope, TreeScope):
            self.scope.tree.rescan()
            pids = list(self.scope.usage().pids)
        else:
            return []
        return sorted(p for p in pids if p not in self._known and p != child_pid
                      and psutil.pid_exists(p))

    def close(self) -> None:
        """Remove the run's own cgroup (when empty; else it is left for its processes)."""
        if self.own_cgroup is not None:
            with contextlib.suppress(OSError):
                self.own_cgroup.rmdir()


def _cgroup_scope(pid: int, cgroup_root: str | os.PathLike[str]) -> RunScope:
    shared = cgroup_directory(cgroup_root, pid=pid)
    unified = Path(cgroup_root) / "unified"  # the v2 tree of a hybrid (v1 + v2) system
    try:
        try:
            own = create_run_cgroup(f"wattlm-run-{pid}", cgroup_root, pid=pid)
        except OSError:
            if not is_v2(unified):
                raise
            own = create_run_cgroup(f"wattlm-run-{pid}", unified, pid=pid)
    except OSError as e:
        if shared is None:
            raise InvalidInputError(f"--scope cgroup: no cgroup found under {cgroup_root} "
                                    f"({e}); use --scope tree or session") from e
        note = warn(f"--scope cgroup: could not create a cgroup for the run ({e}); every "
                    f"process of cgroup {shared} is measured (now "
                    f"{len(cgroup_pids(shared))} processes), not only the command's",
                    SensorWarning, "W133")
        return RunScope(CgroupScope(shared), note=note)
    return RunScope(CgroupScope(own, own=True), own_cgroup=own, shared_cgroup=shared)


@contextlib.contextmanager
def open_scope(kind: str, pid: int, *,
               cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup") -> Iterator[RunScope]:
    """Choose what the modelled sensors of process ``pid`` measure during the block.

    Raises:
        InvalidInputError: an unknown scope, or ``cgroup`` where no cgroup is mounted.
    """
    if kind not in SCOPES:
        raise InvalidInputError(f"--scope must be one of {', '.join(SCOPES)}, got {kind!r}")
    if kind == "cgroup":
        run_scope = _cgroup_scope(pid, cgroup_root)
    elif kind == "session":
        run_scope = RunScope(SessionScope(pid), new_session=True)
    else:
        run_scope = RunScope(TreeScope(pid))
    try:
        with use_scope(pid, run_scope.scope):
            yield run_scope
    finally:
        run_scope.close()
