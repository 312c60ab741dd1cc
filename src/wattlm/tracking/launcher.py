"""Which launcher started this process, which rank it is, and which GPUs it measures."""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wattlm.errors import DistributedError, WattlmWarning, warn
from wattlm.sensors.base import Sensor

_log = logging.getLogger(__name__)

LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK",
                      "NODE_RANK")


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


def torch_dist_state() -> tuple[bool, int, int]:
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
    initialized, dist_rank, dist_world = torch_dist_state()
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
