"""Records of runs that never reached ``finish_run`` (still running, or the writer died).

:func:`rebuild_record` turns the devices and samples of such a run into a readable record;
:func:`writer_alive` says whether its writer still runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wattlm.records import DeviceEnergy, DeviceInfo, RunRecord, Sample
from wattlm.units import Provenance

__all__ = ["parse_started_at", "process_created_s", "rebuild_record", "writer_alive"]


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
            model=info.model,
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



def process_created_s() -> float | None:
    """Start time (Unix s) of this process, stored with a run to detect pid reuse."""
    import psutil

    try:
        return float(psutil.Process().create_time())
    except psutil.Error:  # pragma: no cover - the current process always exists
        return None
