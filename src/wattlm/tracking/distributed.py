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
import re
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from wattlm.config import Settings
from wattlm.errors import ConfigError, DistributedError, WattlmWarning, warn
from wattlm.records import DeviceEnergy, PhaseRecord, RunRecord
from wattlm.sensors.base import Sensor
from wattlm.units import Provenance

__all__ = [
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

LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK",
                      "NODE_RANK")
_TAG_SIZE = 0x5741
_TAG_BODY = 0x5742
#: Largest summary a rank may send (bytes); a larger announced size is treated as corrupt.
MAX_SUMMARY_BYTES = 16 * 1024 * 1024


class DistributedWarning(WattlmWarning):
    """A distributed run lost a rank, could not gather, or fell back to one process (W5xx)."""

    code = "W500"


@dataclass(frozen=True)
class JobInfo:
    """Where this process sits in a distributed job.

    Attributes:
        rank: global rank (``torch.distributed.get_rank()`` or ``RANK``).
        world_size: number of ranks.
        local_rank: rank on this node (``LOCAL_RANK``), None until known from the roster.
        local_world_size: ranks on this node (``LOCAL_WORLD_SIZE``/``LOCAL_SIZE``), if given.
        node: node label: the launcher's node rank (``GROUP_RANK``, ``NODE_RANK``,
            ``CROSS_RANK``) as text, else the host name.
        host: host name of this process.
        launcher: ``torchrun``, ``accelerate``, ``deepspeed`` or ``unknown``.
        initialized: whether ``torch.distributed`` was initialised when detected.
    """

    rank: int
    world_size: int
    local_rank: int | None
    local_world_size: int | None
    node: str
    host: str
    launcher: str
    initialized: bool


def detect_launcher(environ: Mapping[str, str]) -> str:
    """Name the launcher from its environment variables (a heuristic, documented).

    Accelerate exports ``ACCELERATE_*`` variables to its workers; the DeepSpeed launcher sets
    ``CROSS_RANK``/``CROSS_SIZE``/``LOCAL_SIZE``; ``torchrun`` (torchelastic) sets
    ``TORCHELASTIC_RUN_ID``. Accelerate and DeepSpeed may run on top of torchrun, so they are
    checked first.
    """
    if any(key.startswith("ACCELERATE_") for key in environ):
        return "accelerate"
    if "CROSS_RANK" in environ or "DEEPSPEED_LAUNCHER" in environ:
        return "deepspeed"
    if "TORCHELASTIC_RUN_ID" in environ or "TORCHELASTIC_RESTART_COUNT" in environ:
        return "torchrun"
    return "unknown"


