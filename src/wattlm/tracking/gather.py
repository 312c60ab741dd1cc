"""Send each rank's summary to rank 0 over a gloo group, with a deadline and no hang."""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta
from typing import Any

from wattlm.errors import DistributedError

_log = logging.getLogger(__name__)

_TAG_SIZE = 0x5741
_TAG_BODY = 0x5742
#: Largest summary a rank may send (bytes); a larger announced size is treated as corrupt.
MAX_SUMMARY_BYTES = 16 * 1024 * 1024


def new_group(timeout_s: float) -> Any:
    """A new gloo group over every rank (never the job's NCCL group), with a timeout."""
    import torch.distributed as dist

    return dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout_s))


def all_gather_roster(group: Any, entry: dict[str, Any], world_size: int) -> list[Any]:
    """Every rank's ``entry`` (rank, node, local rank), gathered on every rank."""
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
            errors[0] = short_error(e)
        return {}, errors
    received = {0: payload}
    sizes: dict[int, tuple[Any, Any]] = {}
    for src in range(1, world_size):
        buffer = torch.zeros(1, dtype=torch.int64)
        try:
            sizes[src] = (buffer, dist.irecv(buffer, src=src, group=group, tag=_TAG_SIZE))
        except Exception as e:  # noqa: BLE001 - a dead peer fails here
            errors[src] = short_error(e)
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
            errors[src] = short_error(e)
    for src, (body, work) in bodies.items():
        try:
            work.wait(left())
            received[src] = body.numpy().tobytes()
        except Exception as e:  # noqa: BLE001
            errors[src] = short_error(e)
    return received, errors


def short_error(error: BaseException) -> str:
    """First line of an error, without a leading ``[source.cc:123]`` location (gloo's)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return re.sub(r"^\[[^\]]*\]\s*", "", text)[:200]
