"""The store algorithm, written once over a :class:`~wattlm.store.dialect.Dialect`.

Create, add samples, downsample, finish, get, list, samples and phases are the same for SQLite
and PostgreSQL; a dialect supplies transactions, the table prefix, the row lock and whether the
store is still in place. When a store file disappears or is replaced during a run, the runs this
object writes are copied into a recreated store (W320, :mod:`wattlm.store._relocate`); a run
that cannot be stored at all is written as JSON beside it (W321).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from array import array
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from wattlm.errors import InvalidInputError, StoreError, UnknownNameError
from wattlm.records import DeviceInfo, PhaseRecord, RunRecord, Sample
from wattlm.store import _relocate
from wattlm.store._listing import Lister, finite_json
from wattlm.store.base import (
    MAX_SAMPLES_PER_RUN,
    DamagedRunError,
    Store,
    check_run_id,
    chunk_rows,
    needs_rewrite,
    pack_samples,
    parse_started_at,
    process_created_s,
    thin,
    unpack_samples,
)
from wattlm.store.dialect import Cursor, Dialect
from wattlm.units import Provenance

__all__ = ["SQLStore"]

T = TypeVar("T")


class SQLStore(Lister, Store):
    """A :class:`~wattlm.store.base.Store` over one SQL dialect.

    Args:
        dialect: the open connection and its primitives.
        max_samples_per_run: samples kept per run after downsampling (a running run is thinned
            back to this when it passes twice as many); ``None`` disables downsampling.
    """

    def __init__(self, dialect: Dialect, *,
                 max_samples_per_run: int | None = MAX_SAMPLES_PER_RUN) -> None:
        if max_samples_per_run is not None and max_samples_per_run < 2:
            raise InvalidInputError(
                f"max_samples_per_run must be >= 2 or None, got {max_samples_per_run}")
        self.max_samples_per_run = max_samples_per_run
        self._d = dialect
        self.location = dialect.location
        self.read_only = dialect.read_only
        self.skipped: list[str] = []
        self._lock = threading.RLock()
        self._counts: dict[int, int] = {}  # samples stored per run, as this process knows it
        self._mover = _relocate.Relocator(self)

    # --- primitives --------------------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        return statement.replace("{p}", self._d.prefix)

    def _read(self, action: str, body: Callable[[Cursor], T]) -> T:
        with self._lock, self._d.transaction(action, write=False) as cur:
            return body(cur)

    def _write(self, action: str, body: Callable[[Cursor], T]) -> T:
        if self.read_only:
            raise StoreError(f"the store {self.location} was opened read-only: cannot {action}")
        with self._lock:
            self._mover.ensure_in_place()
            with self._d.transaction(action, write=True) as cur:
                return body(cur)

    def _unknown(self, cur: Cursor, run_id: int) -> UnknownNameError:
        newest = (cur.one(self._sql("SELECT max(id) FROM {p}runs")) or (None,))[0]
        tail = f"newest is {newest}" if newest is not None else "the store is empty"
        return UnknownNameError(f"no run {run_id} in {self.location}; {tail}")

    def _lock_run(self, cur: Cursor, run_id: int) -> tuple[str, int]:
        """The run's status and device count, its row locked until the transaction ends."""
        row = cur.one(self._sql("SELECT status, n_devices FROM {p}runs WHERE id = :id")
                      + self._d.lock_clause, {"id": run_id})
        if row is None:
            raise self._unknown(cur, run_id)
        return str(row[0]), int(row[1])

    # --- writing -----------------------------------------------------------------------------

    def create_run(
        self, *, project: str, started_at: str, devices: Sequence[DeviceInfo], host: str = "",
        region: str | None = None, command: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Register a run in status ``running`` and return its id (see :class:`Store`)."""
        if not project:
            raise InvalidInputError("a run needs a non-empty project name")
        values = {
            "project": project, "started_at": started_at,
            "started_s": parse_started_at(started_at), "host": host or socket.gethostname(),
            "pid": os.getpid(), "pid_created_s": process_created_s(), "region": region,
            "command": json.dumps(command) if command is not None else None,
            "extra": json.dumps(extra or {}), "n_devices": len(devices),
        }
        run_id = self._write("create a run", lambda cur: self.insert_run(cur, values, devices))
        self._mover.track(run_id, values, devices)
        return run_id

    def insert_run(self, cur: Cursor, values: dict[str, Any],
                   devices: Sequence[DeviceInfo]) -> int:
        """Insert a running run and its devices; returns its id (used by relocation too)."""
        row = cur.one(self._sql(
            "INSERT INTO {p}runs (project, started_at, started_s, status, host, pid, "
            "pid_created_s, region, command, extra, n_devices) VALUES (:project, :started_at, "
            ":started_s, 'running', :host, :pid, :pid_created_s, :region, :command, :extra, "
            ":n_devices) RETURNING id"), values)
        assert row is not None
        run_id = int(row[0])
        cur.many(self._sql(
            "INSERT INTO {p}devices (run_id, position, name, kind, provenance, "
            "update_period_s, node, rank, model) VALUES (:run_id, :position, :name, :kind, "
            ":provenance, :update_period_s, :node, :rank, :model)"),
            [{"run_id": run_id, "position": i, "name": d.name, "kind": d.kind,
              "provenance": Provenance(d.provenance).value,
              "update_period_s": float(d.update_period_s), "node": d.node, "rank": d.rank,
              "model": d.model} for i, d in enumerate(devices)])
        return run_id

    def add_samples(self, run_id: int, samples: Sequence[Sample]) -> None:
        """Append samples in one transaction (one row); thins the run past 2x the limit.

        A batch whose first sample has the same time as a stored batch's replaces it (a
        retried flush).

        Raises:
            UnknownNameError: no such run.
            InvalidInputError: the run is finished, or a sample has the wrong number of
                channels or a non-finite value (nothing of the batch is stored).
            StoreError: the store cannot be written now (keep the samples and retry).
        """
        if not samples:
            return
        check_run_id(run_id)

        def body(cur: Cursor) -> None:
            stored_id = self._mover.current_id(run_id)
            status, n_devices = self._lock_run(cur, stored_id)
            if status != "running":
                raise InvalidInputError(
                    f"run {run_id} is {status}: samples can only be added to a running run")
            self.insert_samples(cur, stored_id, samples[0].time_s, len(samples),
                                pack_samples(run_id, samples, n_devices))
            count = self._counts.get(stored_id)
            if count is None:
                count = int((cur.one(self._sql(
                    "SELECT coalesce(sum(count), 0) FROM {p}samples WHERE run_id = :id"),
                    {"id": stored_id}) or (0,))[0])
            else:
                count += len(samples)
            limit = self.max_samples_per_run
            if limit is not None and count > 2 * limit:
                count = self._downsample(cur, stored_id, n_devices, limit)
            self._counts[stored_id] = count

        self._write("add samples", body)

    def insert_samples(self, cur: Cursor, run_id: int, first_s: float, count: int,
                       data: bytes) -> None:
        """Store one packed row (replacing a row with the same first time)."""
        cur.run(self._sql(
            "INSERT INTO {p}samples (run_id, first_s, count, data) VALUES (:run_id, :first_s, "
            ":count, :data) ON CONFLICT (run_id, first_s) DO UPDATE SET count = excluded.count, "
            "data = excluded.data"),
            {"run_id": run_id, "first_s": first_s, "count": count, "data": data})

    def _downsample(self, cur: Cursor, run_id: int, n_devices: int, keep: int | None) -> int:
        """Keep at most ``keep`` samples of a (locked) run, evenly spaced in time, in few rows.

        Rows are rewritten only when samples are dropped or they fit in fewer rows; works on
        the packed floats. Returns the number of samples kept.
        """
        n_rows, total = cur.one(self._sql(
            "SELECT count(*), coalesce(sum(count), 0) FROM {p}samples WHERE run_id = :id"),
            {"id": run_id}) or (0, 0)
        if not needs_rewrite(int(n_rows), int(total), keep):
            return int(total)
        width = n_devices + 1
        values = thin(self.raw_samples(cur, run_id, width), width, keep)
        cur.run(self._sql("DELETE FROM {p}samples WHERE run_id = :id"), {"id": run_id})
        for first_s, count, data in chunk_rows(values, width):
            self.insert_samples(cur, run_id, first_s, count, data)
        return len(values) // width

    def finish_run(self, record: RunRecord) -> None:
        """Write the final record and its phases, then downsample (see :class:`Store`).

        Raises:
            InvalidInputError: ``record.id`` is not set.
            UnknownNameError: no run has that id.
            StoreError: the run could be neither stored nor written as JSON.
        """
        if record.id is None:
            raise InvalidInputError("finish_run needs a record whose id is set (from create_run)")
        run_id = check_run_id(int(record.id))
        if record.status == "finished" and record.exit_code not in (None, 0):
            record.status = "failed"
        try:
            self._write("finish a run", lambda cur: self._finish(cur, record))
        except UnknownNameError:
            raise
        except StoreError as e:
            self._mover.write_beside(record, e)
            return
        self._mover.forget(run_id)
        self._counts.pop(int(record.id or 0), None)
        self._d.after_release()

    def _finish(self, cur: Cursor, record: RunRecord) -> None:
        caller_id = int(record.id or 0)
        stored_id = self._mover.current_id(caller_id)
        _, n_devices = self._lock_run(cur, stored_id)
        record.id = stored_id
        record.warnings.extend(w for w in self._mover.notes(caller_id)
                               if w not in record.warnings)
        cur.run(self._sql(
            "UPDATE {p}runs SET project = :project, started_at = :started_at, status = :status, "
            "region = :region, duration_s = :duration_s, energy_j = :energy_j, emissions_g = "
            ":emissions_g, degraded = :degraded, exit_code = :exit_code, provenance = "
            ":provenance, record = :record WHERE id = :id"),
            {"project": record.project, "started_at": record.started_at,
             "status": record.status, "region": record.region,
             "duration_s": record.duration_s, "energy_j": record.energy_j,
             "emissions_g": record.emissions_g, "degraded": bool(record.degraded),
             "exit_code": record.exit_code,
             "provenance": record.provenance.value if record.provenance else None,
             "record": finite_json(record.to_dict()), "id": stored_id})
        cur.run(self._sql("DELETE FROM {p}phases WHERE run_id = :id"), {"id": stored_id})
        cur.many(self._sql(
            "INSERT INTO {p}phases (run_id, position, name, start_s, duration_s, energy_j, "
            "device_energy_j) VALUES (:run_id, :position, :name, :start_s, :duration_s, "
            ":energy_j, :device_energy_j)"),
            [{"run_id": stored_id, "position": i, "name": p.name, "start_s": p.start_s,
              "duration_s": p.duration_s, "energy_j": p.energy_j,
              "device_energy_j": json.dumps(p.device_energy_j)}
             for i, p in enumerate(record.phases)])
        self._downsample(cur, stored_id, n_devices, self.max_samples_per_run)

    def downsample(self, run_id: int, keep: int = MAX_SAMPLES_PER_RUN) -> int:
        """Thin one run to at most ``keep`` samples now; returns how many remain."""
        check_run_id(run_id)

        def body(cur: Cursor) -> int:
            _, n_devices = self._lock_run(cur, run_id)
            return self._downsample(cur, run_id, n_devices, keep)

        count = self._write("downsample a run", body)
        self._counts.pop(run_id, None)
        self._d.after_release()
        return count

    # --- reading -----------------------------------------------------------------------------

    def devices(self, cur: Cursor, run_id: int) -> list[DeviceInfo]:
        """A run's devices in channel order."""
        model = "model" if self._d.version >= 2 else "NULL"
        return [
            DeviceInfo(name=name, kind=kind, provenance=Provenance(prov),
                       update_period_s=float(period), node=node, rank=rank, model=model_name)
            for name, kind, prov, period, node, rank, model_name in cur.rows(self._sql(
                f"SELECT name, kind, provenance, update_period_s, node, rank, {model} "
                "FROM {p}devices WHERE run_id = :id ORDER BY position"), {"id": run_id})
        ]

    def raw_samples(self, cur: Cursor, run_id: int, width: int) -> array[float]:
        """A run's samples as one flat float64 array of ``width``-long records, by time."""
        return unpack_samples(
            (data for (data,) in cur.stream(self._sql(
                "SELECT data FROM {p}samples WHERE run_id = :id ORDER BY first_s"),
                {"id": run_id})), width)

    def phases(self, run_id: int) -> list[PhaseRecord]:
        """Return the phases of a finished run, from the phases table, in order."""
        run_id = self._mover.current_id(check_run_id(run_id))

        def body(cur: Cursor) -> list[PhaseRecord]:
            if cur.one(self._sql("SELECT 1 FROM {p}runs WHERE id = :id"),
                       {"id": run_id}) is None:
                raise self._unknown(cur, run_id)
            rows = cur.rows(self._sql(
                "SELECT name, start_s, duration_s, energy_j, device_energy_j FROM {p}phases "
                "WHERE run_id = :id ORDER BY position"), {"id": run_id})
            try:
                return [PhaseRecord(name=name, start_s=start_s, duration_s=duration_s,
                                    energy_j=energy_j, device_energy_j=json.loads(per_device))
                        for name, start_s, duration_s, energy_j, per_device in rows]
            except ValueError as e:
                raise DamagedRunError(f"run {run_id} in {self.location} is damaged: a phase's "
                                      f"device energies are not valid JSON ({e})",
                                      run_id) from e

        return self._read("read phases", body)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._d.close()