def _int_var(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise DistributedError(
            f"launcher variable {name}={raw!r} is not an integer; launchers set it to a rank "
            "number such as 0") from None


def _torch_dist_state() -> tuple[bool, int, int]:
    """Return (initialised, rank, world size) of ``torch.distributed`` without importing it."""
    module = sys.modules.get("torch.distributed")
    if module is None:
        return False, 0, 1
    try:
        if module.is_available() and module.is_initialized():
            return True, int(module.get_rank()), int(module.get_world_size())
    except Exception:  # noqa: BLE001 - a broken torch is "not initialised"
        _log.debug("torch.distributed state unreadable", exc_info=True)
    return False, 0, 1


def _detect(distributed: bool | None, environ: Mapping[str, str]) -> JobInfo | None:
    initialized, dist_rank, dist_world = _torch_dist_state()
    env_rank = _int_var(environ, "RANK")
    env_world = _int_var(environ, "WORLD_SIZE")
    local_rank = _int_var(environ, "LOCAL_RANK")
    local_world = _int_var(environ, "LOCAL_WORLD_SIZE") or _int_var(environ, "LOCAL_SIZE")
    node_rank = next((v for v in (_int_var(environ, "GROUP_RANK"), _int_var(environ, "NODE_RANK"),
                                  _int_var(environ, "CROSS_RANK")) if v is not None), None)
    env_given = env_rank is not None or env_world is not None
    if not initialized and not env_given:
        if distributed:
            raise DistributedError(
                "distributed=True but torch.distributed is not initialised and no launcher "
                "variables (RANK, WORLD_SIZE, LOCAL_RANK) are set: call "
                "torch.distributed.init_process_group(...) before wattlm.track(), or launch "
                "with torchrun, accelerate launch or deepspeed")
        return None
    if env_given:
        if env_rank is None or env_world is None:
            given, absent = ("RANK", "WORLD_SIZE") if env_rank is not None else (
                "WORLD_SIZE", "RANK")
            raise DistributedError(f"launcher variable {given} is set but {absent} is not; a "
                                   "launcher sets both (and LOCAL_RANK)")
        if env_world < 1:
            raise DistributedError(f"WORLD_SIZE={env_world} must be >= 1")
        if not 0 <= env_rank < env_world:
            raise DistributedError(
                f"RANK={env_rank} is not a rank of a job of WORLD_SIZE={env_world} "
                f"(valid: 0..{env_world - 1})")
        if local_rank is None and env_world > 1:
            raise DistributedError(
                f"RANK={env_rank} and WORLD_SIZE={env_world} are set but LOCAL_RANK is missing: "
                "wattlm needs it to know which GPU this rank uses (torchrun, accelerate and "
                "deepspeed set it)")
    if local_rank is not None and local_rank < 0:
        raise DistributedError(f"LOCAL_RANK={local_rank} must be >= 0")
    if local_rank is not None and local_world is not None and local_rank >= local_world:
        raise DistributedError(f"LOCAL_RANK={local_rank} is not below "
                               f"LOCAL_WORLD_SIZE={local_world}")
    rank, world = (dist_rank, dist_world) if initialized else (env_rank or 0, env_world or 1)
    if initialized and env_rank is not None and (env_rank, env_world) != (dist_rank, dist_world):
        raise DistributedError(
            f"RANK={env_rank}/WORLD_SIZE={env_world} disagree with torch.distributed "
            f"(rank {dist_rank} of {dist_world})")
    if world <= 1 and not distributed:
        return None
    host = socket.gethostname()
    return JobInfo(rank=rank, world_size=world, local_rank=local_rank,
                   local_world_size=local_world,
                   node=str(node_rank) if node_rank is not None else host, host=host,
                   launcher=detect_launcher(environ), initialized=initialized)


def detect_job(distributed: bool | None = None, *, environ: Mapping[str, str] | None = None,
               strict: bool = True) -> JobInfo | None:
    """Describe the distributed job this process belongs to, or None for a single process.

    Args:
        distributed: None detects (``torch.distributed`` initialised or launcher variables
            set); False turns detection off; True requires a job.
        environ: launcher variables (default ``os.environ``).
        strict: raise on inconsistent variables (before work starts); False warns (code W501)
            and returns None so that the caller measures this process alone (inside a job).

    Raises:
        DistributedError: only when ``strict``: ``RANK >= WORLD_SIZE``, a missing
            ``LOCAL_RANK``, a non-integer variable, or ``distributed=True`` with no job.
    """
    if distributed is False:
        return None
    env = os.environ if environ is None else environ
    try:
        return _detect(distributed, env)
    except DistributedError as e:
        if strict:
            raise
        warn(f"{e}; measuring this process alone", DistributedWarning, "W501")
        return None


def select_gpus(gpus: Sequence[Sensor], local_rank: int,
                local_world_size: int | None) -> list[Sensor]:
    """Pick the GPU sensors this rank uses out of those visible to it (in visible order).

    * one visible GPU: the launcher gave this rank its own ``CUDA_VISIBLE_DEVICES``; keep it;
    * ``k x local_world_size`` visible GPUs: each rank uses ``k`` consecutive ones, this rank
      those from ``k x local_rank``;
    * otherwise the GPU with index ``local_rank`` (the ``cuda:LOCAL_RANK`` convention), or
      none when there is no such GPU.
    """
    if len(gpus) <= 1:
        return list(gpus)
    if local_world_size and len(gpus) % local_world_size == 0:
        per_rank = len(gpus) // local_world_size
        return list(gpus[local_rank * per_rank:(local_rank + 1) * per_rank])
    return [gpus[local_rank]] if local_rank < len(gpus) else []


# ---------------------------------------------------------------- transport (torch inside)


def _new_group(timeout_s: float) -> Any:
    import torch.distributed as dist

    return dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout_s))


def _all_gather_roster(group: Any, entry: dict[str, Any], world_size: int) -> list[Any]:
    import torch.distributed as dist

    roster: list[Any] = [None] * world_size
    dist.all_gather_object(roster, entry, group=group)
    return roster


