"""Scopes: what the modelled sensors measure, shared by both sensors of a run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wattlm.sensors.cgroup import cgroup_cpu_usage_s, cgroup_pids
from wattlm.sensors.model import CpuModelSensor, probe_cpu_model, probe_memory_model
from wattlm.sensors.proctree import DEFAULT_REFRESH_S
from wattlm.sensors.scope import CgroupScope, TreeScope, scope_for, session_members
from wattlm.tracking.scopes import open_scope


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _cgroup_tree(root: Path, usage_usec: int, pids: list[int]) -> Path:
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpu memory\n")
    (root / "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))
    (root / "cpu.stat").write_text(f"usage_usec {usage_usec}\nuser_usec 1\nsystem_usec 2\n")
    return root


def test_the_cpu_and_memory_models_of_a_run_share_one_snapshot_per_sample() -> None:
    cpu = probe_cpu_model(os.getpid()).sensors[0]
    memory = probe_memory_model(os.getpid()).sensors[0]
    assert cpu.scope is memory.scope  # type: ignore[attr-defined]
    scope = cpu.scope  # type: ignore[attr-defined]
    cpu.read_j()
    taken = scope.usage(max_age_s=60)
    memory.read_power_w()  # type: ignore[attr-defined]
    assert scope.usage(max_age_s=60) is taken  # the memory model reused the CPU model's walk
    cpu.read_j()
    assert scope.usage(max_age_s=60) is not taken  # the CPU model always reads afresh


def test_the_tree_is_rescanned_every_half_second_by_default() -> None:
    assert DEFAULT_REFRESH_S == 0.5
    assert TreeScope(os.getpid()).tree._refresh_s == 0.5


def test_cgroup_counter_and_processes(tmp_path: Path) -> None:
    root = _cgroup_tree(tmp_path / "cg", 2_500_000, [os.getpid()])
    sub = root / "child"
    sub.mkdir()
    (sub / "cgroup.procs").write_text("1\n")
    assert cgroup_cpu_usage_s(root) == 2.5
    assert sorted(cgroup_pids(root)) == sorted([os.getpid(), 1])
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "cpuacct.usage").write_text("1500000000\n")
    assert cgroup_cpu_usage_s(tmp_path / "v1") == 1.5
    assert cgroup_cpu_usage_s(tmp_path / "nothing") is None


def test_cgroup_scope_counts_the_cgroup_s_cpu_counter(tmp_path: Path) -> None:
    """2.5 CPU-seconds between reads at 2 W per core (8 W / 4 cores) are 5 J."""
    root = _cgroup_tree(tmp_path / "cg", 1_000_000, [os.getpid()])
    clock = Clock()
    sensor = CpuModelSensor(os.getpid(), tdp_w=8.0, cores=4, clock=clock,
                            scope=CgroupScope(root, own=True, clock=clock))
    sensor.start()
    (root / "cpu.stat").write_text("usage_usec 3500000\n")
    clock.t = 10.0
    assert sensor.read_j() == pytest.approx(2.5 * 2.0)
    # a cgroup switch (the command could not join its own) keeps the total continuous
    other = _cgroup_tree(tmp_path / "other", 9_000_000, [])
    sensor.scope.move_to(other, own=False)  # type: ignore[attr-defined]
    (other / "cpu.stat").write_text("usage_usec 9500000\n")
    clock.t = 20.0
    assert sensor.read_j() == pytest.approx((2.5 + 0.5) * 2.0)


def test_scope_cgroup_falls_back_to_the_process_cgroup_with_w133(tmp_path: Path) -> None:
    # a cgroup directory whose cgroup.procs the kernel did not create: cannot be joined
    root = _cgroup_tree(tmp_path / "cg", 1_000_000, [os.getpid()])
    with open_scope("cgroup", os.getpid(), cgroup_root=root) as run_scope:
        assert run_scope.own_cgroup is None
        assert run_scope.note.startswith("W133") and "could not create a cgroup" in run_scope.note
        assert scope_for(os.getpid()) is run_scope.scope
        assert isinstance(run_scope.scope, CgroupScope) and run_scope.scope.directory == root
    assert scope_for(os.getpid()) is not run_scope.scope  # the choice ends with the block
    assert not (root / f"wattlm-run-{os.getpid()}").exists()


def test_unknown_scope_is_one_clear_error() -> None:
    from wattlm.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="--scope must be one of tree, session, cgroup"):
        with open_scope("everything", os.getpid()):
            pass


def test_session_members_finds_a_session_s_processes() -> None:
    script = "import os, time; os.setsid(); print(os.getpid(), flush=True); time.sleep(30)"
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                          text=True) as proc:
        try:
            assert proc.stdout is not None
            leader = int(proc.stdout.readline())
            assert session_members(leader) == [leader]
            assert os.getpid() not in session_members(leader)
        finally:
            proc.kill()


def test_run_scope_cgroup_checks_the_command_joined_its_own_cgroup(tmp_path: Path) -> None:
    """The command writes itself into the run's cgroup.procs; if the kernel did not move it
    (here: a plain file, not a cgroupfs), the run says so (W133) and measures the parent."""
    import sys as _sys

    from wattlm.config import resolve_settings
    from wattlm.tracking.process import run_command
    from wattlm.tracking.tracker import Tracker

    root = _cgroup_tree(tmp_path / "cg", 1_000_000, [os.getpid()])
    own = root / f"wattlm-run-{os.getpid()}"
    own.mkdir()
    (own / "cgroup.procs").write_text("")
    result = run_command(Tracker(resolve_settings(region="FR", save=False)),
                         [_sys.executable, "-c", "pass"], scope="cgroup", cgroup_root=root)
    assert (own / "cgroup.procs").read_text() == "0"  # the child asked to join, before exec
    (warning,) = [w for w in result.record.warnings if w.startswith("W133")]
    assert "could not join the run's cgroup" in warning and str(root) in warning
    assert result.exit_code == 0
