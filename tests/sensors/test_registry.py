from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tests.fakes.nvml import fake_nvml
from tests.fakes.sysfs import FakePowercap, intel_two_sockets
from wattlm.cli import env as env_cli
from wattlm.sensors.registry import BACKENDS, probe_all, select_sensors


def _selected(results: list) -> list[str]:  # type: ignore[type-arg]
    return [s.info.name for s in select_sensors(results)]


def test_probe_order_and_full_selection_without_double_counting(tmp_path: Path) -> None:
    intel_two_sockets(tmp_path / "pc", psys=True)
    results = probe_all(powercap_root=tmp_path / "pc", nvml_module=fake_nvml(2), environ={})
    assert [r.backend for r in results] == list(BACKENDS)
    assert all(r.available for r in results)
    # GPUs, both packages (not the mmio copy, not core, not psys), both dram; no models
    assert _selected(results) == ["gpu:0", "gpu:1", "rapl:package-0", "rapl:package-1",
                                  "rapl:package-0/dram", "rapl:package-1/dram"]


def test_no_hardware_falls_back_to_models(tmp_path: Path) -> None:
    results = probe_all(powercap_root=tmp_path / "none", nvml_module=fake_nvml(0), environ={})
    assert [r.available for r in results] == [False, False, True, True]
    assert _selected(results) == ["cpu:model", "memory:model"]


def test_packages_without_dram_use_memory_model(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    tree.add_zone("intel-rapl:0", "package-0")
    tree.add_zone("intel-rapl:0:0", "core")
    results = probe_all(powercap_root=tmp_path, nvml_module=fake_nvml(0), environ={})
    assert _selected(results) == ["rapl:package-0", "memory:model"]


def test_psys_only_replaces_cpu_and_memory(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    tree.add_zone("intel-rapl:0", "psys")
    results = probe_all(powercap_root=tmp_path, nvml_module=fake_nvml(0), environ={})
    assert _selected(results) == ["rapl:psys"]


def test_powercap_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    intel_two_sockets(tmp_path / "pc")
    results = probe_all(nvml_module=fake_nvml(0),
                        environ={"WATTLM_POWERCAP_ROOT": str(tmp_path / "pc")})
    assert results[1].available
    monkeypatch.setenv("WATTLM_POWERCAP_ROOT", str(tmp_path / "pc"))
    assert probe_all(nvml_module=fake_nvml(0))[1].available
    # the argument wins over the environment
    assert not probe_all(powercap_root=tmp_path / "x", nvml_module=fake_nvml(0))[1].available


def test_each_call_returns_new_sensors(tmp_path: Path) -> None:
    intel_two_sockets(tmp_path)
    nvml = fake_nvml(1)
    first = select_sensors(probe_all(powercap_root=tmp_path, nvml_module=nvml, environ={}))
    second = select_sensors(probe_all(powercap_root=tmp_path, nvml_module=nvml, environ={}))
    assert [s.info.name for s in first] == [s.info.name for s in second]
    assert not any(a is b for a, b in zip(first, second, strict=True))


def test_cuda_visible_devices_from_environ(tmp_path: Path) -> None:
    results = probe_all(powercap_root=tmp_path, nvml_module=fake_nvml(4),
                        environ={"CUDA_VISIBLE_DEVICES": "2,3"})
    assert [s.info.name for s in results[0].sensors] == ["gpu:0", "gpu:1"]


def _run_env(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    env_cli.register(parser.add_subparsers())
    args = parser.parse_args(["env", *argv])
    return int(args.handler(args))


def test_env_command_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    intel_two_sockets(tmp_path / "pc")
    assert _run_env(["--powercap-root", str(tmp_path / "pc"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [b["backend"] for b in data["backends"]] == list(BACKENDS)
    rapl = data["backends"][1]
    assert rapl["available"] is True
    assert {"name": "rapl:package-0", "kind": "cpu", "provenance": "measured",
            "update_period_s": 0.001} in rapl["sensors"]
    names = [s["name"] for s in data["selected"]]
    assert "rapl:package-1/dram" in names and "memory:model" not in names
    assert data["powercap_root"] == str(tmp_path / "pc")


def test_env_command_human_here(capsys: pytest.CaptureFixture[str]) -> None:
    # conftest points WATTLM_POWERCAP_ROOT at a missing directory: rapl is absent
    assert _run_env([]) == 0
    out = capsys.readouterr().out
    assert "rapl          available: no" in out
    assert "cpu-model     available: yes" in out
    assert "A run here would use:" in out and "cpu:model" in out and "memory:model" in out


def test_a_probe_that_raises_becomes_an_unavailable_result(tmp_path: Path) -> None:
    nvml = fake_nvml(1)

    def broken_init() -> None:
        raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    nvml.nvmlInit = broken_init  # type: ignore[method-assign]
    results = probe_all(powercap_root=tmp_path / "none", nvml_module=nvml, environ={})
    assert [r.backend for r in results] == list(BACKENDS)  # the other probes still ran
    assert not results[0].available
    assert results[0].reason == "probe failed: libnvidia-ml.so.1: cannot open shared object file"
    assert _selected(results) == ["cpu:model", "memory:model"]


def test_env_command_reads_powercap_root_from_wattlm_toml(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # a run resolves powercap_root through the settings files; `wattlm env` must agree
    intel_two_sockets(tmp_path / "pc")
    (tmp_path / "wattlm.toml").write_text(f'[wattlm]\npowercap_root = "{tmp_path / "pc"}"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WATTLM_POWERCAP_ROOT", raising=False)
    assert _run_env(["--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["powercap_root"] == str(tmp_path / "pc")
    assert data["backends"][1]["available"] is True
