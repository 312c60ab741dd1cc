"""Packed samples: the ``samples.data`` column of every backend, and downsampling.

Samples are *cumulative* counters, so dropping intermediate samples never changes a run's
totals: :func:`select_evenly` picks which to keep. A stored row holds ``count`` records of
``(time_s, energy_j of each device)`` as little-endian float64.
"""

from __future__ import annotations

import bisect
import math
import struct
import sys
from array import array
from collections.abc import Iterable, Sequence

from wattlm.errors import InvalidInputError, StoreError
from wattlm.records import Sample

__all__ = [
    "MAX_SAMPLES_PER_RUN",
    "SAMPLES_PER_CHUNK",
    "chunk_rows",
    "needs_rewrite",
    "pack_samples",
    "select_evenly",
    "thin",
    "unpack_samples",
    "values_to_samples",
]

# Samples kept per run after downsampling; a run in progress is thinned back to this many
# whenever it passes twice as many.
MAX_SAMPLES_PER_RUN = 2000
# Samples per stored row when a run's samples are rewritten by downsampling.
SAMPLES_PER_CHUNK = 1024


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

    Raises:
        StoreError: a row's length is not a whole number of records (a damaged row).
    """
    values: array[float] = array("d")
    for data in chunks:
        raw = bytes(data)
        if len(raw) % (8 * width):
            raise StoreError(f"a sample row of {len(raw)} bytes does not hold whole records of "
                             f"{width} float64 values: the row is damaged")
        chunk = array("d")
        chunk.frombytes(raw)
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
