"""Persistence off the sampling thread: one writer thread per run, a bounded backlog.

The sampler hands its samples to :meth:`SampleWriter.add`, which only appends to a list and
returns; the writer thread writes them to the store. A slow, locked or failing store therefore
delays persistence, never readings. Failed writes keep their samples and are retried with a
backoff (``W301``, once). The backlog is bounded: past :data:`MAX_BACKLOG_SAMPLES` every other
waiting sample is dropped (``W310``), which loses time resolution but never energy, because
samples are cumulative. Jobs queued with :meth:`SampleWriter.finish` (saving the finished
run) run after every waiting sample. At interpreter exit, unfinished writers get up to
:data:`EXIT_WAIT_S` to finish (``W312`` if they could not).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from wattlm.errors import StoreWarning, warn
from wattlm.records import RunRecord, Sample

__all__ = ["EXIT_WAIT_S", "MAX_BACKLOG_SAMPLES", "SampleWriter", "save_run"]

MAX_BACKLOG_SAMPLES = 100_000
RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)
#: Failed writes of one batch before a closing writer gives the samples up.
FINAL_TRIES = 3
#: How long the interpreter's exit waits for writers that still have work.
EXIT_WAIT_S = 10.0

_live: weakref.WeakSet[SampleWriter] = weakref.WeakSet()


class SampleWriter:
    """Writes batches of samples with ``write`` on its own daemon thread.

    Args:
        write: stores a batch (e.g. ``store.add_samples(run_id, batch)``); may block or raise.
        max_backlog: samples kept waiting before the backlog is thinned.
    """

    def __init__(self, write: Callable[[list[Sample]], None], *,
                 max_backlog: int = MAX_BACKLOG_SAMPLES) -> None:
        self._write = write
        self._max_backlog = max(max_backlog, 4)
        self._cond = threading.Condition(threading.Lock())
        self._backlog: list[Sample] = []
        self._jobs: list[tuple[str, str, Callable[[], None]]] = []
        self._closing = False
        self._done = threading.Event()
        self._warned: set[str] = set()
        self.warnings: list[str] = []
        self.written = 0
        _install_hooks()
        self._thread = threading.Thread(target=self._run, name="wattlm-writer", daemon=True)
        self._thread.start()
        _live.add(self)

    # -- producer side (never blocks) ----------------------------------------------------------
    def add(self, samples: list[Sample]) -> None:
        """Queue samples for writing; returns at once."""
        if not samples:
            return
        with self._cond:
            self._backlog.extend(samples)
            if len(self._backlog) > self._max_backlog:
                last = self._backlog[-1]
                self._backlog = self._backlog[:-1:2] + [last]
                self._warn_once("W310", f"the store is far behind (over {self._max_backlog} "
                                "samples waiting): waiting samples are thinned, totals are kept")
            self._cond.notify()

    def finish(self, job: Callable[[], None], what: str, code: str = "W303") -> None:
        """Run ``job`` after every queued sample; a failure is warned about as ``code``."""
        with self._cond:
            self._jobs.append((what, code, job))
            self._cond.notify()

    def close(self, wait_s: float) -> bool:
        """Write what is queued, then end; wait up to ``wait_s``. True when all is done."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        return self._done.wait(max(wait_s, 0.0))

    @property
    def done(self) -> bool:
        """Whether the writer has finished every queued write and job."""
        return self._done.is_set()

    @property
    def pending(self) -> int:
        """Samples still waiting to be written."""
        return len(self._backlog)

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            failures = 0
            while True:
                with self._cond:
                    while not (self._backlog or self._jobs or self._closing):
                        self._cond.wait(timeout=60.0)
                    batch, self._backlog = self._backlog, []
                    closing = self._closing
                if batch and not self._write_batch(batch, failures, closing):
                    failures += 1
                    time.sleep(RETRY_S[0] if closing else RETRY_S[min(failures, len(RETRY_S)) - 1])
                    continue
                failures = 0
                with self._cond:
                    if self._backlog:
                        continue
                    jobs, self._jobs = self._jobs, []
                for what, code, job in jobs:
                    self._run_job(what, code, job)
                with self._cond:
                    if self._closing and not (self._backlog or self._jobs):
                        return
        finally:
            self._done.set()

    def _write_batch(self, batch: list[Sample], failures: int, closing: bool) -> bool:
        """Write one batch; False (batch put back) when it failed and should be retried."""
        try:
            self._write(batch)
        except Exception as e:  # noqa: BLE001 - the store must not break the run
            self._warn_once("W301", f"could not write samples to the store ({e}); they are "
                            "kept and retried")
            if closing and failures + 1 >= FINAL_TRIES:
                self._warn_once("W311", f"gave up writing {len(batch)} samples after "
                                f"{FINAL_TRIES} tries ({e}); the run's totals are not affected")
                return True
            with self._cond:
                self._backlog = batch + self._backlog
            return False
        self.written += len(batch)
        return True

    def _run_job(self, what: str, code: str, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as e:  # noqa: BLE001 - reported, never raised into the user's code
            self._warn_once(code, f"could not {what} ({e})")

    def _warn_once(self, code: str, message: str) -> None:
        if code not in self._warned:
            self._warned.add(code)
            self.warnings.append(warn(message, StoreWarning, code))


def save_run(writer: SampleWriter, store: Any, record: RunRecord, until: float) -> None:
    """Save ``record`` with ``store.finish_run`` after the queued samples, then close the store.

    Waits for the writer until the monotonic time ``until``; if the store is slower, the
    record gets ``W313`` and the writer finishes in the background.
    """
    def finish() -> None:
        try:
            store.finish_run(record)
        finally:
            with contextlib.suppress(Exception):
                store.close()

    writer.finish(finish, f"save run {record.id}", "W303")
    if not writer.close(until - time.monotonic()):
        record.warnings.append(warn(
            f"the store did not answer in time: run {record.id} is still being saved in the "
            "background (before this process exits)", StoreWarning, "W313"))
    record.warnings.extend(w for w in writer.warnings if w not in record.warnings)


def _wait_at_exit() -> None:
    """Give unfinished writers up to :data:`EXIT_WAIT_S` in all before the interpreter exits."""
    end = time.monotonic() + EXIT_WAIT_S
    for writer in list(_live):
        if not writer.close(end - time.monotonic()):
            warn(f"exiting with {writer.pending} samples or the run's record not yet written "
                 f"to the store (it did not answer within {EXIT_WAIT_S:.0f} s)", StoreWarning,
                 "W312")


def _forget_in_child() -> None:
    """A forked child has no writer threads: it must not wait for its parent's writers."""
    _live.clear()


_hooks: list[bool] = []


def _install_hooks() -> None:
    """Register the exit wait and the fork handler, once, with the first writer."""
    if _hooks:
        return
    _hooks.append(True)
    atexit.register(_wait_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_in_child)
