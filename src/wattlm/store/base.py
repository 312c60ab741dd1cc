"""The run store interface.

A store holds runs (one row each, the final :class:`~wattlm.records.RunRecord` as JSON plus
indexed columns), their devices (the channel order of the samples), their phases and their
samples (cumulative joules per device at a wall-clock time). The one implementation of the
algorithm is :class:`~wattlm.store.sql.SQLStore`, over a small dialect for SQLite and one for
PostgreSQL; see ``docs/methodology/store.md``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from wattlm.errors import InvalidInputError, StoreError
from wattlm.records import DeviceInfo, PhaseRecord, RunRecord, Sample
from wattlm.store._rebuild import (
    parse_started_at,
    process_created_s,
    rebuild_record,
    writer_alive,
)
from wattlm.store._samples import (
    MAX_SAMPLES_PER_RUN,
    SAMPLES_PER_CHUNK,
    chunk_rows,
    needs_rewrite,
    pack_samples,
    select_evenly,
    thin,
    unpack_samples,
    values_to_samples,
)

__all__ = [
    "MAX_RUN_ID",
    "MAX_SAMPLES_PER_RUN",
    "SAMPLES_PER_CHUNK",
    "DamagedRunError",
    "Store",
    "StoreNotFoundError",
    "check_run_id",
    "chunk_rows",
    "needs_rewrite",
    "pack_samples",
    "parse_started_at",
    "process_created_s",
    "rebuild_record",
    "select_evenly",
    "thin",
    "unpack_samples",
    "values_to_samples",
    "writer_alive",
]

#: the largest run id (and ``limit``) a store accepts: a signed 64-bit integer, as in SQL
MAX_RUN_ID = 2**63 - 1


def check_run_id(run_id: int, what: str = "a run id") -> int:
    """``run_id`` as an int if it is a whole number from 1 to :data:`MAX_RUN_ID`.

    Raises:
        InvalidInputError: anything else (a huge id would overflow SQL's 64-bit integers).
    """
    if isinstance(run_id, bool) or not isinstance(run_id, int) or not 1 <= run_id <= MAX_RUN_ID:
        raise InvalidInputError(f"{what} must be a whole number from 1 to {MAX_RUN_ID}, "
                                f"got {run_id!r}")
    return int(run_id)


class StoreNotFoundError(StoreError):
    """A store opened for reading does not exist (nothing is created at a mistyped path)."""


class DamagedRunError(StoreError):
    """A stored run cannot be read: its record JSON or a sample row is damaged."""

    def __init__(self, message: str, run_id: int) -> None:
        super().__init__(message)
        self.run_id = run_id


class Store(abc.ABC):
    """Where runs, phases and samples live.

    Every method is one short transaction; a store may be shared by several threads of one
    process and by several processes at once. Every failure is a
    :class:`~wattlm.errors.StoreError` (never a driver's exception). A store opened with
    ``read_only=True`` never takes a write lock and refuses to write.
    """

    #: where the store is (a file path or a URL with the password removed), for messages
    location: str
    #: whether the store was opened for reading only
    read_only: bool = False
    #: W322 messages of damaged runs skipped by the listings of this store object
    skipped: list[str]

    @abc.abstractmethod
    def create_run(
        self, *, project: str, started_at: str, devices: Sequence[DeviceInfo], host: str = "",
        region: str | None = None, command: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Register a run in status ``running`` and return its integer id.

        Args:
            project: project name.
            started_at: ISO 8601 start time (``2024-05-01T12:00:00+00:00``).
            devices: the energy channels, in the order of ``Sample.energy_j`` (their
                ``model`` names are kept, so a rebuilt run still knows its hardware).
            host: host name (defaults to this machine's).
            region: grid region, if known.
            command: the measured command line (``wattlm run``).
            extra: free-form JSON-ready metadata.
        """

    @abc.abstractmethod
    def add_samples(self, run_id: int, samples: Sequence[Sample]) -> None:
        """Append samples to a running run in one transaction (durable on return)."""

    @abc.abstractmethod
    def finish_run(self, record: RunRecord) -> None:
        """Write a run's final record and phases, then downsample its samples (one transaction).

        A record whose status is ``finished`` with a non-zero ``exit_code`` is stored (and
        left) as ``failed``. ``record.id`` is updated when the run had to be stored under
        another id (the store file was replaced during the run, see W320), and set to ``None``
        when the run could not be stored at all (its JSON is then written beside the store,
        W321; the warning is added to ``record.warnings``).
        """

    @abc.abstractmethod
    def get_run(self, run_id: int) -> RunRecord:
        """Return the run with this id; a run that never finished is rebuilt from its samples.

        Raises:
            UnknownNameError: no run has this id.
            InvalidInputError: the id is not between 1 and :data:`MAX_RUN_ID`.
            DamagedRunError: the run's record or samples are damaged.
        """

    @abc.abstractmethod
    def list_runs(self, *, limit: int = 50, project: str | None = None) -> list[RunRecord]:
        """Up to ``limit`` full runs, newest first, optionally of one project.

        Damaged runs are skipped with a W322 warning naming their id (see ``skipped``).
        """

    @abc.abstractmethod
    def list_summaries(self, *, limit: int = 50, project: str | None = None,
                       before: int | None = None) -> list[RunRecord]:
        """Up to ``limit`` runs, newest first, from the indexed columns only (fast).

        The records have id, project, start, duration, energy, emissions, region, provenance,
        status, exit code and ``degraded`` set, and no devices, phases or footprint. Runs
        that never finished are rebuilt from their samples. ``before`` lists only runs with
        a smaller id (paging).
        """

    @abc.abstractmethod
    def list_documents(self, *, limit: int = 50, project: str | None = None,
                       before: int | None = None, ids: list[int] | None = None) -> list[str]:
        """Up to ``limit`` runs, newest first, as the stored JSON text of each record.

        Finished runs are passed through as stored (checked to be JSON, not rebuilt); runs
        that never finished are rebuilt and encoded. Damaged runs are skipped with a W322
        warning. ``ids``, when given, receives the id of each document listed.
        """

    @abc.abstractmethod
    def projects(self) -> list[str]:
        """The project names that have runs, sorted (one ``SELECT DISTINCT``)."""

    @abc.abstractmethod
    def count_runs(self, project: str | None = None) -> int:
        """How many runs the store holds (of one project, if given)."""

    @abc.abstractmethod
    def samples(self, run_id: int) -> tuple[list[DeviceInfo], list[Sample]]:
        """Return a run's devices and its (possibly downsampled) samples in time order."""

    @abc.abstractmethod
    def phases(self, run_id: int) -> list[PhaseRecord]:
        """Return the phases of a finished run, in order (empty for an unfinished run)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; the store object cannot be used afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
