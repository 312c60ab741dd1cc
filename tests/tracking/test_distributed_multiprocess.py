"""Several real processes on one machine, joined by gloo over TCP, as a launcher would start them.

Sensors are FakeSensors with fixed counters, so every expected figure is a hand sum: each
rank sees its node's GPUs and its node's shared CPU counter, exactly as on a real node.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from wattlm.store import open_store  # noqa: E402

WORKER = Path(__file__).with_name("_dist_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch(tmp_path: Path, layout: list[dict[str, Any]], *, env_vars: bool = True,
            die: int | None = None, timeout_s: float = 10.0, callback: bool = False,
            stall: int | None = None, stall_s: float = 0.0, eval_on_rank0: bool = False,
            track_ranks: list[int] | None = None) -> tuple[list[int], dict[int, dict[str, Any]]]:
    """Start one process per entry of ``layout`` (node, local_rank, gpu_j, cpu_j)."""
    port, world = _free_port(), len(layout)
    per_node: dict[int, int] = {}
    for entry in layout:
        per_node[entry["node"]] = per_node.get(entry["node"], 0) + 1
    procs = []
    for rank, entry in enumerate(layout):
        env = dict(os.environ)
        env["WATTLM_DISTRIBUTED_TIMEOUT_S"] = str(timeout_s)
        env["TORCHELASTIC_RUN_ID"] = "test"
        env["WATTLM_INTERVAL_S"] = "60"  # no background reads: counters follow the script
        if env_vars:
            env.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(entry["local_rank"]),
                       GROUP_RANK=str(entry["node"]),
                       LOCAL_WORLD_SIZE=str(per_node[entry["node"]]))
        cfg = {"rank": rank, "world_size": world, "port": port, "out": str(tmp_path),
               "gpu_j": entry["gpu_j"], "cpu_j": entry["cpu_j"], "die": die,
               "callback": callback, "stall": stall, "stall_s": stall_s,
               "eval_on_rank0": eval_on_rank0, "timeout_s": timeout_s}
        if track_ranks is not None:
            cfg["track_ranks"] = track_ranks
        procs.append(subprocess.Popen([sys.executable, str(WORKER), json.dumps(cfg)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    codes = []
    for proc in procs:
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        codes.append(proc.returncode)
        if proc.returncode not in (0, 3):
            print(output.decode(errors="replace")[-3000:])
    results = {}
    for rank in range(world):
        path = tmp_path / f"rank{rank}.json"
        if path.exists():
            results[rank] = json.loads(path.read_text())
    return codes, results


def _stored(tmp_path: Path) -> list[Any]:
    store = open_store(str(tmp_path / "runs.db"))
    try:
        return store.list_runs(limit=10)
    finally:
        store.close()


# node 0: GPUs 100 J and 110 J, CPU package 1000 J; node 1: GPUs 200 J and 210 J, CPU 3000 J
NODE0 = {"gpu_j": [100.0, 110.0], "cpu_j": 1000.0}
NODE1 = {"gpu_j": [200.0, 210.0], "cpu_j": 3000.0}


def test_two_nodes_sum_per_node_and_nothing_counted_twice(tmp_path: Path) -> None:
    layout = [{"node": 0, "local_rank": 0, **NODE0}, {"node": 0, "local_rank": 1, **NODE0},
              {"node": 1, "local_rank": 0, **NODE1}, {"node": 1, "local_rank": 1, **NODE1}]
    codes, results = _launch(tmp_path, layout, eval_on_rank0=True)
    assert codes == [0, 0, 0, 0]
    runs = _stored(tmp_path)
    assert len(runs) == 1  # only rank 0 stores
    run = runs[0]
    # each GPU once, each node's CPU once: 100+110+200+210 + 1000+3000
    assert run.energy_j == pytest.approx(4620.0, abs=1e-9)
    dist = run.distributed
    assert dist["world_size"] == 4 and dist["missing_ranks"] == []
    assert dist["launcher"] == "torchrun"
    assert dist["nodes"]["0"]["energy_j"] == pytest.approx(1210.0)
    assert dist["nodes"]["1"]["energy_j"] == pytest.approx(3410.0)
    assert dist["nodes"]["0"]["measured_shared_by"] == 0
    assert dist["nodes"]["1"]["measured_shared_by"] == 2
    assert dist["ranks"]["3"]["devices"] == ["gpu:1"]  # LOCAL_RANK 1 -> the node's 2nd GPU
    assert dist["ranks"]["3"]["energy_j"] == pytest.approx(210.0)
    cpu = [(d.node, d.rank, d.energy_j) for d in run.devices if d.kind == "cpu"]
    assert sorted(cpu) == [("0", 0, 1000.0), ("1", 2, 3000.0)]
    assert run.phases[0].name == "train" and run.phases[0].energy_j == pytest.approx(4620.0)
    # phases are merged at stop, so a phase only rank 0 opened needs no other rank's help
    (evaluation,) = [p for p in run.phases if p.name == "eval"]
    assert {key.rsplit("@", 1)[1] for key in evaluation.device_energy_j} == {"0"}
    # wattlm show: one row per node with who measured its shared sensors, one per rank
    from wattlm.cli.show import render

    text = render(run)
    node_rows = [line.split() for line in text.splitlines() if line.startswith(("0 ", "1 "))]
    assert [row[0] for row in node_rows][:2] == ["0", "1"]
    assert "shared sensors measured by" in text and "gpu:1" in text
    assert "4 ranks on 2 node(s), launcher torchrun" in text and "missing    none" in text
    assert node_rows[1][-2:] == ["rank", "2"]  # node 1's CPU: measured by rank 2
    # the other ranks returned their own share, labelled, and stored nothing
    rank3 = results[3]["record"]
    assert rank3["energy_j"] == pytest.approx(210.0)
    assert rank3["distributed"]["sent_to_rank0"] is True


def test_two_ranks_sharing_one_node_count_it_once_without_launcher_variables(
        tmp_path: Path) -> None:
    # like torch.multiprocessing.spawn: no RANK/LOCAL_RANK, node = host name, roster decides
    layout = [{"node": 0, "local_rank": 0, **NODE0}, {"node": 0, "local_rank": 1, **NODE0}]
    codes, _ = _launch(tmp_path, layout, env_vars=False)
    assert codes == [0, 0]
    (run,) = _stored(tmp_path)
    assert run.energy_j == pytest.approx(100.0 + 110.0 + 1000.0)
    (node,) = run.distributed["nodes"].values()
    assert node["ranks"] == [0, 1] and node["measured_shared_by"] == 0
    assert sum(1 for d in run.devices if d.kind == "cpu") == 1


def test_killed_rank_is_missing_and_survivors_finish(tmp_path: Path) -> None:
    layout = [{"node": 0, "local_rank": i, "gpu_j": [100.0, 110.0, 120.0], "cpu_j": 1000.0}
              for i in range(3)]
    codes, results = _launch(tmp_path, layout, die=2, timeout_s=5.0)
    assert codes == [0, 0, 3]
    assert results[0]["steps"] == 5 and results[1]["steps"] == 5  # training went on
    (run,) = _stored(tmp_path)
    assert run.distributed["missing_ranks"] == [2]
    assert any(w.startswith("W502") and "rank 2" in w for w in run.warnings)
    assert run.degraded
    assert run.energy_j == pytest.approx(100.0 + 110.0 + 1000.0)  # ranks 0, 1 and the CPU


def test_hung_rank_costs_rank0_at_most_the_timeout(tmp_path: Path) -> None:
    # rank 1 reaches stop 8 s late (a slow checkpoint); rank 0 waits at most the 2 s timeout,
    # stores the run without it, and rank 1's own code carries on undisturbed
    layout = [{"node": 0, "local_rank": i, **NODE0} for i in range(2)]
    codes, results = _launch(tmp_path, layout, stall=1, stall_s=8.0, timeout_s=2.0)
    assert codes == [0, 0]
    assert results[0]["stop_s"] < 7.0  # timeout 2 s + a loaded machine; without it: >= 8 s
    assert results[1]["steps"] == 5
    (run,) = _stored(tmp_path)
    assert run.distributed["missing_ranks"] == [1]
    assert any(w.startswith("W502") and "rank 1 of 2" in w for w in run.warnings)
    assert run.energy_j == pytest.approx(100.0 + 1000.0)  # rank 0's GPU and the node's CPU


def test_only_rank0_tracking_waits_once_and_stores_its_own_share(tmp_path: Path) -> None:
    # a user wraps only rank 0 in track(): the group cannot form (W504) after one timeout;
    # stop does not wait a second time, and the run is stored with rank 1 listed as missing
    layout = [{"node": 0, "local_rank": i, **NODE0} for i in range(2)]
    codes, results = _launch(tmp_path, layout, track_ranks=[0], timeout_s=2.0)
    assert codes == [0, 0]
    assert results[0]["stop_s"] < 1.5  # no second 2 s wait for the group at stop
    (run,) = _stored(tmp_path)
    codes_seen = sorted({w[:4] for w in run.warnings if w.startswith("W5")})
    assert codes_seen == ["W502", "W504"]
    assert run.distributed["missing_ranks"] == [1]
    assert run.energy_j == pytest.approx(100.0 + 1000.0)


@pytest.mark.slow
def test_wattlm_callback_two_processes_one_stored_run(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    try:
        from wattlm.integrations.transformers import WattlmCallback  # noqa: F401
    except ImportError:
        pytest.skip("WattlmCallback not available")
    layout = [{"node": 0, "local_rank": 0, **NODE0}, {"node": 0, "local_rank": 1, **NODE0}]
    codes, results = _launch(tmp_path, layout, callback=True)
    assert codes == [0, 0]
    (run,) = _stored(tmp_path)
    assert run.energy_j == pytest.approx(1210.0)
    assert run.distributed["world_size"] == 2
    logs0 = json.loads((tmp_path / "logs0.json").read_text())
    assert logs0["energy_kwh"] == pytest.approx(1210.0 / 3.6e6)  # the job's total, on rank 0
    assert results[1]["record"]["energy_j"] == pytest.approx(110.0)  # rank 1: its own GPU
