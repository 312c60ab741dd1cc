from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from wattlm.errors import ConfigError
from wattlm.sensors.model import (
    DEFAULT_TDP_W_PER_CORE,
    DEFAULT_WATTS_PER_GB,
    CpuModelSensor,
    MemoryModelSensor,
    cgroup_cpu_quota_cores,
    cgroup_memory_limit_bytes,
    match_cpu_tdp,
    probe_cpu_model,
    probe_memory_model,
    read_cpu_info,
)
from wattlm.units import Provenance

MIB = 2**20
GIB = 2**30


def _cpuinfo(path: Path, model: str, sockets: int, per_socket: int) -> Path:
    blocks = []
    n = 0
    for socket in range(sockets):
        for _ in range(per_socket):
            blocks.append(f"processor\t: {n}\nvendor_id\t: GenuineIntel\nmodel\t\t: 106\n"
                          f"model name\t: {model}\nphysical id\t: {socket}\n")
            n += 1
    path.write_text("\n".join(blocks))
    return path


# --- CPU identification ------------------------------------------------------------------

def test_read_cpu_info_two_sockets(tmp_path: Path) -> None:
    path = _cpuinfo(tmp_path / "cpuinfo", "Intel(R) Xeon(R) Platinum 8351N CPU @ 2.40GHz", 2, 4)
    info = read_cpu_info(path)
    assert info.model_name == "Intel(R) Xeon(R) Platinum 8351N CPU @ 2.40GHz"
    assert (info.sockets, info.logical_cores) == (2, 8)


@pytest.mark.parametrize(
    ("model", "table_name", "tdp_w"),
    [
        ("Intel(R) Xeon(R) Platinum 8351N CPU @ 2.40GHz", "Intel Xeon Platinum 8351N", 225),
        ("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", "Intel Core i7-8700K", 95),
        ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 105),
        ("AMD Phenom(tm) II X6 1075T Processor", "AMD Phenom II X6 1075T", 125),
    ],
)
def test_tdp_table_match(model: str, table_name: str, tdp_w: float) -> None:
    match = match_cpu_tdp(model)
    assert match is not None
    assert (match.table_name, match.tdp_w, match.source_id) == (
        table_name, tdp_w, "codecarbon_cpu_power")


@pytest.mark.parametrize("model", ["AMD EPYC", "", "Intel(R) Xeon(R) CPU @ 2.20GHz",
                                   "Totally Unknown 9999Z"])
def test_unknown_cpu_has_no_match(model: str) -> None:
    assert match_cpu_tdp(model) is None


def test_probe_uses_table_tdp_times_sockets_over_logical_cores(tmp_path: Path) -> None:
    path = _cpuinfo(tmp_path / "cpuinfo", "Intel(R) Xeon(R) Platinum 8351N CPU @ 2.40GHz", 2, 1)
    result = probe_cpu_model(os.getpid(), cpuinfo_path=path, cgroup_root=tmp_path / "nocg",
                             environ={})
    assert result.available
    sensor = result.sensors[0]
    assert isinstance(sensor, CpuModelSensor)
    assert sensor.info.name == "cpu:model" and sensor.info.provenance is Provenance.MODELLED
    cores = psutil.cpu_count(logical=True)
    assert sensor.watts_per_core == pytest.approx(225 * 2 / cores)
    assert "Xeon Platinum 8351N" in result.reason


def test_probe_unknown_cpu_uses_documented_default_and_override(tmp_path: Path) -> None:
    path = _cpuinfo(tmp_path / "cpuinfo", "Mystery CPU", 1, 2)
    result = probe_cpu_model(os.getpid(), cpuinfo_path=path, environ={})
    assert result.sensors[0].watts_per_core == DEFAULT_TDP_W_PER_CORE  # type: ignore[attr-defined]
    assert "WATTLM_CPU_TDP_W" in result.hint
    forced = probe_cpu_model(os.getpid(), cpuinfo_path=path, environ={"WATTLM_CPU_TDP_W": "64"})
    cores = psutil.cpu_count(logical=True)
    assert forced.sensors[0].watts_per_core == pytest.approx(64 / cores)  # type: ignore[attr-defined]
    bad = probe_cpu_model(os.getpid(), cpuinfo_path=path, environ={"WATTLM_CPU_TDP_W": "-3"})
    assert not bad.available and "positive" in bad.reason


# --- cgroups -----------------------------------------------------------------------------

def _proc_cgroup(tmp_path: Path, pid: int, text: str) -> Path:
    proc = tmp_path / "proc"
    (proc / str(pid)).mkdir(parents=True)
    (proc / str(pid) / "cgroup").write_text(text)
    return proc


