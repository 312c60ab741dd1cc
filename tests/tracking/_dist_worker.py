"""One rank of a simulated distributed job (run by test_distributed_multiprocess.py).

argv[1] is a JSON config: rank, world_size, port, out (folder), gpu_j (the energy of each GPU
visible on this rank's node), cpu_j (the node's shared CPU sensor), die (rank that exits
mid-run, or null), stall (rank that reaches stop ``stall_s`` seconds late, or null), eval_on_rank0
(rank 0 alone opens an "eval" phase), track_ranks (ranks that call track(); default all),
timeout_s, callback (bool).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path


def main() -> int:
    cfg = json.loads(sys.argv[1])
    rank, world = cfg["rank"], cfg["world_size"]
    out = Path(cfg["out"])
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{cfg['port']}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=30))
    import wattlm
    from wattlm.sensors.fake import FakeSensor

    # every rank of a node sees the node's GPUs and its shared CPU counter (the same "tree")
    # counters: the first read (phase start; callback: none) sees 0 J, every later read the total
    first = [] if cfg.get("callback") else [0.0]
    sensors = [FakeSensor(f"gpu:{i}", "gpu", readings=[*first, e])
               for i, e in enumerate(cfg["gpu_j"])]
    sensors.append(FakeSensor("rapl:package-0", "cpu", readings=[*first, cfg["cpu_j"]]))
    steps, stop_s = 0, 0.0
    if cfg.get("callback"):
        result = _with_callback(sensors, cfg)
        steps = 3
    elif rank not in cfg.get("track_ranks", [rank]):  # this rank never calls track()
        time.sleep(cfg["timeout_s"] * 3)
        dist.destroy_process_group()
        return 0
    else:
        with wattlm.track(sensors=sensors, region="FR", project="dist") as run:
            with run.phase("train"):
                for _ in range(5):
                    if cfg.get("die") == rank and steps == 2:
                        os._exit(3)  # killed mid-run: no stop, no goodbye
                    time.sleep(0.1)
                    steps += 1
            if cfg.get("eval_on_rank0") and rank == 0:
                with run.phase("eval"):  # a phase only rank 0 opens: nothing waits for it
                    time.sleep(0.05)
            if cfg.get("stall") == rank:
                time.sleep(cfg["stall_s"])  # hung (a slow checkpoint): rank 0 must not wait
            stop_begin = time.monotonic()
        stop_s = time.monotonic() - stop_begin
        result = run.result
    assert result is not None
    (out / f"rank{rank}.json").write_text(json.dumps(
        {"steps": steps, "stop_s": stop_s, "record": result.to_dict()}))
    dist.destroy_process_group()
    return 0


def _with_callback(sensors: list, cfg: dict) -> object:
    from types import SimpleNamespace

    from wattlm.integrations.transformers import WattlmCallback

    # the Trainer's events with the attributes the callback reads (TrainingArguments and
    # TrainerState cost seconds to import and build on a small machine)
    callback = WattlmCallback(sensors=sensors, region="FR", project="dist-hf", model_card=False)
    args = SimpleNamespace(output_dir=cfg["out"])
    state = SimpleNamespace(max_steps=3, global_step=0, log_history=[],
                            is_world_process_zero=cfg["rank"] == 0)
    control = SimpleNamespace()
    callback.on_train_begin(args, state, control)
    for step in range(3):
        time.sleep(0.1)
        state.global_step = step + 1
        callback.on_step_end(args, state, control)
    logs: dict = {"train_runtime": 0.3}  # the Trainer's last log comes before on_train_end
    callback.on_log(args, state, control, logs=logs)
    callback.on_train_end(args, state, control)
    (Path(cfg["out"]) / f"logs{cfg['rank']}.json").write_text(json.dumps(logs))
    return callback.result


if __name__ == "__main__":
    sys.exit(main())
