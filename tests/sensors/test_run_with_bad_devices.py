"""A run with bad visible-devices input or a broken vendor install: it warns and goes on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import wattlm
from tests.fakes.amdsmi import fake_amdsmi
from tests.fakes.nvml import fake_nvml


def test_a_mask_naming_missing_gpus_warns_and_the_run_measures_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_nvml(2)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)  # what `import pynvml` finds
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    monkeypatch.setitem(sys.modules, "pyhlml", None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    with wattlm.track(region="FR", save=False, distributed=False) as run:
        nvml.gpus[1].energy_mj += 50_000.0  # 50 J on the one GPU the job sees
    record = run.result
    assert record is not None
    names = [d.name for d in record.devices]
    assert names[0] == "gpu:0" and "gpu:1" not in names
    assert record.devices[0].energy_j == pytest.approx(50.0)
    assert any(w.startswith("W140: CUDA_VISIBLE_DEVICES entry '3' is not a visible GPU here")
               for w in record.warnings)


def test_amdsmi_without_its_driver_warns_and_the_run_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    amd = fake_amdsmi(1)
    amd.init_error = 34
    monkeypatch.setitem(sys.modules, "amdsmi", amd)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setitem(sys.modules, "pyhlml", None)
    with wattlm.track(region="FR", save=False, distributed=False) as run:
        pass
    record = run.result
    assert record is not None
    assert [d.name for d in record.devices] == ["cpu:model", "memory:model"]
    assert any(w.startswith("W141: amdsmi is installed but could not be initialised")
               and "modprobe amdgpu" in w for w in record.warnings)
