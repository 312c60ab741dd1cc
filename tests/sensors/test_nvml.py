from __future__ import annotations

import sys

import pytest

from tests.fakes.nvml import FakeGpu, FakeNvml, fake_nvml, uuid_of
from wattlm.errors import SensorError
from wattlm.sensors.nvml import (
    NvmlGpuSensor,
    NvmlPowerSensor,
    parse_visible_devices,
    probe_nvml,
)
from wattlm.units import Provenance


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_energy_counter_in_joules_and_measured() -> None:
    nvml = fake_nvml(2)
    result = probe_nvml(nvml, environ={})
    assert result.available, result.reason
    assert [s.info.name for s in result.sensors] == ["gpu:0", "gpu:1"]
    gpu0 = result.sensors[0]
    assert isinstance(gpu0, NvmlGpuSensor)
    assert gpu0.info.provenance is Provenance.MEASURED and gpu0.info.kind == "gpu"
    gpu0.start()
    nvml.gpus[0].energy_mj += 123_456  # 123.456 J
    assert gpu0.read_j() == pytest.approx(123.456)
    assert result.sensors[1].read_j() == 0.0  # never started: starts at the first read


def test_power_sampling_where_counter_unsupported_trapezoid() -> None:
    nvml = fake_nvml(1, energy_supported=False, power_mw=100_000)
    result = probe_nvml(nvml, environ={})
    sensor = result.sensors[0]
    assert isinstance(sensor, NvmlPowerSensor)
    assert sensor.info.provenance is Provenance.INTEGRATED
    assert "power sampling" in result.reason
    clock = Clock()
    sensor = NvmlPowerSensor(nvml, nvml.gpus[0], 0, clock=clock)
    sensor.start()                       # 100 W at t=0
    clock.t += 2.0
    nvml.gpus[0].power_mw = 300_000      # 300 W at t=2: trapezoid (100+300)/2*2 = 400 J
    assert sensor.read_j() == pytest.approx(400.0)
    clock.t += 1.0                       # still 300 W: +300 J
    assert sensor.read_j() == pytest.approx(700.0)


def test_mixed_counter_support_per_gpu() -> None:
    nvml = FakeNvml(gpus=[FakeGpu(uuid_of(0)), FakeGpu(uuid_of(1), energy_supported=False)])
    result = probe_nvml(nvml, environ={})
    assert [type(s).__name__ for s in result.sensors] == ["NvmlGpuSensor", "NvmlPowerSensor"]
    # both carry the driver's model name, which accounting matches to the catalogue
    assert [s.info.model for s in result.sensors] == ["NVIDIA H100 80GB HBM3"] * 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, [0, 1, 2, 3]),
        ("", []),
        ("NoDevFiles", []),
        ("-1", []),
        ("2", [2]),
        ("3,1", [3, 1]),
        ("1,-1,2", [1]),          # CUDA stops at the first invalid entry
        ("0,7,1", [0]),           # out of range also stops
        ("1,1", [1]),             # a repeat stops too
        (" 2 , 0 ", [2, 0]),
    ],
)
def test_cuda_visible_devices_indices(value: str | None, expected: list[int]) -> None:
    uuids = [uuid_of(i) for i in range(4)]
    assert parse_visible_devices(value, uuids)[0] == expected


def test_cuda_visible_devices_uuid_prefixes() -> None:
    uuids = [uuid_of(i) for i in range(4)]
    assert parse_visible_devices(f"{uuids[2]},{uuids[0][:12]}", uuids)[0] == [2, 0]
    # "GPU-0000000" is a prefix of every UUID: ambiguous, so nothing is selected
    chosen, note = parse_visible_devices("GPU-0000000", uuids)
    assert chosen == [] and "not a visible GPU" in note


def test_visible_mask_renames_gpus_as_the_job_sees_them() -> None:
    nvml = fake_nvml(4)
    for i, gpu in enumerate(nvml.gpus):
        gpu.energy_mj = 1000.0 * (i + 1)
    result = probe_nvml(nvml, environ={"CUDA_VISIBLE_DEVICES": f"3,{uuid_of(1)}"})
    assert [s.info.name for s in result.sensors] == ["gpu:0", "gpu:1"]
    gpu0, gpu1 = result.sensors
    gpu0.start()
    gpu1.start()
    nvml.gpus[3].energy_mj += 5000   # physical GPU 3 is the job's gpu:0
    nvml.gpus[1].energy_mj += 2000   # physical GPU 1 is the job's gpu:1
    assert gpu0.read_j() == pytest.approx(5.0)
    assert gpu1.read_j() == pytest.approx(2.0)


def test_empty_mask_means_no_gpu_and_nvml_shut_down() -> None:
    nvml = fake_nvml(2)
    result = probe_nvml(nvml, environ={"CUDA_VISIBLE_DEVICES": ""})
    assert not result.available and result.sensors == []
    assert "hides every GPU" in result.reason
    assert nvml.inits == nvml.shutdowns == 1


def test_error_mid_run_is_translated_to_sensor_error() -> None:
    nvml = fake_nvml(2)
    result = probe_nvml(nvml, environ={})
    gpu0, gpu1 = result.sensors
    gpu0.start()
    gpu1.start()
    nvml.gpus[0].fail_after = nvml.gpus[0].reads  # GPU 0 falls off the bus now
    with pytest.raises(SensorError, match="gpu:0.*GPU is lost") as info:
        gpu0.read_j()
    assert isinstance(info.value.__cause__, nvml.NVMLError)
    nvml.gpus[1].energy_mj += 1000
    assert gpu1.read_j() == pytest.approx(1.0)  # the other GPU carries on


