from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.fakes.amdsmi import FakeAmdGpu, FakeAmdSmi, amd_uuid, fake_amdsmi, mi250x
from tests.fakes.context import fake_context
from tests.fakes.nvml import fake_nvml
from wattlm.errors import SensorError
from wattlm.sensors.amd import AmdGpuSensor, energy_uj, power_w
from wattlm.sensors.backend import ProbeContext
from wattlm.sensors.base import ProbeResult
from wattlm.sensors.registry import choose, probe_all
from wattlm.tracking.sampler import Sampler
from wattlm.units import Provenance

COUNT_J = 15.259e-6  # one count of the accumulator


def _context(amd: FakeAmdSmi, environ: dict[str, str] | None = None,
             **modules: object) -> ProbeContext:
    return fake_context(modules={"amdsmi": amd, **modules}, environ=environ,
                        clock=amd.clock, sleep=amd.advance)


def _probe(amd: FakeAmdSmi, environ: dict[str, str] | None = None) -> ProbeResult:
    return next(r for r in probe_all(_context(amd, environ)) if r.backend == "amdsmi")


@pytest.mark.parametrize("version", ["5.7", "6.2", "6.4", "7.0"])
def test_energy_counter_of_every_library_generation(version: str) -> None:
    amd = fake_amdsmi(2, version=version, power_w=500.0)
    result = _probe(amd)
    assert result.available, result.reason
    assert [s.info.name for s in result.sensors] == ["gpu:0", "gpu:1"]
    assert all(s.info.provenance is Provenance.MEASURED for s in result.sensors)
    assert result.sensors[0].info.model == "AMD Instinct MI300X"
    for sensor in result.sensors:
        sensor.start()
    amd.advance(10.0)
    # 500 W x 10 s, to the accumulator's resolution (one count at each end)
    assert result.sensors[0].read_j() == pytest.approx(5000.0, abs=2 * COUNT_J)
    amd.gpus[1].power_w = 250.0
    amd.advance(4.0)
    assert result.sensors[1].read_j() == pytest.approx(5000.0 + 1000.0, abs=2 * COUNT_J)


def test_the_two_key_generations_read_the_same() -> None:
    old = {"power": 1_000_000, "counter_resolution": 15.259, "timestamp": 1}
    new = {"energy_accumulator": 1_000_000, "counter_resolution": 15.259, "timestamp": 1}
    assert energy_uj(old) == energy_uj(new) == pytest.approx(15_259_000.0)
    with pytest.raises(SensorError, match="energy count not available"):
        energy_uj({"energy_accumulator": "N/A", "counter_resolution": 15.259})


@pytest.mark.parametrize(("version", "expected"), [("5.7", 430.0), ("6.2", 430.0),
                                                   ("7.0", 430.0)])
def test_power_keys_of_every_generation(version: str, expected: float) -> None:
    amd = fake_amdsmi(1, version=version, power_w=430.0)
    assert power_w(amd.amdsmi_get_power_info(amd.gpus[0])) == expected
    # MI200 on 6.x: only the average is supported
    assert power_w({"current_socket_power": "N/A", "average_socket_power": 291}) == 291.0
    with pytest.raises(SensorError, match="no socket power"):
        power_w({"current_socket_power": "N/A", "average_socket_power": "N/A"})


def test_no_counter_means_power_sampling() -> None:
    amd = fake_amdsmi(1, version="6.2", power_w=300.0, energy_supported=False)
    result = _probe(amd)
    (sensor,) = result.sensors
    assert sensor.info.provenance is Provenance.INTEGRATED
    assert "power sampling, no counter" in result.reason
    sensor.start()
    amd.advance(1.0)
    amd.gpus[0].power_w = 500.0
    amd.advance(1.0)
    # trapezoid over the two reads 2 s apart: (300 + 500) / 2 x 2 s
    assert sensor.read_j() == pytest.approx(800.0)


def test_mi250x_gcds_are_one_package_counted_once() -> None:
    amd = mi250x(packages=2)
    result = _probe(amd)
    assert [s.info.name for s in result.sensors] == ["gpu:0", "gpu:2"]
    assert "gpu:0, gpu:1: 2 of the package's 2 dies" in result.reason
    for sensor in result.sensors:
        sensor.start()
    amd.advance(10.0)
    assert [s.read_j() for s in result.sensors] == pytest.approx([4000.0, 4000.0],
                                                                abs=2 * COUNT_J)