def test_cgroup_v2_quota_and_memory_smallest_along_the_path(tmp_path: Path) -> None:
    cg = tmp_path / "cg"
    leaf = cg / "kubepods" / "pod1"
    leaf.mkdir(parents=True)
    (cg / "cgroup.controllers").write_text("cpu memory\n")
    (cg / "kubepods" / "cpu.max").write_text("400000 100000\n")       # 4 cores
    (leaf / "cpu.max").write_text("150000 100000\n")                  # 1.5 cores
    (cg / "kubepods" / "memory.max").write_text("max\n")
    (leaf / "memory.max").write_text(f"{8 * GIB}\n")
    proc = _proc_cgroup(tmp_path, 42, "0::/kubepods/pod1\n")
    assert cgroup_cpu_quota_cores(cg, pid=42, proc_root=proc) == pytest.approx(1.5)
    assert cgroup_memory_limit_bytes(cg, pid=42, proc_root=proc) == 8 * GIB


def test_cgroup_v2_unlimited(tmp_path: Path) -> None:
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "cgroup.controllers").write_text("cpu memory\n")
    (cg / "cpu.max").write_text("max 100000\n")
    (cg / "memory.max").write_text("max\n")
    proc = _proc_cgroup(tmp_path, 7, "0::/\n")
    assert cgroup_cpu_quota_cores(cg, pid=7, proc_root=proc) is None
    assert cgroup_memory_limit_bytes(cg, pid=7, proc_root=proc) is None


