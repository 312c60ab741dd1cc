"""The run store interface and the logic every backend shares.

A store holds runs (one row each, the final :class:`~wattlm.records.RunRecord` as JSON plus
indexed columns), their devices (the channel order of the samples) and their samples
(cumulative joules per device at a wall-clock time). Samples are *cumulative* counters, so
dropping intermediate samples never changes a run's totals: :func:`select_evenly` picks which
to keep. :func:`rebuild_record` turns the devices and samples of a run that never finished
(still running, or its writer was killed) into a readable record.
"""

from __future__ import annotations

import abc
import bisect
import json
import math
import os
import struct
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from wattlm.errors import InvalidInputError
from wattlm.records import DeviceEnergy, DeviceInfo, RunRecord, Sample
from wattlm.units import Provenance

__all__ = [
    "MAX_SAMPLES_PER_RUN",
    "SAMPLES_PER_CHUNK",
    "Store",
    "chunk_rows",
    "needs_rewrite",
    "pack_samples",
    "parse_started_at",
    "process_created_s",
    "rebuild_record",
    "record_from_row",
    "select_evenly",
    "thin",
    "unpack_samples",
    "values_to_samples",
    "writer_alive",
]

# Samples kept per run after downsampling; a run in progress is thinned back to this many
# whenever it passes twice as many.
MAX_SAMPLES_PER_RUN = 2000
# Samples per stored row when a run's samples are rewritten by downsampling.
SAMPLES_PER_CHUNK = 1024


class Store(abc.ABC):
    """Where runs, phases and samples live.

    Every method is one short transaction; a store may be shared by several threads of one
    process and by several processes at once. Implementations:
    :class:`~wattlm.store.sqlite.SQLiteStore` and :class:`~wattlm.store.postgres.PostgresStore`.
    """

    #: where the store is (a file path or a URL with the password removed), for messages
    location: str

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
            devices: the energy channels, in the order of ``Sample.energy_j``.
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
        """Write a run's final record and phases, then downsample its samples (one transaction)."""

    @abc.abstractmethod
    def get_run(self, run_id: int) -> RunRecord:
        """Return the run with this id; a run that never finished is rebuilt from its samples.

        Raises:
            UnknownNameError: no run has this id.
        """

    @abc.abstractmethod
    def list_runs(self, *, limit: int = 50, project: str | None = None) -> list[RunRecord]:
        """Up to ``limit`` runs, newest first, optionally of one project."""

    @abc.abstractmethod
    def samples(self, run_id: int) -> tuple[list[DeviceInfo], list[Sample]]:
        """Return a run's devices and its (possibly downsampled) samples in time order."""

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


def select_evenly(times_s: Sequence[float], keep: int) -> list[int]:
    """Choose at most ``keep`` samples, evenly spaced in time, first and last always kept.

    ``times_s`` must be sorted. For ``k = 0 .. keep-1`` the sample nearest to
    ``t0 + k * (t_last - t0) / (keep - 1)`` is kept (duplicates collapse), so the result is
    sorted, starts at 0 and ends at ``len(times_s) - 1``.

    Returns:
        The indices of the kept samples.

    Raises:
        InvalidInputError: ``keep < 2``.
    """
    if keep < 2:
        raise InvalidInputError(f"downsampling must keep at least 2 samples, got {keep}")
    count = len(times_s)
    if count <= keep:
        return list(range(count))
    first, last = times_s[0], times_s[-1]
    if last <= first:
        return [0, count - 1]
    step = (last - first) / (keep - 1)
    chosen: list[int] = []
    for k in range(keep):
        target = first + k * step
        right = bisect.bisect_left(times_s, target)
        if right >= count:
            index = count - 1
        elif right == 0:
            index = 0
        else:
            left = right - 1
            index = left if target - times_s[left] <= times_s[right] - target else right
        if not chosen or index > chosen[-1]:
            chosen.append(index)
    if chosen[-1] != count - 1:
        chosen.append(count - 1)
    return chosen


