"""Cost of the stop-time gather: 2, 4 and 8 CPU processes joined by gloo on this machine.

Each rank sends the summary a real rank sends (one GPU, plus the node's CPU and memory on
local rank 0, and ``--phases`` phases) with ``gather_to_root``; rank 0 receives and merges.
Prints, per world size, the median wall time of gather + merge on rank 0 over ``--repeats``
rounds, the bytes of the largest summary (a node's local rank 0) and the bytes rank 0
received in all (measured, not estimated).

    .venv/bin/python bench/bench_distributed.py [--sizes 2 4 8] [--repeats 20] [--phases 4]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time
from datetime import timedelta


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, repeats: int, phases: int, queue: object) -> None:
    import torch.distributed as dist

    from wattlm.records import DeviceEnergy, PhaseRecord, RunRecord
    from wattlm.tracking.distributed import (
        JobInfo,
        _new_group,
        gather_to_root,
        merge_summaries,
        summarize,
    )
    from wattlm.units import Provenance

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=60))
    group = _new_group(60.0)
    local_rank = rank % 8
    devices = [DeviceEnergy(f"gpu:{local_rank}", "gpu", 3.6e6, Provenance.MEASURED, 400.0, 700.0)]
    if local_rank == 0:
        devices += [DeviceEnergy("rapl:package-0", "cpu", 9e5, Provenance.MEASURED, 250.0),
                    DeviceEnergy("rapl:dram-0", "memory", 1e5, Provenance.MEASURED, 30.0)]
    record = RunRecord(id=None, project="bench", started_at="t", duration_s=9000.0,
                       energy_j=sum(d.energy_j for d in devices), devices=devices,
                       phases=[PhaseRecord(f"epoch-{i}", i * 100.0, 100.0, 1e5,
                                           {d.name: 1e5 / len(devices) for d in devices})
                               for i in range(phases)], provenance=Provenance.MEASURED)
    job = JobInfo(rank=rank, world_size=world, local_rank=local_rank, local_world_size=8,
                  node=str(rank // 8), host="h", launcher="torchrun", initialized=True)
    payload = json.dumps(summarize(record, job, shared=local_rank == 0)).encode()
    times, at_root = [], 0
    for _ in range(repeats):
        dist.barrier(group=group)
        start = time.perf_counter()
        received, errors = gather_to_root(group, payload, rank=rank, world_size=world,
                                          timeout_s=30.0)
        if rank == 0:
            assert not errors and len(received) == world, errors
            at_root = sum(len(b) for b in received.values())
            merge_summaries(RunRecord.from_dict(record.to_dict()),
                            {r: json.loads(b) for r, b in received.items()},
                            world_size=world, launcher="torchrun")
        times.append(time.perf_counter() - start)
    if rank == 0:
        queue.put((statistics.median(times), len(payload), at_root))  # type: ignore[attr-defined]
    dist.destroy_process_group()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--phases", type=int, default=4)
    args = parser.parse_args()
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    print(f"gather + merge on rank 0 (median of {args.repeats}), {os.cpu_count()} CPU(s), gloo")
    print(f"{'ranks':>5}  {'time ms':>8}  {'bytes/rank*':>11}  {'bytes at rank 0':>15}")
    for world in args.sizes:
        queue = ctx.Queue()
        port = _free_port()
        procs = [ctx.Process(target=_worker, args=(r, world, port, args.repeats, args.phases,
                                                   queue)) for r in range(world)]
        for p in procs:
            p.start()
        median_s, size, at_root = queue.get(timeout=300)
        for p in procs:
            p.join(timeout=60)
        print(f"{world:>5}  {median_s * 1000:>8.2f}  {size:>11,}  {at_root:>15,}")
    print("* the summary of a local rank 0 (it carries the node's shared sensors): the largest;"
          " ranks 8 apart share a node")
    return 0


if __name__ == "__main__":
    sys.exit(main())
