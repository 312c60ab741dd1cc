from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fakes.context import fake_context
from tests.fakes.nvml import fake_nvml, uuid_of
from tests.fakes.sysfs import FakePowercap, intel_two_sockets
from wattlm.cli import env as env_cli
from wattlm.sensors.backend import Backend, Claim, ProbeContext
from wattlm.sensors.base import ProbeResult, Sensor
from wattlm.sensors.fake import FakeSensor
from wattlm.sensors.registry import (
    REGISTRY,
    backend_names,
    choose,
    load_backends,
    probe_all,
    select,
    select_sensors,
)

NAMES = ["nvml", "amdsmi", "gaudi", "apple", "rapl", "cpu-model", "memory-model"]


def _selected(results: list[ProbeResult]) -> list[str]:
    return [s.info.name for s in select_sensors(results)]


def _result(results: list[ProbeResult], name: str) -> ProbeResult:
    return next(r for r in results if r.backend == name)


def test_registry_order_and_names() -> None:
    assert backend_names() == NAMES
    assert len(REGISTRY) == len(NAMES)


def test_probe_order_and_full_selection_without_double_counting(tmp_path: Path) -> None:
    intel_two_sockets(tmp_path / "pc", psys=True)
    results = probe_all(fake_context(tmp_path / "pc", modules={"pynvml": fake_nvml(2)}))
    assert [r.backend for r in results] == NAMES
    assert [r.available for r in results] == [True, False, False, False, True, True, True]
    # GPUs, both packages (not the mmio copy, not core, not psys), both dram; no models
    assert _selected(results) == ["gpu:0", "gpu:1", "rapl:package-0", "rapl:package-1",
                                  "rapl:package-0/dram", "rapl:package-1/dram"]
    roles = [c.role for c in select(results).claims]
    assert roles == ["gpu", "gpu", "cpu-package", "cpu-package", "memory", "memory"]


def test_no_hardware_falls_back_to_models(tmp_path: Path) -> None:
    results = probe_all(fake_context(tmp_path / "none"))
    assert [r.available for r in results] == [False] * 5 + [True, True]
    assert _selected(results) == ["cpu:model", "memory:model"]