def parse_started_at(started_at: str) -> float | None:
    """Unix seconds of an ISO 8601 time (``Z`` accepted; naive times taken as local), or None."""
    text = started_at.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def writer_alive(pid: int | None, host: str, create_time_s: float | None) -> bool | None:
    """Whether the process that writes a run still runs: True, False, or None (unknown).

    Only a writer on this host can be checked. A pid that now belongs to a process created
    later than the writer (pid reuse) or a zombie counts as dead.
    """
    import socket

    if pid is None or host != socket.gethostname():
        return None
    if pid == os.getpid():
        return True
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if create_time_s is not None and process.create_time() > create_time_s + 1.0:
            return False
        return True
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def rebuild_record(
    *, run_id: int, project: str, started_at: str, started_s: float | None,
    devices: Sequence[DeviceInfo], samples: Sequence[Sample], host: str, region: str | None,
    command: list[str] | None, extra: dict[str, Any], alive: bool | None,
) -> RunRecord:
    """Build a record for a run that never reached ``finish_run``, from its stored samples.

    Per-device energy is the last cumulative sample; duration runs from the start (or the first
    sample) to the last sample; mean power is energy over duration; peak power is the largest
    rise between consecutive stored samples. The record is ``degraded`` with a W305 warning;
    its status is ``running`` when the writer is alive (or cannot be checked) and
    ``interrupted`` when it is gone.
    """
    last = samples[-1] if samples else None
    start_s = started_s if started_s is not None else (samples[0].time_s if samples else 0.0)
    duration_s = max(0.0, last.time_s - start_s) if last else 0.0
    peaks = [0.0] * len(devices)
    total_peak_w = 0.0
    for before, after in zip(samples, samples[1:], strict=False):
        dt = after.time_s - before.time_s
        if dt <= 0:
            continue
        rises = [e1 - e0 for e0, e1 in zip(before.energy_j, after.energy_j, strict=True)]
        for i, rise_j in enumerate(rises):
            peaks[i] = max(peaks[i], rise_j / dt)
        total_peak_w = max(total_peak_w, math.fsum(rises) / dt)
    energies = list(last.energy_j) if last else [0.0] * len(devices)
    device_records = [
        DeviceEnergy(
            name=info.name, kind=info.kind, energy_j=energy_j, provenance=info.provenance,
            mean_power_w=energy_j / duration_s if duration_s > 0 else 0.0,
            peak_power_w=peak_w, node=info.node, rank=info.rank, degraded=True,
        )
        for info, energy_j, peak_w in zip(devices, energies, peaks, strict=True)
    ]
    total_j = math.fsum(energies)
    status = "interrupted" if alive is False else "running"
    why = ("its writer is gone (killed or crashed)" if alive is False
           else "it is still running" if alive else "its writer could not be checked")
    when = f"{duration_s:.1f} s after the start" if last else "no sample was stored"
    warning = (f"W305: run {run_id} was not finished ({why}); figures are the totals of the "
               f"last stored sample ({when})")
    return RunRecord(
        id=run_id, project=project, started_at=started_at, duration_s=duration_s,
        energy_j=total_j, devices=device_records, region=region,
        provenance=Provenance.weakest(*(d.provenance for d in devices)),
        degraded=True, warnings=[warning], status=status, command=command, host=host,
        mean_power_w=total_j / duration_s if duration_s > 0 else 0.0,
        peak_power_w=total_peak_w, extra=dict(extra),
    )


# --- packed samples (the ``samples.data`` column of every backend) --------------------------


def process_created_s() -> float | None:
    """Start time (Unix s) of this process, stored with a run to detect pid reuse."""
    import psutil

    try:
        return float(psutil.Process().create_time())
    except psutil.Error:  # pragma: no cover - the current process always exists
        return None


def _to_le_bytes(values: array[float]) -> bytes:
    """Little-endian bytes of a float64 array."""
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        values = array("d", values)
        values.byteswap()
    return values.tobytes()


