"""Sensor calls with a deadline: each sensor is called from its own worker thread.

A sensor read can block (a stuck NVML call, a sysfs file that is really a FIFO, a hung NFS
mount). The sampler never calls a sensor itself: it hands the call to the sensor's
:class:`DeadlineCaller` and waits at most ``deadline_s`` from the moment the call was handed
over. A call that is late is abandoned, never waited on again: while it is still running,
later reads of that sensor return at once with no value (the sampler keeps the last one), and
when it finally returns, the next read starts a fresh call. Calls of one sensor never overlap,
so sensors need not be thread-safe.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Call", "DeadlineCaller", "caller_for"]


class Call:
    """One call handed to a worker: done or not, its value or its exception."""

    __slots__ = ("done", "error", "func", "submitted_s", "value")

    def __init__(self, func: Callable[[], Any]) -> None:
        self.func: Callable[[], Any] | None = func
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.submitted_s = time.monotonic()

    def wait(self, deadline_s: float) -> bool:
        """Wait until done, at most until ``submitted + deadline_s``; True when done."""
        left = self.submitted_s + deadline_s - time.monotonic()
        return self.done.is_set() or (left > 0 and self.done.wait(left))


class DeadlineCaller:
    """A daemon worker thread that runs one sensor's calls in order.

    Args:
        name: used in the thread's name (``wattlm-read:<name>``).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.SimpleQueue[Call | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._read: Call | None = None
        self.closed = False
        self._thread = threading.Thread(target=self._work, name=f"wattlm-read:{name}",
                                        daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            call = self._jobs.get()
            if call is None:
                return
            func, call.func = call.func, None  # the finished call holds no sensor
            try:
                call.value = func() if func is not None else None
            except BaseException as e:  # noqa: BLE001 - handed back to the caller
                call.error = e
            call.done.set()
            del call, func  # hold no sensor while idle

    def submit(self, func: Callable[[], Any]) -> Call:
        """Queue a call (start, close) behind the ones already queued."""
        call = Call(func)
        self._jobs.put(call)
        return call

    def read(self, func: Callable[[], Any]) -> Call:
        """The read in flight, if one is still running; else a new read of ``func``."""
        with self._lock:
            current = self._read
            if current is not None and not current.done.is_set():
                return current
            self._read = self.submit(func)
            return self._read

    @property
    def busy_s(self) -> float:
        """How long the read in flight has been running (0 when none)."""
        current = self._read
        if current is None or current.done.is_set():
            return 0.0
        return time.monotonic() - current.submitted_s

    def shutdown(self) -> None:
        """Let the thread end once its queued calls are done (at once if idle)."""
        self.closed = True
        self._jobs.put(None)


_callers: weakref.WeakKeyDictionary[Any, DeadlineCaller] = weakref.WeakKeyDictionary()
_callers_lock = threading.Lock()
_hook: list[bool] = []


def _forget_in_child() -> None:
    """A forked child has none of the workers' threads: start afresh."""
    global _callers_lock
    _callers_lock = threading.Lock()
    _callers.clear()


def caller_for(sensor: Any, name: str) -> DeadlineCaller:
    """The worker of ``sensor``: one per sensor object, shared by every sampler reading it.

    A baseline sampler and the run's sampler read the same sensors one after the other; sharing
    the worker keeps a call left running by the first from overlapping one of the second.
    """
    if not _hook and hasattr(os, "register_at_fork"):
        _hook.append(True)
        os.register_at_fork(after_in_child=_forget_in_child)
    with _callers_lock:
        try:
            caller = _callers.get(sensor)
        except TypeError:  # an unhashable sensor: a private worker
            return DeadlineCaller(name)
        if caller is None or caller.closed:
            caller = DeadlineCaller(name)
            weakref.finalize(sensor, caller.shutdown)
            _callers[sensor] = caller
        return caller
