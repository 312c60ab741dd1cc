"""Per-rank summaries and their merge into one run record on rank 0."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from wattlm.errors import warn
from wattlm.records import DeviceEnergy, PhaseRecord, RunRecord
from wattlm.tracking.launcher import DistributedWarning, JobInfo
from wattlm.units import Provenance

_log = logging.getLogger(__name__)


def summarize(record: RunRecord, job: JobInfo, *, shared: bool) -> dict[str, Any]:
    """Build the JSON-ready summary one rank sends to rank 0 (devices, phases, warnings)."""
    return {
        "rank": job.rank, "local_rank": job.local_rank, "node": job.node, "host": job.host,
        "shared": shared, "duration_s": record.duration_s, "energy_j": record.energy_j,
        "net_energy_j": record.net_energy_j, "peak_power_w": record.peak_power_w,
        "degraded": record.degraded, "warnings": list(record.warnings),
        "devices": [d.to_dict() for d in record.devices],
        "phases": [p.to_dict() for p in record.phases],
    }


def merge_summaries(record: RunRecord, summaries: Mapping[int, Mapping[str, Any]], *,
                    world_size: int, launcher: str,
                    shared_by: Mapping[str, int | None] | None = None,
                    missing_reasons: Mapping[int, str] | None = None) -> RunRecord:
    """Merge the ranks' summaries into rank 0's ``record`` (in place) and return it.

    Energy is the sum of every device that arrived; each device keeps its node and rank.
    Phases of the same name are summed (their devices keyed ``name@rank``). Ranks that did not
    arrive are listed in ``distributed["missing_ranks"]`` with warning W502; a node whose
    shared sensors were measured by a missing rank gets warning W503.

    Args:
        record: rank 0's own record (its ``devices``/``phases`` are replaced).
        summaries: per rank, the output of :func:`summarize` (rank 0's included).
        world_size: ranks in the job.
        launcher: as :func:`detect_launcher`.
        shared_by: per node, the rank chosen to measure its shared sensors (from the roster).
        missing_reasons: per missing rank, why (for the warning).
    """
    reasons = dict(missing_reasons or {})
    missing = sorted(r for r in range(world_size) if r not in summaries)
    devices: list[DeviceEnergy] = []
    phases: dict[str, PhaseRecord] = {}
    nodes: dict[str, dict[str, Any]] = {}
    ranks: dict[str, dict[str, Any]] = {}
    warnings = list(record.warnings)
    net: float | None = 0.0
    for rank in sorted(summaries):
        summary = summaries[rank]
        node = str(summary["node"])
        rank_devices = [DeviceEnergy.from_dict(d) for d in summary["devices"]]
        for device in rank_devices:
            device.node, device.rank = node, rank
        devices.extend(rank_devices)
        energy = sum(d.energy_j for d in rank_devices)
        entry = nodes.setdefault(node, {"energy_j": 0.0, "ranks": [], "host": summary["host"],
                                        "measured_shared_by": None})
        entry["energy_j"] += energy
        entry["ranks"].append(rank)
        if summary["shared"]:
            entry["measured_shared_by"] = rank
        ranks[str(rank)] = {
            "node": node, "local_rank": summary["local_rank"], "energy_j": energy,
            "devices": [d.name for d in rank_devices], "measured_shared": summary["shared"],
            "duration_s": summary["duration_s"]}
        for raw in summary["phases"]:
            phase = PhaseRecord.from_dict(raw)
            merged = phases.setdefault(phase.name, PhaseRecord(
                name=phase.name, start_s=phase.start_s, duration_s=0.0, energy_j=0.0))
            merged.start_s = min(merged.start_s, phase.start_s)
            merged.duration_s = max(merged.duration_s, phase.duration_s)
            merged.energy_j += phase.energy_j
            merged.device_energy_j.update(
                {f"{name}@{rank}": value for name, value in phase.device_energy_j.items()})
        if rank != 0:
            warnings.extend(f"rank {rank}: {w}" for w in summary["warnings"])
        rank_net = summary.get("net_energy_j")
        net = None if net is None or rank_net is None else net + float(rank_net)
    for rank in missing:
        why = reasons.get(rank, "no summary arrived")
        warnings.append(warn(f"rank {rank} of {world_size} is missing from the run ({why}): its "
                             "energy is not counted", DistributedWarning, "W502"))
    for node, rank_chosen in (shared_by or {}).items():
        if rank_chosen is not None and rank_chosen in missing:
            nodes.setdefault(node, {"energy_j": 0.0, "ranks": [], "host": None,
                                    "measured_shared_by": None})
    for node, entry in nodes.items():
        if entry["measured_shared_by"] is None:
            chosen = (shared_by or {}).get(node)
            who = (f"rank {chosen}, which is missing" if chosen is not None
                   else "no rank that arrived")
            warnings.append(warn(f"node {node}: its shared sensors (CPU, memory) were measured "
                                 f"by {who}: not counted", DistributedWarning, "W503"))
    total = sum(d.energy_j for d in devices)
    duration = record.duration_s
    record.devices = devices
    record.phases = sorted(phases.values(), key=lambda p: (p.start_s, p.name))
    record.energy_j = total
    record.mean_power_w = total / duration if duration > 0 else 0.0
    record.peak_power_w = sum(float(s.get("peak_power_w", 0.0)) for s in summaries.values())
    record.net_energy_j = net if record.baseline_power_w is not None else None
    record.degraded = bool(missing) or any(s["degraded"] for s in summaries.values())
    record.provenance = Provenance.weakest(*(d.provenance for d in devices)) if devices \
        else record.provenance
    record.warnings = warnings
    record.distributed = {
        "world_size": world_size, "launcher": launcher, "nodes": nodes, "ranks": ranks,
        "missing_ranks": missing, "peak_power_w_is_upper_bound": True}
    return record
