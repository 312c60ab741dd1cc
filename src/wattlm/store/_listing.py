"""Reading runs back: one run, listings (full, summaries, stored JSON), projects, samples.

Listings skip a damaged run (a record that is not JSON, a sample row of the wrong length)
with a W322 warning that names its id, instead of failing the whole listing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from wattlm.errors import InvalidInputError, StoreError, StoreWarning, warn
from wattlm.records import DeviceInfo, RunRecord, Sample
from wattlm.store.base import (
    MAX_RUN_ID,
    DamagedRunError,
    check_run_id,
    rebuild_record,
    values_to_samples,
    writer_alive,
)
from wattlm.units import Provenance

if TYPE_CHECKING:
    from wattlm.store.dialect import Cursor

__all__ = ["Lister", "finite_json"]

T = TypeVar("T")
_ROW = ("id, project, started_at, started_s, status, host, pid, pid_created_s, region, "
        "command, extra, n_devices, duration_s, energy_j, emissions_g, degraded, {exit_code}, "
        "{provenance}, {record}")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def finite_json(data: dict[str, Any]) -> str:
    """JSON text of a record dict with NaN and infinities as ``null`` (always valid JSON)."""
    return json.dumps(_finite(data), allow_nan=False)


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RUN_ID:
        raise InvalidInputError(f"limit must be a whole number of runs from 1 to {MAX_RUN_ID}, "
                                f"got {limit!r}")
    return limit


class Lister:
    """The reading half of :class:`~wattlm.store.sql.SQLStore` (a mixin)."""

    location: str
    skipped: list[str]
    _d: Any
    _mover: Any
    _read: Callable[..., Any]
    _sql: Callable[[str], str]
    _unknown: Callable[..., Exception]
    devices: Callable[..., list[DeviceInfo]]
    raw_samples: Callable[..., Any]

    def _columns(self, *, record: bool) -> str:
        v2 = self._d.version >= 2
        return _ROW.format(exit_code="exit_code" if v2 else "NULL",
                           provenance="provenance" if v2 else "NULL",
                           record="record" if record else "record IS NULL")

    def _samples_of(self, cur: Cursor, run_id: int, n_devices: int) -> list[Sample]:
        width = n_devices + 1
        return values_to_samples(self.raw_samples(cur, run_id, width), width)

    def _rebuilt(self, cur: Cursor, row: tuple[Any, ...]) -> RunRecord:
        (run_id, project, started_at, started_s, _status, host, pid, pid_created_s, region,
         command, extra) = row[:11]
        devices = self.devices(cur, run_id)
        return rebuild_record(
            run_id=int(run_id), project=project, started_at=started_at, started_s=started_s,
            devices=devices, samples=self._samples_of(cur, run_id, len(devices)), host=host,
            region=region, command=json.loads(command) if command is not None else None,
            extra=json.loads(extra), alive=writer_alive(pid, host, pid_created_s))

    def _full(self, cur: Cursor, row: tuple[Any, ...]) -> RunRecord:
        """The record of a row selected with the record column (damage raises)."""
        run_id, document = int(row[0]), row[-1]
        try:
            if document is None:
                return self._rebuilt(cur, row)
            record = RunRecord.from_dict(json.loads(document))
        except StoreError as e:
            raise DamagedRunError(f"run {run_id} in {self.location} is damaged: {e}",
                                  run_id) from e
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise DamagedRunError(f"run {run_id} in {self.location} is damaged: its record "
                                  f"cannot be read ({type(e).__name__}: {e})", run_id) from e
        record.id = run_id
        return record

    def _summary(self, cur: Cursor, row: tuple[Any, ...]) -> RunRecord:
        """A record from the indexed columns (a row selected with ``record IS NULL``)."""
        if row[-1]:  # never finished
            try:
                return self._rebuilt(cur, row)
            except (StoreError, ValueError, TypeError) as e:
                raise DamagedRunError(f"run {row[0]} in {self.location} is damaged: {e}",
                                      int(row[0])) from e
        (run_id, project, started_at, _s, status, host, _pid, _c, region, command, _extra,
         _n, duration_s, energy_j, emissions_g, degraded, exit_code, provenance) = row[:18]
        return RunRecord(
            id=int(run_id), project=project, started_at=started_at,
            duration_s=float(duration_s or 0.0), energy_j=float(energy_j or 0.0),
            region=region, emissions_g=float(emissions_g or 0.0),
            provenance=Provenance(provenance) if provenance else None,
            degraded=bool(degraded), status=status, exit_code=exit_code, host=host,
            command=None)

    def _skip(self, error: DamagedRunError) -> None:
        message = warn(f"{error}; it is left out of this listing (`wattlm show "
                       f"{error.run_id}` names the fault)", StoreWarning, "W322")
        self.skipped.append(message)

    def _listing(self, action: str, limit: int, project: str | None, before: int | None,
                 *, record: bool, build: Callable[[Cursor, tuple[Any, ...]], T]) -> list[T]:
        _limit(limit)
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        if project is not None:
            clauses.append("project = :project")
            params["project"] = project
        if before is not None:
            clauses.append("id < :before")
            params["before"] = min(max(int(before), 0), MAX_RUN_ID)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""

        def body(cur: Cursor) -> list[T]:
            out: list[T] = []
            rows = cur.rows(self._sql(f"SELECT {self._columns(record=record)} FROM {{p}}runs "
                                      f"{where}ORDER BY id DESC LIMIT :limit"), params)
            for row in rows:
                try:
                    out.append(build(cur, row))
                except DamagedRunError as e:
                    self._skip(e)
            return out

        result: list[T] = self._read(action, body)
        return result

    def get_run(self, run_id: int) -> RunRecord:
        """Return the run with this id (see :class:`~wattlm.store.base.Store`)."""
        run_id = self._mover.current_id(check_run_id(run_id))

        def body(cur: Cursor) -> RunRecord:
            row = cur.one(self._sql(f"SELECT {self._columns(record=True)} FROM {{p}}runs "
                                    "WHERE id = :id"), {"id": run_id})
            if row is None:
                raise self._unknown(cur, run_id)
            return self._full(cur, row)

        result: RunRecord = self._read("read a run", body)
        return result

    def list_runs(self, *, limit: int = 50, project: str | None = None) -> list[RunRecord]:
        """Up to ``limit`` full runs, newest first (damaged runs skipped, W322)."""
        return self._listing("list runs", limit, project, None, record=True, build=self._full)

    def list_summaries(self, *, limit: int = 50, project: str | None = None,
                       before: int | None = None) -> list[RunRecord]:
        """Up to ``limit`` runs from the indexed columns, newest first (see ``Store``)."""
        return self._listing("list runs", limit, project, before, record=False,
                             build=self._summary)

    def list_documents(self, *, limit: int = 50, project: str | None = None,
                       before: int | None = None, ids: list[int] | None = None) -> list[str]:
        """Up to ``limit`` runs as stored JSON text, newest first (see ``Store``).

        ``ids``, when given, receives the id of each document listed (for paging).
        """

        def build(cur: Cursor, row: tuple[Any, ...]) -> str:
            text = encode(cur, row)
            if ids is not None:
                ids.append(int(row[0]))
            return text

        def encode(cur: Cursor, row: tuple[Any, ...]) -> str:
            document = row[-1]
            if document is None:
                return finite_json(self._full(cur, row).to_dict())
            try:
                data = json.loads(document)  # validates; the text itself is passed through
            except ValueError as e:
                raise DamagedRunError(f"run {row[0]} in {self.location} is damaged: its "
                                      f"record is not valid JSON ({e})", int(row[0])) from e
            if not isinstance(data, dict) or data.get("id") != row[0] or (
                    "NaN" in document or "Infinity" in document):
                data = data if isinstance(data, dict) else {}
                data["id"] = int(row[0])
                return finite_json(data)
            return str(document)

        return self._listing("list runs", limit, project, before, record=True, build=build)

    def projects(self) -> list[str]:
        """The project names that have runs, sorted."""
        names: list[str] = self._read("list projects", lambda cur: [
            str(p) for (p,) in cur.rows(self._sql(
                "SELECT DISTINCT project FROM {p}runs ORDER BY project"))])
        return names

    def count_runs(self, project: str | None = None) -> int:
        """How many runs the store holds (of one project, if given)."""
        where, params = ("WHERE project = :project", {"project": project}) if project else (
            "", {})
        return int(self._read("count runs", lambda cur: (cur.one(self._sql(
            f"SELECT count(*) FROM {{p}}runs {where}"), params) or (0,))[0]))

    def samples(self, run_id: int) -> tuple[list[DeviceInfo], list[Sample]]:
        """Return a run's devices and samples in time order (see ``Store``)."""
        run_id = self._mover.current_id(check_run_id(run_id))

        def body(cur: Cursor) -> tuple[list[DeviceInfo], list[Sample]]:
            if cur.one(self._sql("SELECT 1 FROM {p}runs WHERE id = :id"),
                       {"id": run_id}) is None:
                raise self._unknown(cur, run_id)
            devices = self.devices(cur, run_id)
            try:
                return devices, self._samples_of(cur, run_id, len(devices))
            except StoreError as e:
                raise DamagedRunError(f"run {run_id} in {self.location} is damaged: {e}",
                                      run_id) from e

        result: tuple[list[DeviceInfo], list[Sample]] = self._read("read samples", body)
        return result