def test_power_sensor_error_mid_run_is_translated() -> None:
    nvml = fake_nvml(1, energy_supported=False)
    sensor = probe_nvml(nvml, environ={}).sensors[0]
    sensor.start()
    nvml.gpus[0].fail_after = 0
    with pytest.raises(SensorError, match="gpu:0"):
        sensor.read_j()


def test_shutdown_with_last_sensor_closed_only() -> None:
    nvml = fake_nvml(2)
    result = probe_nvml(nvml, environ={})
    assert nvml.inits == 1 and nvml.shutdowns == 0
    result.sensors[0].close()
    result.sensors[0].close()  # closing twice counts once
    assert nvml.shutdowns == 0
    result.sensors[1].close()
    assert nvml.shutdowns == 1


def test_init_failure_and_no_gpu_are_reasons_not_exceptions() -> None:
    broken = FakeNvml(gpus=[FakeGpu(uuid_of(0))], init_error=True)
    result = probe_nvml(broken, environ={})
    assert not result.available and "Driver Not Loaded" in result.reason
    empty = probe_nvml(FakeNvml(), environ={})
    assert not empty.available and "no GPU" in empty.reason


def test_gpu_without_any_reading_is_skipped_with_reason() -> None:
    nvml = FakeNvml(gpus=[FakeGpu(uuid_of(0), energy_supported=False, fail_after=0),
                          FakeGpu(uuid_of(1))])
    result = probe_nvml(nvml, environ={})
    assert [s.info.name for s in result.sensors] == ["gpu:1"]
    assert "gpu:0" in result.reason and "skipped" in result.reason


def test_missing_package_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    result = probe_nvml(None, environ={})
    assert not result.available
    assert result.reason == "nvidia-ml-py not installed"
    assert result.hint == "pip install 'wattlm[nvidia]'"


def test_importing_wattlm_sensors_does_not_import_pynvml() -> None:
    import subprocess

    code = ("import sys, wattlm, wattlm.sensors.registry, wattlm.sensors.nvml;"
            "print('pynvml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# --- plausibility of the energy counter and of sampled power (issue 10) ---------------------


def test_power_bound_from_the_limit_constraints_or_the_default() -> None:
    from wattlm.sensors.nvml import DEFAULT_GPU_MAX_POWER_W, gpu_power_bound_w

    nvml = FakeNvml(gpus=[FakeGpu(uuid_of(0)), FakeGpu(uuid_of(1), max_limit_mw=None)])
    nvml.nvmlInit()
    assert gpu_power_bound_w(nvml, nvml.gpus[0]) == pytest.approx(1400.0)  # 2 x 700 W
    assert gpu_power_bound_w(nvml, nvml.gpus[1]) == DEFAULT_GPU_MAX_POWER_W


def test_counter_reset_invents_no_energy_and_is_flagged() -> None:
    nvml = fake_nvml(1)
    nvml.nvmlInit()
    clock = Clock()
    gpu = NvmlGpuSensor(nvml, nvml.gpus[0], 0, clock=clock)
    gpu.start()
    nvml.gpus[0].energy_mj += 300_000               # 300 J in 1 s
    clock.t += 1.0
    assert gpu.read_j() == pytest.approx(300.0)
    nvml.gpus[0].energy_mj = 5_000                  # GPU reset: the counter starts again
    clock.t += 1.0
    assert gpu.read_j() == pytest.approx(300.0)     # the old code read max(now - start, 0) = 0
    assert [n.code for n in gpu.drain_notes()] == ["W111"]
    nvml.gpus[0].energy_mj += 200_000               # counted again from the new value
    clock.t += 1.0
    assert gpu.read_j() == pytest.approx(500.0)


def test_counter_jump_beyond_the_bound_is_not_counted() -> None:
    nvml = fake_nvml(1)
    nvml.nvmlInit()
    clock = Clock()
    gpu = NvmlGpuSensor(nvml, nvml.gpus[0], 0, clock=clock)
    gpu.start()
    nvml.gpus[0].energy_mj += 50_000_000            # 50 kJ in 1 s: 50 kW from a 700 W board
    clock.t += 1.0
    assert gpu.read_j() == 0.0
    assert [n.code for n in gpu.drain_notes()] == ["W112"]


def test_implausible_power_reading_is_not_integrated() -> None:
    nvml = fake_nvml(1, energy_supported=False, power_mw=100_000)
    nvml.nvmlInit()
    clock = Clock()
    sensor = NvmlPowerSensor(nvml, nvml.gpus[0], 0, clock=clock)
    assert sensor.max_power_w == pytest.approx(1400.0)
    sensor.start()                                  # 100 W at t=0
    clock.t += 1.0
    nvml.gpus[0].power_mw = 65_535_000              # 65.5 kW: a garbage reading (0xFFFF W)
    assert sensor.read_j() == 0.0
    clock.t += 1.0
    nvml.gpus[0].power_mw = 100_000                 # 100 W at t=2: joined to t=0, 200 J
    assert sensor.read_j() == pytest.approx(200.0)
    (note,) = sensor.drain_notes()
    assert note.code == "W114" and "65535" in note.message
