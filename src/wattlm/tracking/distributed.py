"""One footprint for a job that spans many processes and nodes, over ``torch.distributed``.

The rule of who measures what (also in ``docs/distributed.md``):

* every rank measures the GPU(s) it uses: the visible GPU with index ``LOCAL_RANK`` when each
  rank sees all the node's GPUs, or every visible GPU when the launcher gives each rank its own
  ``CUDA_VISIBLE_DEVICES``;
* exactly one process per node, the lowest local rank present when the run starts, measures
  the node's shared sensors (every sensor whose kind is not ``gpu``: RAPL packages, DRAM, the
  modelled CPU and memory of the node's processes); the others drop them;
* at stop every rank sends a short JSON summary to rank 0 over a separate gloo group (so an
  NCCL training group is never touched), with a timeout; rank 0 merges the summaries into one
  :class:`~wattlm.records.RunRecord` and is the only rank that stores it.

A rank that died or did not answer in time is listed in ``missing_ranks`` with a warning and
the run is stored with what arrived. Nothing here raises into the training job once it has
started: failures become warnings on the record. ``torch`` is imported only inside functions.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from wattlm.config import Settings
from wattlm.errors import ConfigError, warn
from wattlm.records import RunRecord
from wattlm.sensors.base import Sensor
from wattlm.tracking.gather import (
    MAX_SUMMARY_BYTES,
    all_gather_roster,
    gather_to_root,
    new_group,
    short_error,
)
from wattlm.tracking.job_summary import merge_summaries, summarize
from wattlm.tracking.launcher import (
    LAUNCHER_VARIABLES,
    DistributedWarning,
    JobInfo,
    detect_job,
    detect_launcher,
    select_gpus,
    torch_dist_state,
)

__all__ = [
    "LAUNCHER_VARIABLES",
    "MAX_SUMMARY_BYTES",
    "DistributedWarning",
    "JobInfo",
    "JobSession",
    "detect_job",
    "detect_launcher",
    "gather_to_root",
    "merge_summaries",
    "select_gpus",
    "summarize",
]

_log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the tracker's collaborator


class JobSession:
    """The tracker's view of the job: who measures what, whether to save, the final gather.

    Created by :meth:`begin` at the start of a run; :meth:`assign` filters and labels the
    sensors; :meth:`finish` gathers and merges at stop. Only :meth:`begin` may raise.
    """

    def __init__(self, job: JobInfo, *, timeout_s: float, save_requested: bool) -> None:
        self.job = job
        self.timeout_s = timeout_s
        self.save_requested = save_requested
        self.group: Any = None
        self.connect_failed = False  # W504 given: no second wait for the group at stop
        self.shared_by: dict[str, int | None] = {}
        self.measures_shared = job.local_rank in (0, None)
        self.warnings: list[str] = []
        self.gather_stats: dict[str, float] = {}

    @classmethod
    def begin(cls, distributed: bool | None, settings: Settings, *,
              environ: Mapping[str, str] | None = None) -> JobSession | None:
        """Detect and check the job (strict); connect the gloo group when torch is ready.

        Returns:
            None for a single-process run.

        Raises:
            DistributedError: inconsistent launcher variables, or ``distributed=True`` outside
                a job.
            ConfigError: ``distributed_timeout_s`` is not positive.
        """
        job = detect_job(distributed, environ=environ, strict=True)
        if job is None:
            return None
        timeout_s = settings.distributed_timeout_s
        if timeout_s <= 0:
            raise ConfigError(f"distributed_timeout_s must be > 0 seconds, got {timeout_s}")
        session = cls(job, timeout_s=timeout_s,
                      save_requested=settings.save and settings.sources.get("save") == "argument")
        if job.initialized:
            session._connect()
        return session

    @property
    def saves(self) -> bool:
        """Whether this rank stores the run: rank 0, or any rank given ``save=True``."""
        return self.job.rank == 0 or self.save_requested

    def _connect(self, *, decide: bool = True) -> None:
        """Create the gloo group and, when ``decide``, agree on who measures shared sensors."""
        job = self.job
        try:
            self.group = new_group(self.timeout_s)
            if not decide:  # sensors already assigned (late initialisation): keep the roles
                return
            roster = all_gather_roster(self.group, {"rank": job.rank, "node": job.node,
                                                     "local_rank": job.local_rank},
                                        job.world_size)
        except Exception as e:  # noqa: BLE001 - fall back to the launcher variables
            self.group, self.connect_failed = None, True
            self.warnings.append(warn(
                f"could not set up the gloo group for aggregation ({short_error(e)}); every rank "
                "must call wattlm.track() (or pass distributed=False)", DistributedWarning,
                "W504"))
            return
        by_node: dict[str, list[dict[str, Any]]] = {}
        for entry in roster:
            by_node.setdefault(str(entry["node"]), []).append(entry)
        for node, entries in by_node.items():
            entries.sort(key=lambda e: e["rank"])
            for position, entry in enumerate(entries):
                if entry["local_rank"] is None:  # no LOCAL_RANK: order on the node
                    entry["local_rank"] = position
            self.shared_by[node] = min(entries, key=lambda e: (e["local_rank"], e["rank"]))["rank"]
            if node == job.node and job.local_rank is None:
                mine = next(e for e in entries if e["rank"] == job.rank)
                self.job = dataclasses.replace(job, local_rank=mine["local_rank"],
                                               local_world_size=len(entries))
        self.measures_shared = self.shared_by.get(job.node) == job.rank

    def sensor_pid(self, pid: int | None) -> int | None:
        """Root of the process tree for modelled sensors.

        The node's measuring rank models the CPU and memory of the whole worker tree under a
        known launcher (its parent: the torchrun agent or DeepSpeed's per-node launcher).
        """
        if (self.measures_shared and self.job.launcher != "unknown"
                and pid in (None, os.getpid())):
            return os.getppid()
        return pid

    def assign(self, sensors: Sequence[Sensor]) -> list[Sensor]:
        """Keep this rank's GPUs and, on the node's measuring rank, the shared sensors.

        Every kept sensor's ``info`` gets this rank's ``node`` and ``rank``.
        """
        job = self.job
        gpus = [s for s in sensors if s.info.kind == "gpu"]
        mine = select_gpus(gpus, job.local_rank or 0, job.local_world_size)
        keep = [s for s in sensors
                if s in mine or (s.info.kind != "gpu" and self.measures_shared)]
        for sensor in sensors:
            if sensor not in keep:
                try:
                    sensor.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    _log.debug("closing %s failed", sensor.info.name, exc_info=True)
        for sensor in keep:
            sensor.info = dataclasses.replace(sensor.info, node=job.node, rank=job.rank)
        return keep

    def finish(self, record: RunRecord) -> RunRecord:
        """Gather every rank's summary to rank 0 and merge; never raises.

        Rank 0 returns the merged record; other ranks return their own record with a small
        ``distributed`` entry saying what they sent.
        """
        try:
            return self._finish(record)
        except Exception as e:  # noqa: BLE001 - never fail the training job at stop
            record.warnings.append(warn(f"distributed aggregation failed ({short_error(e)}); this "
                                        "record holds rank "
                                        f"{self.job.rank}'s measurement only",
                                        DistributedWarning, "W505"))
            return record

    def _finish(self, record: RunRecord) -> RunRecord:
        job = self.job
        record.warnings.extend(w for w in self.warnings if w not in record.warnings)
        if self.group is None and not self.connect_failed and torch_dist_state()[0]:
            self._connect(decide=False)  # initialised after the run started
        summary = summarize(record, job, shared=self.measures_shared)
        payload = json.dumps(summary).encode("utf-8")
        received: dict[int, bytes] = {0: payload} if job.rank == 0 else {}
        errors: dict[int, str] = {}
        started = time.perf_counter()
        if self.group is not None and torch_dist_state()[0]:
            received, errors = gather_to_root(self.group, payload, rank=job.rank,
                                              world_size=job.world_size,
                                              timeout_s=self.timeout_s)
        elif self.connect_failed:  # W504 said why; rank 0 lists the others as missing
            errors = {r: "no gloo group for aggregation (W504)" for r in range(job.world_size)
                      if r != job.rank}
        else:
            reason = "torch.distributed was not initialised (or was destroyed) at stop"
            errors = {r: reason for r in range(job.world_size) if r != job.rank}
            record.warnings.append(warn(
                f"{reason}: nothing was gathered; stop the tracker before "
                "destroy_process_group()", DistributedWarning, "W506"))
        self.gather_stats = {"seconds": time.perf_counter() - started,
                             "bytes_sent": float(len(payload))}
        if job.rank != 0:
            sent = 0 not in errors
            if not sent and self.group is not None:  # else W504 or W506 said why
                record.warnings.append(warn(f"rank {job.rank} could not send its summary to "
                                            f"rank 0 ({errors[0]})", DistributedWarning, "W507"))
            record.distributed = {
                "world_size": job.world_size, "launcher": job.launcher, "rank": job.rank,
                "node": job.node, "measured_shared": self.measures_shared, "sent_to_rank0": sent}
            return record
        summaries = {}
        for rank, data in received.items():
            try:
                summaries[rank] = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                errors[rank] = f"unreadable summary: {e}"
        merged = merge_summaries(record, summaries, world_size=job.world_size,
                                 launcher=job.launcher, shared_by=self.shared_by,
                                 missing_reasons=errors)
        assert merged.distributed is not None
        merged.distributed["gather"] = {
            "seconds": round(self.gather_stats["seconds"], 6),
            "bytes": sum(len(b) for b in received.values())}
        return merged
