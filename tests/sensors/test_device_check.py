"""bench/device_check.py without a GPU: it must run, say what it skipped and exit 0; with a
fake NVML it must compute the phase figures from the counter and the samples."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from tests.fakes.nvml import FakeGpu, FakeNvml, fake_nvml

BENCH = Path(__file__).resolve().parents[2] / "bench" / "device_check.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("device_check", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ClockedNvml(FakeNvml):
    """GPUs drawing a constant power in real time: the counter is its integral."""

    def __init__(self, n: int, watts: float) -> None:
        super().__init__(gpus=fake_nvml(n).gpus)
        self.watts = watts
        self.t0 = time.time()

    def nvmlSystemGetDriverVersion(self) -> str:  # noqa: N802
        return "550.54.15"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeGpu) -> int:  # noqa: N802
        return int(1e6 + self.watts * (time.time() - self.t0) * 1000)

    def nvmlDeviceGetPowerUsage(self, handle: FakeGpu) -> int:  # noqa: N802
        return int(self.watts * 1000)


def test_without_nvml_it_says_what_it_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    out = tmp_path / "check.json"
    assert _bench().main(["--out", str(out)]) == 0
    assert "skipped: everything: nvidia-ml-py is not installed" in capsys.readouterr().out
    assert json.loads(out.read_text())["gpus"] == []


def test_with_a_driver_but_no_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_nvml(0)
    nvml.init_error = True
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    out = tmp_path / "check.json"
    assert _bench().main(["--out", str(out)]) == 0
    assert "NVML could not be initialised" in json.loads(out.read_text())["skipped"][0]


def test_phase_figures_from_a_fake_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", ClockedNvml(2, watts=250.0))
    monkeypatch.setitem(sys.modules, "torch", None)  # no workload: idle checks only
    monkeypatch.setenv("PATH", str(tmp_path))       # no nvidia-smi either
    out = tmp_path / "check.json"
    assert _bench().main(["--out", str(out), "--idle-s", "1.5", "--period-s", "0.2"]) == 0
    report = json.loads(out.read_text())
    assert any("torch is not installed" in s for s in report["skipped"])
    assert any(s.startswith("nvidia-smi column") for s in report["skipped"])
    (idle,) = report["phases"]
    for row in idle["gpus"]:
        assert row["counter_w"] == pytest.approx(250.0, rel=0.02)
        assert row["sampled_w"] == pytest.approx(250.0, rel=0.02)
        assert row["smi_w"] is None
    assert [g["idle_w"] for g in report["gpus"]] == pytest.approx([250.0, 250.0], rel=0.02)
    text = capsys.readouterr().out
    assert "gpu:1 NVIDIA H100 80GB HBM3" in text and "250 W" in text