def gather_to_root(group: Any, payload: bytes, *, rank: int, world_size: int,
                   timeout_s: float) -> tuple[dict[int, bytes], dict[int, str]]:
    """Send ``payload`` from every rank to rank 0 with point-to-point messages on ``group``.

    Rank 0 posts one receive per rank at once (a size, then the bytes) and waits for each up to
    a common deadline, so one dead or slow rank costs at most ``timeout_s`` and never hides the
    others. Other ranks send and wait at most ``timeout_s``.

    Returns:
        On rank 0: (payload per rank that arrived, including its own; error text per rank that
        did not). On other ranks: ({}, {0: error}) when the send failed, else ({}, {}).
    """
    import torch
    import torch.distributed as dist

    deadline = time.monotonic() + timeout_s

    def left() -> timedelta:
        return timedelta(seconds=max(deadline - time.monotonic(), 0.001))

    errors: dict[int, str] = {}
    if rank != 0:
        try:
            size = torch.tensor([len(payload)], dtype=torch.int64)
            body = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
            works: list[Any] = [dist.isend(size, dst=0, group=group, tag=_TAG_SIZE),
                                dist.isend(body, dst=0, group=group, tag=_TAG_BODY)]
            for work in works:
                work.wait(left())
        except Exception as e:  # noqa: BLE001 - report, never raise into the job
            errors[0] = _short(e)
        return {}, errors
    received = {0: payload}
    sizes: dict[int, tuple[Any, Any]] = {}
    for src in range(1, world_size):
        buffer = torch.zeros(1, dtype=torch.int64)
        try:
            sizes[src] = (buffer, dist.irecv(buffer, src=src, group=group, tag=_TAG_SIZE))
        except Exception as e:  # noqa: BLE001 - a dead peer fails here
            errors[src] = _short(e)
    bodies: dict[int, tuple[Any, Any]] = {}
    for src, (buffer, work) in sizes.items():
        try:
            work.wait(left())
            length = int(buffer.item())
            if not 0 < length <= MAX_SUMMARY_BYTES:
                raise DistributedError(f"announced a summary of {length} bytes")
            body = torch.empty(length, dtype=torch.uint8)
            bodies[src] = (body, dist.irecv(body, src=src, group=group, tag=_TAG_BODY))
        except Exception as e:  # noqa: BLE001
            errors[src] = _short(e)
    for src, (body, work) in bodies.items():
        try:
            work.wait(left())
            received[src] = body.numpy().tobytes()
        except Exception as e:  # noqa: BLE001
            errors[src] = _short(e)
    return received, errors


def _short(error: BaseException) -> str:
    """First line of an error, without a leading ``[source.cc:123]`` location (gloo's)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return re.sub(r"^\[[^\]]*\]\s*", "", text)[:200]


# ---------------------------------------------------------------- summaries and merge


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
            self.group = _new_group(self.timeout_s)
            if not decide:  # sensors already assigned (late initialisation): keep the roles
                return
            roster = _all_gather_roster(self.group, {"rank": job.rank, "node": job.node,
                                                     "local_rank": job.local_rank},
                                        job.world_size)
        except Exception as e:  # noqa: BLE001 - fall back to the launcher variables
            self.group, self.connect_failed = None, True
            self.warnings.append(warn(
                f"could not set up the gloo group for aggregation ({_short(e)}); every rank "
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
            record.warnings.append(warn(f"distributed aggregation failed ({_short(e)}); this "
                                        "record holds rank "
                                        f"{self.job.rank}'s measurement only",
                                        DistributedWarning, "W505"))
            return record

    def _finish(self, record: RunRecord) -> RunRecord:
        job = self.job
        record.warnings.extend(w for w in self.warnings if w not in record.warnings)
        if self.group is None and not self.connect_failed and _torch_dist_state()[0]:
            self._connect(decide=False)  # initialised after the run started
        summary = summarize(record, job, shared=self.measures_shared)
        payload = json.dumps(summary).encode("utf-8")
        received: dict[int, bytes] = {0: payload} if job.rank == 0 else {}
        errors: dict[int, str] = {}
        started = time.perf_counter()
        if self.group is not None and _torch_dist_state()[0]:
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