def test_cgroup_v1_quota_and_memory(tmp_path: Path) -> None:
    cg = tmp_path / "cg"
    (cg / "cpu,cpuacct").mkdir(parents=True)
    (cg / "memory").mkdir()
    (cg / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("50000\n")
    (cg / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    (cg / "memory" / "memory.limit_in_bytes").write_text(f"{512 * MIB}\n")
    # docker without a cgroup namespace: the path in /proc is not under the mount
    proc = _proc_cgroup(tmp_path, 9, "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n")
    assert cgroup_cpu_quota_cores(cg, pid=9, proc_root=proc) == pytest.approx(0.5)
    assert cgroup_memory_limit_bytes(cg, pid=9, proc_root=proc) == 512 * MIB
    (cg / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("-1\n")
    (cg / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert cgroup_cpu_quota_cores(cg, pid=9, proc_root=proc) is None
    assert cgroup_memory_limit_bytes(cg, pid=9, proc_root=proc) is None


# --- the CPU model against a real process tree -------------------------------------------

BURN = """
import time
target = float(__import__('sys').argv[1])
while time.process_time() < target:
    pass
print(time.process_time(), flush=True)
"""

PARENT = """
import subprocess, sys
sys.stdin.readline()                       # wait until the sensor has started
out = subprocess.run([sys.executable, '-c', sys.argv[1], sys.argv[2]],
                     capture_output=True, text=True, check=True).stdout
print(out.strip(), flush=True)
sys.stdin.readline()                       # stay alive until the sensor has been read
"""


def test_cpu_model_counts_a_grandchild_burning_one_cpu_second() -> None:
    """Tolerance: the burner stops at 1.0 s of its own CPU time (it reports the exact figure);
    the tree also spends subprocess bookkeeping in the parent (a few ms), and /proc reports CPU
    time in 10 ms clock ticks (user and system rounded separately), so the modelled CPU-seconds
    must lie in [reported - 0.03 s, reported + 0.25 s]: about -3 % / +25 % of 1 s."""
    with subprocess.Popen([sys.executable, "-c", PARENT, BURN, "1.0"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdin is not None and parent.stdout is not None
        try:
            time.sleep(0.3)  # let the parent interpreter finish starting
            sensor = CpuModelSensor(parent.pid, tdp_w=100.0, cores=4, refresh_s=0.0)
            sensor.start()
            parent.stdin.write("go\n")
            parent.stdin.flush()
            reported = float(parent.stdout.readline())
            energy_j = sensor.read_j()
        finally:
            parent.stdin.write("done\n")
            parent.stdin.flush()
            parent.wait(timeout=10)
    assert reported >= 1.0
    per_core_w = 100.0 / 4
    assert (reported - 0.03) * per_core_w <= energy_j <= (reported + 0.25) * per_core_w
    assert sensor.cpu_seconds == pytest.approx(energy_j / per_core_w)


def test_cpu_model_capped_at_cgroup_quota() -> None:
    class Clock:
        t = 0.0

        def __call__(self) -> float:
            return self.t

    clock = Clock()
    sensor = CpuModelSensor(os.getpid(), tdp_w=80.0, cores=8, clock=clock, quota_cores=0.5)
    sensor.start()
    start = time.process_time()
    while time.process_time() - start < 0.3:  # burn 0.3 CPU-seconds here
        pass
    clock.t = 0.1  # ...in 0.1 s of (fake) wall time: the quota allows 0.05 CPU-seconds
    assert sensor.read_j() == pytest.approx(0.5 * 0.1 * 80.0 / 8)


def test_cpu_model_rejects_bad_parameters() -> None:
    with pytest.raises(ConfigError, match="tdp_w > 0"):
        CpuModelSensor(os.getpid(), tdp_w=0.0, cores=4)


def test_cpu_model_read_is_cheap() -> None:
    sensor = CpuModelSensor(os.getpid(), tdp_w=100.0, cores=4)
    sensor.start()
    t0 = time.perf_counter()
    for _ in range(200):
        sensor.read_j()
    per_read_s = (time.perf_counter() - t0) / 200
    assert per_read_s < 0.005  # typical ~0.1 ms; generous bound for a loaded CI machine


# --- the memory model --------------------------------------------------------------------

HOLD = """
import sys
block = bytearray(int(sys.argv[1]) * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1                           # touch every page so it is resident
print('ready', flush=True)
sys.stdin.readline()
"""


def test_memory_model_uses_the_tree_rss_not_host_ram() -> None:
    with subprocess.Popen([sys.executable, "-c", HOLD, "200"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as child:
        assert child.stdin is not None and child.stdout is not None
        try:
            assert child.stdout.readline().strip() == "ready"
            sensor = MemoryModelSensor(child.pid)
            power_w = sensor.read_power_w()
            capped = MemoryModelSensor(child.pid, limit_bytes=50 * MIB).read_power_w()
        finally:
            child.stdin.write("\n")
            child.stdin.flush()
            child.wait(timeout=10)
    # 200 MiB held + the interpreter (~10-30 MiB)
    assert 200 * MIB / GIB * DEFAULT_WATTS_PER_GB <= power_w <= 260 * MIB / GIB * 0.3725
    assert power_w < psutil.virtual_memory().total / GIB * DEFAULT_WATTS_PER_GB / 4
    assert capped == pytest.approx(50 * MIB / GIB * DEFAULT_WATTS_PER_GB)
    assert sensor.info.provenance is Provenance.MODELLED and sensor.info.kind == "memory"


def test_memory_model_integrates_over_time() -> None:
    class Clock:
        t = 0.0

        def __call__(self) -> float:
            return self.t

    clock = Clock()
    limit = 16 * MIB  # this test process holds more than 16 MiB, so the power is the cap
    sensor = MemoryModelSensor(os.getpid(), 2.0, limit_bytes=limit, clock=clock)
    sensor.start()
    clock.t = 10.0
    assert sensor.read_j() == pytest.approx(10.0 * 16 / 1024 * 2.0)


def test_memory_probe_reports_cgroup_limit(tmp_path: Path) -> None:
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "cgroup.controllers").write_text("memory\n")
    (cg / "memory.max").write_text(f"{GIB}\n")
    result = probe_memory_model(os.getpid(), cgroup_root=cg, proc_root=tmp_path / "noproc")
    assert result.available
    assert "cgroup memory limit (1.0 GiB)" in result.reason
    assert result.sensors[0].limit_bytes == GIB  # type: ignore[attr-defined]


@pytest.mark.parametrize("children_files", [True, False])
def test_process_tree_finds_live_grandchildren(children_files: bool) -> None:
    """Both discovery paths (per-thread children files, full /proc scan) see a grandchild."""
    from wattlm.sensors.proctree import ProcessTree, _children_files_supported

    if children_files and not _children_files_supported():
        pytest.skip("this kernel has no /proc/<pid>/task/<tid>/children")
    script = ("import subprocess, sys, time\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(20)'])\n"
              "print(child.pid, flush=True)\n"
              "time.sleep(20)\n")
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                          text=True) as parent:
        assert parent.stdout is not None
        try:
            grandchild = int(parent.stdout.readline())
            tree = ProcessTree(parent.pid, refresh_s=0.0)
            tree._children_files = children_files
            pids = {p.pid for p in tree.processes()}
        finally:
            parent.kill()
            os.kill(grandchild, 9)
    assert pids == {parent.pid, grandchild}