def test_packages_without_dram_use_memory_model(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    tree.add_zone("intel-rapl:0", "package-0")
    tree.add_zone("intel-rapl:0:0", "core")
    assert _selected(probe_all(fake_context(tmp_path))) == ["rapl:package-0", "memory:model"]


def test_psys_only_replaces_cpu_and_memory(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    tree.add_zone("intel-rapl:0", "psys")
    assert _selected(probe_all(fake_context(tmp_path))) == ["rapl:psys"]


def test_packages_win_over_psys_and_psys_alone_excludes_dram(tmp_path: Path) -> None:
    # psys includes the dram domain: adding it would count memory twice
    tree = FakePowercap(tmp_path)
    tree.add_zone("intel-rapl:0", "psys")
    tree.add_zone("intel-rapl:1", "package-0")
    tree.add_zone("intel-rapl:1:0", "dram")
    assert _selected(probe_all(fake_context(tmp_path))) == ["rapl:package-0",
                                                            "rapl:package-0/dram"]
    only_psys = FakePowercap(tmp_path / "b")
    only_psys.add_zone("intel-rapl:0", "psys")
    only_psys.add_zone("intel-rapl:0:0", "dram")
    assert _selected(probe_all(fake_context(tmp_path / "b"))) == ["rapl:psys"]


def test_powercap_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    intel_two_sockets(tmp_path / "pc")
    context = ProbeContext.create(environ={"WATTLM_POWERCAP_ROOT": str(tmp_path / "pc")})
    assert context.powercap_root == str(tmp_path / "pc")
    monkeypatch.setenv("WATTLM_POWERCAP_ROOT", str(tmp_path / "pc"))
    assert ProbeContext.create().powercap_root == str(tmp_path / "pc")
    # the argument wins over the environment
    assert ProbeContext.create(powercap_root=tmp_path / "x").powercap_root == str(tmp_path / "x")


def test_each_call_returns_new_sensors(tmp_path: Path) -> None:
    intel_two_sockets(tmp_path)
    context = fake_context(tmp_path, modules={"pynvml": fake_nvml(1)})
    first = select_sensors(probe_all(context))
    second = select_sensors(probe_all(context))
    assert [s.info.name for s in first] == [s.info.name for s in second]
    assert not any(a is b for a, b in zip(first, second, strict=True))


def test_cuda_visible_devices_from_context(tmp_path: Path) -> None:
    context = fake_context(tmp_path, modules={"pynvml": fake_nvml(4)},
                           environ={"CUDA_VISIBLE_DEVICES": "2,3"})
    nvml = _result(probe_all(context), "nvml")
    assert [s.info.name for s in nvml.sensors] == ["gpu:0", "gpu:1"]
    assert nvml.problems == []


def test_visible_devices_naming_missing_gpus_is_a_problem_and_the_rest_is_used(
        tmp_path: Path) -> None:
    context = fake_context(tmp_path, modules={"pynvml": fake_nvml(2)},
                           environ={"CUDA_VISIBLE_DEVICES": f"1,7,{uuid_of(0)}"})
    selection = choose(context)
    assert [s.info.name for s in selection.sensors][:1] == ["gpu:0"]
    assert [p.code for p in selection.problems] == ["W140"]
    assert "'7' is not a visible GPU here (2 device(s) here: indices 0-1)" in \
        selection.problems[0].message


def test_a_probe_that_raises_becomes_an_unavailable_result(tmp_path: Path) -> None:
    nvml = fake_nvml(1)

    def broken_init() -> None:
        raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    nvml.nvmlInit = broken_init  # type: ignore[method-assign]
    results = probe_all(fake_context(tmp_path / "none", modules={"pynvml": nvml}))
    assert [r.backend for r in results] == NAMES  # the other probes still ran
    assert not results[0].available
    assert results[0].reason == "probe failed: libnvidia-ml.so.1: cannot open shared object file"
    assert [p.code for p in results[0].problems] == ["W149"]
    assert _selected(results) == ["cpu:model", "memory:model"]


def test_library_present_but_driver_missing(tmp_path: Path) -> None:
    nvml = fake_nvml(1)
    nvml.init_error = True
    selection = choose(fake_context(tmp_path, modules={"pynvml": nvml}))
    assert [s.info.name for s in selection.sensors] == ["cpu:model", "memory:model"]
    assert [p.code for p in selection.problems] == ["W141"]
    assert "Driver Not Loaded" in selection.problems[0].message
    assert "install the NVIDIA driver" in selection.problems[0].message


def test_choose_closes_the_sensors_it_does_not_use(tmp_path: Path) -> None:
    intel_two_sockets(tmp_path, psys=True)
    nvml = fake_nvml(1)
    selection = choose(fake_context(tmp_path, modules={"pynvml": nvml}))
    assert "cpu:model" not in [s.info.name for s in selection.sensors]
    assert nvml.shutdowns == 0  # the selected GPU still holds the NVML session
    for sensor in selection.sensors:
        sensor.close()
    assert nvml.shutdowns == 1


# -- adding a backend: one module and one line in the list ------------------------------------

_BACKEND_MODULE = '''
from wattlm.sensors.backend import PRIORITY_COUNTER, Backend, Claim
from wattlm.sensors.base import ProbeResult
from wattlm.sensors.fake import FakeSensor


def _probe(context):
    if context.environ.get("TOY_NPU") != "1":
        return ProbeResult("toy-npu", False, "TOY_NPU is not 1", hint="export TOY_NPU=1")
    return ProbeResult("toy-npu", True, "one toy NPU",
                       sensors=[FakeSensor("npu:0", power_w=40.0, kind="other")])


BACKEND = Backend("toy-npu", _probe,
                  lambda sensor: Claim("accelerator", PRIORITY_COUNTER, scope="toy/npu:0"),
                  method="a scripted counter")
'''


def test_a_new_backend_is_one_module_and_one_line(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "plugins"
    package.mkdir()
    (package / "toy_npu.py").write_text(textwrap.dedent(_BACKEND_MODULE))
    monkeypatch.syspath_prepend(str(package))
    entries = [*REGISTRY, "toy_npu:BACKEND"]  # the one line
    backends = load_backends(entries)
    assert backend_names(backends) == [*NAMES, "toy-npu"]
    off = probe_all(fake_context(tmp_path), backends=backends)
    assert _result(off, "toy-npu").hint == "export TOY_NPU=1"
    on = choose(fake_context(tmp_path, environ={"TOY_NPU": "1"}), backends=backends)
    assert [s.info.name for s in on.sensors] == ["npu:0", "cpu:model", "memory:model"]
    assert [c.role for c in on.claims] == ["accelerator", "cpu-package", "memory"]
    sys.modules.pop("toy_npu", None)


def test_a_better_source_for_a_role_replaces_the_model(tmp_path: Path) -> None:
    # a backend registered from the test: a measured CPU counter beats the CPU model
    def probe(context: ProbeContext) -> ProbeResult:
        return ProbeResult("cpu-meter", True, "a wall meter on the CPU rail",
                           sensors=[FakeSensor("cpu:meter", power_w=65.0, kind="cpu")])

    def claim(sensor: Sensor) -> Claim:
        return Claim("cpu-package", 100)

    backends = [*load_backends(), Backend("cpu-meter", probe, claim)]
    names = [s.info.name for s in choose(fake_context(tmp_path), backends=backends).sensors]
    assert names == ["cpu:meter", "memory:model"]


def test_a_registry_entry_that_is_not_a_backend_is_refused() -> None:
    from wattlm.errors import WattlmError

    with pytest.raises(WattlmError, match="'wattlm.sensors.rapl:probe_rapl' is not a Backend"):
        load_backends(["wattlm.sensors.rapl:probe_rapl"])


# -- wattlm env ---------------------------------------------------------------------------------

def _run_env(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    env_cli.register(parser.add_subparsers())
    args = parser.parse_args(["env", *argv])
    return int(args.handler(args))


def test_env_command_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    intel_two_sockets(tmp_path / "pc")
    assert _run_env(["--powercap-root", str(tmp_path / "pc"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [b["backend"] for b in data["backends"]] == NAMES
    rapl = data["backends"][4]
    assert rapl["available"] is True
    assert {"name": "rapl:package-0", "kind": "cpu", "provenance": "measured",
            "update_period_s": 0.001} in rapl["sensors"]
    assert "energy_uj" in rapl["method"]
    names = [s["name"] for s in data["selected"]]
    assert "rapl:package-1/dram" in names and "memory:model" not in names
    assert {"name": "rapl:package-0", "kind": "cpu", "provenance": "measured",
            "update_period_s": 0.001, "role": "cpu-package"} in data["selected"]
    assert data["powercap_root"] == str(tmp_path / "pc")


def test_env_command_human_here(capsys: pytest.CaptureFixture[str]) -> None:
    # conftest points WATTLM_POWERCAP_ROOT at a missing directory: rapl is absent
    assert _run_env([]) == 0
    out = capsys.readouterr().out
    assert "rapl          available: no" in out
    assert "cpu-model     available: yes" in out
    assert "A run here would use:" in out and "cpu:model" in out and "memory:model" in out


def test_env_explains_bad_visible_devices(tmp_path: Path) -> None:
    context = fake_context(modules={"pynvml": fake_nvml(2)},
                           environ={"CUDA_VISIBLE_DEVICES": "5"})
    data = env_cli.collect(str(tmp_path / "none"), context=context)
    nvml = data["backends"][0]
    assert nvml["available"] is False
    assert nvml["problems"][0]["code"] == "W140"
    text = env_cli.render(data)
    assert "problem W140: CUDA_VISIBLE_DEVICES entry '5' is not a visible GPU here" in text
    assert "A run here would warn 1 time(s)" in text


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
    assert data["backends"][4]["available"] is True
