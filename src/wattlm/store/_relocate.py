"""What a store does when its file disappears, is replaced or cannot be written mid-run.

Before every write the dialect checks that the store is still the one it opened (for SQLite:
the file's device and inode, its ``-wal`` file, and that it was not emptied). When it is not,
the runs this store object is writing are copied into a store recreated at the same location,
with every sample the old connection can still read (an unlinked file stays readable through
its open descriptor), under new ids: W320 says so, names the new id and is added to the run's
warnings. A run that cannot be stored at all is written as JSON beside the store (W321).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wattlm.errors import StoreError, StoreWarning, warn
from wattlm.records import DeviceInfo, RunRecord
from wattlm.store.base import chunk_rows
from wattlm.store.dialect import StoreMovedError

if TYPE_CHECKING:
    from wattlm.store.sql import SQLStore

__all__ = ["Relocator"]

_log = logging.getLogger(__name__)


class Relocator:
    """Keeps what is needed to re-create this object's running runs elsewhere."""

    def __init__(self, store: SQLStore) -> None:
        self._store = store
        self._runs: dict[int, tuple[dict[str, Any], list[DeviceInfo]]] = {}
        self._ids: dict[int, int] = {}  # id the caller knows -> id in the current store
        self._notes: dict[int, list[str]] = {}
        self._lost: str | None = None  # why the store cannot be written, until reopened

    def track(self, run_id: int, values: dict[str, Any], devices: Sequence[DeviceInfo]) -> None:
        """Remember a run created by this object (until it is finished)."""
        self._runs[run_id] = (dict(values), list(devices))

    def forget(self, run_id: int) -> None:
        """A run was finished: nothing more to relocate."""
        self._runs.pop(run_id, None)

    def current_id(self, run_id: int) -> int:
        """The id under which the caller's run ``run_id`` is stored now."""
        return self._ids.get(run_id, run_id)

    def notes(self, run_id: int) -> list[str]:
        """The W320 messages about run ``run_id`` (for its record's warnings)."""
        return list(self._notes.get(run_id, []))

    def ensure_in_place(self) -> None:
        """Check the store before a write; relocate this object's runs if it moved.

        Raises:
            StoreError: the store moved and cannot be recreated (the write must not go to a
                file nobody will read again).
        """
        dialect = self._store._d  # noqa: SLF001 - the relocator is part of the store
        try:
            dialect.check_in_place()
            if self._lost is None:
                return
            reason = self._lost
        except StoreMovedError as e:
            reason = str(e)
        self._relocate(reason)

    def _relocate(self, reason: str) -> None:
        store, dialect = self._store, self._store._d  # noqa: SLF001
        saved: dict[int, tuple[Any, int]] = {}
        for caller_id in self._runs:
            stored_id = self.current_id(caller_id)
            def read(cur: Any, run_id: int = stored_id) -> tuple[Any, int]:
                return _samples_of(store, cur, run_id)

            try:
                saved[caller_id] = store._read("read a run to relocate", read)  # noqa: SLF001
            except StoreError as e:
                _log.debug("run %s: samples unreadable after the store moved: %s", caller_id, e)
                saved[caller_id] = (None, 0)
        try:
            dialect.reopen()
        except StoreError as e:
            self._lost = f"{reason}, and it cannot be recreated ({e})"
            raise StoreError(f"the store {store.location} {self._lost}") from e
        self._lost = None
        with dialect.transaction("recreate runs", write=True) as cur:
            for caller_id, (values, devices) in self._runs.items():
                new_id = store.insert_run(cur, values, devices)
                values_array, width = saved[caller_id]
                kept = 0
                if values_array is not None:
                    for first_s, count, data in chunk_rows(values_array, width):
                        store.insert_samples(cur, new_id, first_s, count, data)
                        kept += count
                old_id = self.current_id(caller_id)
                self._ids[caller_id] = new_id
                store._counts.pop(old_id, None)  # noqa: SLF001
                note = warn(
                    f"the store {store.location} {reason} during run {caller_id}; it was "
                    f"recreated there and the run continues as run {new_id} ({kept} samples "
                    "copied from the old file)", StoreWarning, "W320")
                self._notes.setdefault(caller_id, []).append(note)

    def write_beside(self, record: RunRecord, error: StoreError) -> None:
        """Write a run that cannot be stored as JSON beside the store; W321 names the file.

        ``record.id`` becomes ``None`` (the run is not in the store). Raises StoreError only
        when no JSON file could be written either.
        """
        from wattlm.store._listing import finite_json

        caller_id = record.id
        record.id = None
        dialect = self._store._d  # noqa: SLF001
        stamp = time.strftime("%Y%m%dT%H%M%S")
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", record.project)[:40] or "run"
        name = f"wattlm-run-{slug}-{stamp}-{os.getpid()}.json"
        places = [p for p in (dialect.fallback_dir(), Path.cwd(), Path(tempfile.gettempdir()))
                  if p is not None]
        problems = []
        for place in places:
            path = place / name
            message = (f"run {caller_id} could not be saved in the store "
                       f"{self._store.location} ({error}); it was written as JSON to {path}")
            record.warnings.append(f"W321: {message}")
            try:
                path.write_text(finite_json(record.to_dict()) + "\n", encoding="utf-8")
            except OSError as e:
                record.warnings.pop()
                problems.append(f"{place}: {e.strerror or e}")
                continue
            warn(message, StoreWarning, "W321")
            self.forget(int(caller_id or 0))
            return
        raise StoreError(f"run {caller_id} could not be saved in the store "
                         f"{self._store.location} ({error}), nor as JSON ({'; '.join(problems)})")


def _samples_of(store: SQLStore, cur: Any, run_id: int) -> tuple[Any, int]:
    devices = store.devices(cur, run_id)
    width = len(devices) + 1
    return store.raw_samples(cur, run_id, width), width