def pack_samples(run_id: int, samples: Sequence[Sample], n_devices: int) -> bytes:
    """Pack ``(time_s, energy_j...)`` of each sample as little-endian float64, after checks.

    Raises:
        InvalidInputError: a sample has the wrong number of values or a non-finite one.
    """
    flat: list[float] = []
    for sample in samples:
        energy_j = sample.energy_j
        if len(energy_j) != n_devices:
            raise InvalidInputError(
                f"run {run_id} has {n_devices} devices but the sample at {sample.time_s} has "
                f"{len(energy_j)} values")
        flat.append(sample.time_s)
        flat.extend(energy_j)
    if not math.isfinite(sum(flat)):  # rare path: find the culprit
        for sample in samples:
            if not all(math.isfinite(v) for v in (sample.time_s, *sample.energy_j)):
                raise InvalidInputError(
                    f"run {run_id}: the sample at {sample.time_s} has a non-finite value "
                    f"{sample.energy_j!r}")
    return struct.pack(f"<{len(flat)}d", *flat)


def unpack_samples(chunks: Iterable[bytes], width: int) -> array[float]:
    """Concatenate packed rows into one flat float64 array of ``width``-long records, by time.

    Rows are expected in ``first_s`` order; records of interleaved batches (several writers)
    are sorted by time, stably.
    """
    values: array[float] = array("d")
    for data in chunks:
        chunk = array("d")
        chunk.frombytes(bytes(data))
        if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
            chunk.byteswap()
        values.extend(chunk)
    times = values[0::width]
    if any(later < earlier for earlier, later in zip(times, times[1:], strict=False)):
        order = sorted(range(len(times)), key=times.__getitem__)
        ordered: array[float] = array("d")
        for index in order:
            ordered.extend(values[index * width:(index + 1) * width])
        values = ordered
    return values


def thin(values: array[float], width: int, keep: int | None) -> array[float]:
    """Keep at most ``keep`` records of a flat sample array (:func:`select_evenly`)."""
    if keep is None or len(values) // width <= keep:
        return values
    thinned: array[float] = array("d")
    for index in select_evenly(values[0::width], keep):
        thinned.extend(values[index * width:(index + 1) * width])
    return thinned


def needs_rewrite(n_rows: int, total: int, keep: int | None) -> bool:
    """Whether downsampling a run of ``total`` samples in ``n_rows`` rows changes anything."""
    needed_rows = -(-min(total, keep or total) // SAMPLES_PER_CHUNK)
    return not ((keep is None or total <= keep) and n_rows <= needed_rows)


def chunk_rows(values: array[float], width: int) -> list[tuple[float, int, bytes]]:
    """Split a flat sample array into rows ``(first_s, count, data)`` of SAMPLES_PER_CHUNK."""
    step = SAMPLES_PER_CHUNK * width
    return [(values[start], min(step, len(values) - start) // width,
             _to_le_bytes(values[start:start + step])) for start in range(0, len(values), step)]


def values_to_samples(values: array[float], width: int) -> list[Sample]:
    """Turn a flat float64 array of ``width``-long records into samples."""
    flat = values.tolist()
    return [Sample(time_s=flat[i], energy_j=tuple(flat[i + 1:i + width]))
            for i in range(0, len(flat), width)]


def record_from_row(
    *, run_id: int, project: str, started_at: str, started_s: float | None, host: str,
    pid: int | None, pid_created_s: float | None, region: str | None, command: str | None,
    extra: str, document: str | None, devices: Callable[[], list[DeviceInfo]],
    samples: Callable[[int], list[Sample]],
) -> RunRecord:
    """The record of a stored run: its final JSON, or one rebuilt from devices and samples.

    ``command``, ``extra`` and ``document`` are the JSON text columns; ``devices()`` and
    ``samples(n_devices)`` are called only for a run that never finished.
    """
    if document is not None:
        record = RunRecord.from_dict(json.loads(document))
        record.id = int(run_id)
        return record
    infos = devices()
    return rebuild_record(
        run_id=int(run_id), project=project, started_at=started_at, started_s=started_s,
        devices=infos, samples=samples(len(infos)), host=host, region=region,
        command=json.loads(command) if command is not None else None,
        extra=json.loads(extra), alive=writer_alive(pid, host, pid_created_s),
    )