def test_a_counter_both_dies_report_is_counted_once() -> None:
    first = FakeAmdGpu(uuid=amd_uuid(0), oam_id=0, power_w=400.0)
    second = FakeAmdGpu(uuid=amd_uuid(1), oam_id=0, power_w=400.0, shares_counter_with=first)
    second.own_readings = True
    amd = FakeAmdSmi(gpus=[first, second], version="6.4")
    second.power_w = 0.0  # its partner's counter; no energy of its own to add
    (sensor,) = _probe(amd).sensors
    sensor.start()
    amd.advance(5.0)
    assert sensor.read_j() == pytest.approx(2000.0, abs=2 * COUNT_J)


def test_one_visible_gcd_gets_half_its_package() -> None:
    # the job sees only the second GCD, whose package readings sit on the first one
    amd = mi250x(packages=1)
    result = _probe(amd, {"HIP_VISIBLE_DEVICES": "1"})
    (sensor,) = result.sensors
    assert sensor.info.name == "gpu:0"
    assert "1 of the package's 2 dies" in result.reason
    sensor.start()
    amd.advance(10.0)
    assert sensor.read_j() == pytest.approx(2000.0, abs=2 * COUNT_J)


def test_visible_device_masks() -> None:
    amd = fake_amdsmi(4, version="6.4")
    for i, gpu in enumerate(amd.gpus):
        gpu.market_name = f"gpu{i}"
    result = _probe(amd, {"ROCR_VISIBLE_DEVICES": "3,1,2", "HIP_VISIBLE_DEVICES": "1,0"})
    assert [s.info.model for s in result.sensors] == ["gpu1", "gpu3"]
    by_uuid = _probe(amd, {"HIP_VISIBLE_DEVICES": amd_uuid(2)})
    assert [s.info.model for s in by_uuid.sensors] == ["gpu2"]


def test_hip_ids_order_the_devices_when_the_library_has_them() -> None:
    amd = fake_amdsmi(2, version="7.0")
    amd.gpus[0].hip_id, amd.gpus[1].hip_id = 1, 0
    amd.gpus[0].market_name, amd.gpus[1].market_name = "second", "first"
    assert [s.info.model for s in _probe(amd).sensors] == ["first", "second"]


def test_a_mask_naming_missing_gpus_warns_and_uses_the_rest() -> None:
    amd = fake_amdsmi(2)
    selection = choose(_context(amd, {"HIP_VISIBLE_DEVICES": "1,5"}))
    assert [s.info.name for s in selection.sensors][:1] == ["gpu:0"]
    assert [p.code for p in selection.problems] == ["W140"]
    assert "HIP_VISIBLE_DEVICES entry '5' is not a visible GPU here" in \
        selection.problems[0].message


def test_driver_missing_is_explained() -> None:
    amd = fake_amdsmi(1)
    amd.init_error = 34
    result = _probe(amd)
    assert not result.available
    assert "AMDSMI_STATUS_DRIVER_NOT_LOADED - Driver not loaded" in result.reason
    assert "modprobe amdgpu" in result.hint
    assert [p.code for p in result.problems] == ["W141"]


def test_package_installed_without_its_native_library(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # what the real amdsmi does without libamd_smi.so: print, then fail at import
    package = tmp_path / "site" / "amdsmi"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "print('Unable to find libamd_smi.so library try installing amd-smi-lib')\n"
        "_libraries = {}\nx = _libraries['libamd_smi.so']\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    context = fake_context(modules={"amdsmi": None})
    context = ProbeContext.create(environ={}, modules={"pynvml": None, "pyhlml": None},
                                  which=context.which, run=context.run, platform="linux")
    result = next(r for r in probe_all(context) if r.backend == "amdsmi")
    assert not result.available
    assert result.reason.startswith("amdsmi is installed but could not be loaded (KeyError: "
                                    "'libamd_smi.so'; Unable to find libamd_smi.so")
    assert "amd-smi-lib" in result.hint
    assert [p.code for p in result.problems] == ["W141"]
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)


def test_an_implausible_counter_falls_back_to_power_sampling() -> None:
    amd = fake_amdsmi(1, version="6.4", power_w=500.0, counter_scale=4.0)
    result = _probe(amd)
    (sensor,) = result.sensors
    assert sensor.info.provenance is Provenance.INTEGRATED
    assert [p.code for p in result.problems] == ["W143"]
    assert "implies 2000 W while the power reading is 500 W" in result.problems[0].message


def test_a_still_counter_under_load_is_not_believed() -> None:
    amd = fake_amdsmi(1, version="6.2", power_w=500.0, counter_scale=0.0)
    result = _probe(amd)
    assert result.sensors[0].info.provenance is Provenance.INTEGRATED
    assert "implies 0 W" in result.problems[0].message


