from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from tests.fakes.apple import SAMPLE_POWER_ONLY, SAMPLE_WITH_ENERGY, FakeIOReport, Spawner
from tests.fakes.context import fake_context
from wattlm.cli import env as env_cli
from wattlm.errors import SensorError
from wattlm.sensors.apple import POWERMETRICS_ARGS, parse_powermetrics_sample
from wattlm.sensors.backend import CommandResult, ProbeContext
from wattlm.sensors.base import ProbeResult
from wattlm.sensors.ioreport import IOReportReader, part_of_channel, to_joules
from wattlm.sensors.registry import choose, probe_all
from wattlm.tracking.sampler import Sampler


def _apple(context: ProbeContext) -> ProbeResult:
    return next(r for r in probe_all(context) if r.backend == "apple")


def _mac(**overrides: object) -> ProbeContext:
    fields: dict[str, object] = {"platform": "darwin", "machine": "arm64"}
    fields.update(overrides)
    return fake_context(**fields)


def _only_powermetrics(name: str) -> str | None:
    return "/usr/bin/powermetrics" if name == "powermetrics" else None


def _wait(condition: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_linux_is_simply_unavailable_with_the_reason() -> None:
    result = _apple(fake_context())
    assert not result.available and result.problems == []
    assert result.reason == ("not macOS (this is linux): IOReport and powermetrics exist only "
                             "on Apple Silicon Macs")
    with pytest.raises(OSError):  # the real ctypes reader: no libIOReport here
        IOReportReader()


def test_intel_mac_is_unavailable() -> None:
    assert "an Intel Mac (x86_64)" in _apple(_mac(machine="x86_64")).reason


def test_ioreport_gives_cpu_gpu_ane_and_dram_without_sudo() -> None:
    ioreport = FakeIOReport()
    selection = choose(_mac(ioreport=ioreport))
    names = [s.info.name for s in selection.sensors]
    assert names == ["apple:cpu", "apple:gpu", "apple:ane", "apple:dram"]
    assert [c.role for c in selection.claims] == ["cpu-package", "gpu", "accelerator", "memory"]
    assert [s.info.kind for s in selection.sensors] == ["cpu", "gpu", "other", "memory"]
    cpu, gpu, ane, dram = selection.sensors
    for sensor in selection.sensors:
        sensor.start()
    ioreport.total_j.update(cpu=12.5, gpu=40.0, ane=1.25, dram=3.0)
    assert [s.read_j() for s in selection.sensors] == [12.5, 40.0, 1.25, 3.0]
    for sensor in selection.sensors:
        sensor.close()
    assert ioreport.closed >= 2  # the probe's check, then the sensors' shared reader


def test_ioreport_channel_names_and_units() -> None:
    assert part_of_channel("CPU Energy") == "cpu"
    assert part_of_channel("DIE_1_CPU Energy") == "cpu"
    assert part_of_channel("GPU Energy") == "gpu"
    assert part_of_channel("ANE0") == "ane"
    assert part_of_channel("DRAM") == "dram"
    assert part_of_channel("EACC_CPU") is None
    assert to_joules(1500, "mJ") == pytest.approx(1.5)
    assert to_joules(2_000_000, "nJ") == pytest.approx(0.002)
    with pytest.raises(OSError, match="not an energy unit"):
        to_joules(3, "MHz")


def test_parse_recorded_powermetrics_samples() -> None:
    assert parse_powermetrics_sample(SAMPLE_WITH_ENERGY.encode()) == pytest.approx(
        {"cpu": 1.234, "gpu": 4.5, "ane": 0.2})
    # powers only: mW x elapsed
    assert parse_powermetrics_sample(SAMPLE_POWER_ONLY.encode()) == pytest.approx(
        {"cpu": 3.0, "gpu": 1.5, "ane": 0.0})
    with pytest.raises(SensorError, match="not a plist"):
        parse_powermetrics_sample(b"powermetrics must be invoked as the superuser\n")


def _sudo_ok(argv: Sequence[str], timeout_s: float) -> CommandResult:
    assert list(argv[:2]) == ["sudo", "-n"]
    return CommandResult(0, "usage: powermetrics")


def _sudo_asks(argv: Sequence[str], timeout_s: float) -> CommandResult:
    return CommandResult(1, "", "sudo: a password is required")


def test_unreadable_ioreport_falls_back_to_powermetrics_with_sudo() -> None:
    ioreport, spawner = FakeIOReport(), Spawner()
    ioreport.broken = "IOReportCopyChannelsInGroup returned NULL"
    context = _mac(ioreport=ioreport, spawn=spawner, run=_sudo_ok,
                   which=_only_powermetrics)
    selection = choose(context)
    assert [p.code for p in selection.problems] == ["W142"]
    assert "IOReport unreadable (IOReportCopyChannelsInGroup returned NULL)" in \
        selection.problems[0].message
    assert [s.info.name for s in selection.sensors] == ["apple:cpu", "apple:gpu", "apple:ane",
                                                        "memory:model"]
    sampler = Sampler(selection.sensors, interval_s=3600.0)
    sampler.start()
    (process,) = spawner.processes  # one powermetrics for the three parts
    assert process.argv == ["sudo", "-n", *POWERMETRICS_ARGS]
    process.feed(SAMPLE_WITH_ENERGY.encode() + b"\x00" + SAMPLE_POWER_ONLY.encode())
    process.feed(b"\x00")
    stream = selection.sensors[0]._reader  # type: ignore[attr-defined]
    _wait(lambda: stream.samples == 2)
    final = sampler.stop()
    assert final.energy_j[:3] == pytest.approx((1.234 + 3.0, 4.5 + 1.5, 0.2))
    assert process.returncode == -15  # closing the sensors stopped powermetrics


def test_powermetrics_as_root_needs_no_sudo() -> None:
    spawner = Spawner()
    context = _mac(ioreport=FakeIOReport(()), spawn=spawner, euid=0,
                   which=_only_powermetrics)
    result = _apple(context)
    assert result.available and "powermetrics as root" in result.reason
    assert "IOReport has no CPU, GPU or ANE energy channel" in result.reason
    result.sensors[0].start()
    assert spawner.processes[0].argv == list(POWERMETRICS_ARGS)
    result.sensors[0].close()


def test_powermetrics_dying_mid_run_drops_its_sensors() -> None:
    spawner = Spawner()
    context = _mac(ioreport=FakeIOReport(()), spawn=spawner, euid=0,
                   which=_only_powermetrics)
    sensors = _apple(context).sensors
    sampler = Sampler(sensors, interval_s=3600.0)
    sampler.start()
    process = spawner.processes[0]
    process.feed(SAMPLE_POWER_ONLY.encode() + b"\x00")
    _wait(lambda: sensors[0]._reader.samples == 1)  # type: ignore[attr-defined]
    sampler.snapshot()
    process.finish(1)
    _wait(lambda: bool(sensors[0]._reader.ended))  # type: ignore[attr-defined]
    final = sampler.stop()
    assert sampler.failed == [True, True, True]
    assert final.energy_j == pytest.approx((3.0, 1.5, 0.0))  # kept up to the last sample
    assert any("powermetrics stopped" in w for w in sampler.warnings)


def test_no_ioreport_and_no_root_explains_how_to_enable() -> None:
    ioreport = FakeIOReport()
    ioreport.broken = "libIOReport.dylib: image not found"
    context = _mac(ioreport=ioreport, run=_sudo_asks, which=_only_powermetrics)
    data = env_cli.collect("/nonexistent", context=context)
    apple = next(b for b in data["backends"] if b["backend"] == "apple")
    assert apple["available"] is False
    assert apple["reason"] == ("IOReport unreadable (libIOReport.dylib: image not found); "
                               "powermetrics needs root and 'sudo -n powermetrics' asks for a "
                               "password")
    assert "NOPASSWD: /usr/bin/powermetrics" in apple["hint"]
    assert [p["code"] for p in apple["problems"]] == ["W142"]
    assert [s["name"] for s in data["selected"]] == ["cpu:model", "memory:model"]
