"""Which tracker is running here: per thread and asyncio task, and what a fork does to it.

``active_tracker()`` answers per context (a context variable): a tracker started in one
thread is not seen from another, and an asyncio task sees the trackers running where it was
created. After ``os.fork()`` the child stops measuring: every tracker running at the fork is
detached in the child (an ``os.register_at_fork`` handler), so the child neither finishes nor
overwrites the parent's run; its ``stop()`` returns an empty record with status ``forked``
(``W412``), phases and reads do nothing. The parent's store connection and threads' state are
never used or closed in the child.
"""

from __future__ import annotations

import contextvars
import os
import weakref
from typing import TYPE_CHECKING, Any

from wattlm.errors import MeasurementWarning, warn
from wattlm.records import RunRecord

if TYPE_CHECKING:
    from wattlm.tracking.tracker import Tracker

__all__ = ["active_tracker", "forked_record", "install_fork_hook", "set_active", "set_inactive"]

# the trackers started in this thread or asyncio task (a task inherits its creator's)
_active: contextvars.ContextVar[tuple[Tracker, ...]] = contextvars.ContextVar(
    "wattlm_active_trackers", default=())
# every running tracker of the process, for the fork handler
_running: weakref.WeakSet[Tracker] = weakref.WeakSet()
# what a forked child must neither use nor close (the parent's store connection, threads' state)
_leftovers: list[Any] = []
_hook: list[bool] = []


def active_tracker() -> Tracker | None:
    """The most recently started tracker still running in this thread or asyncio task.

    Per context: a tracker started in another thread is not seen; an asyncio task sees the
    trackers running where it was created. None in a forked child.
    """
    for tracker in reversed(_active.get()):
        if tracker.running:
            return tracker
    return None


def set_active(tracker: Tracker) -> None:
    """Record a started tracker in this context (and for the fork handler)."""
    _running.add(tracker)
    _active.set((*(t for t in _active.get() if t.running and t is not tracker), tracker))


def set_inactive(tracker: Tracker) -> None:
    """Forget a stopped tracker (other contexts skip it: it is no longer running)."""
    _running.discard(tracker)
    _active.set(tuple(t for t in _active.get() if t is not tracker))


def keep_unclosed(*objects: Any) -> None:
    """Hold objects a forked child must not close (closing them could disturb the parent)."""
    _leftovers.append(objects)


def _after_fork_in_child() -> None:
    for tracker in list(_running):
        tracker._detach_after_fork()
    _running.clear()


def install_fork_hook() -> None:
    """Register the fork handler, once per process."""
    if not _hook and hasattr(os, "register_at_fork"):
        _hook.append(True)
        os.register_at_fork(after_in_child=_after_fork_in_child)


def forked_record(project: str, started_at: str, parent_pid: int | None,
                  run_id: int | None) -> RunRecord:
    """What ``stop()`` returns in a forked child: nothing measured, the parent's run named."""
    run = f" {run_id}" if run_id is not None else ""
    note = warn(f"this process is a fork (parent pid {parent_pid}) of a measured process: it "
                f"does not measure; the parent's run{run} holds the measurement",
                MeasurementWarning, "W412")
    return RunRecord(id=None, project=project, started_at=started_at, duration_s=0.0,
                     energy_j=0.0, degraded=True, warnings=[note], status="forked",
                     extra={"parent_pid": parent_pid, "parent_run": run_id})