def test_an_idle_gpu_with_a_still_counter_keeps_the_counter() -> None:
    amd = fake_amdsmi(1, version="6.2", power_w=10.0, counter_scale=0.0)
    assert _probe(amd).sensors[0].info.provenance is Provenance.MEASURED


def test_a_glitch_mid_run_switches_to_power_sampling() -> None:
    amd = fake_amdsmi(1, power_w=500.0)
    (sensor,) = _probe(amd).sensors
    assert isinstance(sensor, AmdGpuSensor)
    sensor.start()
    amd.advance(2.0)
    assert sensor.read_j() == pytest.approx(1000.0, abs=2 * COUNT_J)
    amd.gpus[0].energy_uj += 1e12  # a jump of 1 MJ in 1 s
    amd.advance(1.0)
    assert sensor.read_j() == pytest.approx(1500.0, abs=2 * COUNT_J)  # 500 W x 1 s instead
    assert sensor.info.provenance is Provenance.INTEGRATED
    amd.advance(1.0)
    assert sensor.read_j() == pytest.approx(2000.0, abs=2 * COUNT_J)


def test_a_counter_that_resets_continues_from_its_new_value() -> None:
    amd = fake_amdsmi(1, power_w=500.0)
    (sensor,) = _probe(amd).sensors
    sensor.start()
    amd.advance(2.0)
    assert sensor.read_j() == pytest.approx(1000.0, abs=2 * COUNT_J)
    amd.gpus[0].energy_uj = 0.0  # GPU reset: the accumulator restarts from 0
    amd.advance(1.0)             # 500 J counted since the reset
    assert sensor.read_j() == pytest.approx(1500.0, abs=3 * COUNT_J)
    assert isinstance(sensor, AmdGpuSensor) and sensor.resets == 1


def test_a_gpu_lost_mid_run_is_dropped_and_the_others_go_on() -> None:
    amd = fake_amdsmi(2, power_w=500.0)
    sensors = _probe(amd).sensors
    sampler = Sampler(sensors, interval_s=3600.0)
    sampler.start()
    amd.advance(1.0)
    sampler.snapshot()
    amd.gpus[0].lost = True
    amd.advance(1.0)
    final = sampler.stop()
    assert sampler.failed == [True, False]
    assert final.energy_j == pytest.approx((500.0, 1000.0), abs=2 * COUNT_J)
    assert any(w.startswith("W101: sensor gpu:0 failed (gpu:0: amdsmi error: Error code: 31 | "
                            "AMDSMI_STATUS_NOT_FOUND") for w in sampler.warnings)


def test_nvidia_and_amd_gpus_on_one_machine_are_both_used(tmp_path: Path) -> None:
    amd = fake_amdsmi(1)
    selection = choose(_context(amd, pynvml=fake_nvml(1)))
    assert [s.info.name for s in selection.sensors] == ["gpu:0", "gpu:0", "cpu:model",
                                                        "memory:model"]
    assert [type(s).__name__ for s in selection.sensors[:2]] == ["NvmlGpuSensor",
                                                                 "AmdGpuSensor"]


def test_a_shared_counter_that_moves_between_reads_is_still_counted_once() -> None:
    # the package counter ticks between the reads of the two dies: not equal, still one counter
    class Ticking(FakeAmdSmi):
        def amdsmi_get_energy_count(self, handle: FakeAmdGpu) -> dict[str, object]:
            self.gpus[0].energy_uj += 1000.0 * 15.259  # 1000 counts per call
            return super().amdsmi_get_energy_count(handle)

    first = FakeAmdGpu(uuid=amd_uuid(0), oam_id=0, power_w=400.0)
    second = FakeAmdGpu(uuid=amd_uuid(1), oam_id=0, power_w=0.0, shares_counter_with=first)
    amd = Ticking(gpus=[first, second], version="6.4")
    (sensor,) = _probe(amd).sensors
    assert isinstance(sensor, AmdGpuSensor) and len(sensor._handles) == 1


def test_a_probe_meeting_an_unexpected_library_version_is_contained() -> None:
    amd = fake_amdsmi(1)

    def renamed() -> list[object]:  # a future amdsmi that changed a return shape
        raise KeyError("processor_handles")

    amd.amdsmi_get_processor_handles = renamed  # type: ignore[method-assign]
    result = next(r for r in probe_all(_context(amd)) if r.backend == "amdsmi")
    assert result.reason == "probe failed: KeyError: 'processor_handles'"
    assert [p.code for p in result.problems] == ["W149"]
