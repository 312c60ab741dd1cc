from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests.fakes.sysfs import FakePowercap, intel_two_sockets
from wattlm._caches import clear_all
from wattlm.errors import SensorError
from wattlm.sensors.rapl import (
    DEFAULT_MAX_POWER_W,
    PERMISSION_HINT,
    RAPL_UPDATE_PERIOD_S,
    RaplDomainSensor,
    discover_domains,
    max_power_bound_w,
    probe_rapl,
)
from wattlm.units import Provenance


def _names(result: object) -> list[str]:
    return [s.info.name for s in result.sensors]  # type: ignore[attr-defined]


@pytest.mark.parametrize("flat_links", [True, False])
def test_two_sockets_each_domain_once_and_mmio_not_duplicated(tmp_path: Path,
                                                              flat_links: bool) -> None:
    intel_two_sockets(tmp_path / "pc", flat_links=flat_links)
    result = probe_rapl(tmp_path / "pc")
    assert result.available, result.reason
    assert _names(result) == [
        "rapl:package-0", "rapl:package-0/core", "rapl:package-0/dram",
        "rapl:package-1", "rapl:package-1/core", "rapl:package-1/dram",
    ]
    kinds = {s.info.name: s.info.kind for s in result.sensors}
    assert kinds["rapl:package-0"] == "cpu" and kinds["rapl:package-1/dram"] == "memory"
    assert all(s.info.provenance is Provenance.MEASURED for s in result.sensors)
    assert all(s.info.update_period_s == RAPL_UPDATE_PERIOD_S for s in result.sensors)
    # the chosen package-0 is the MSR zone, not the mmio copy
    pkg0 = result.sensors[0]
    assert isinstance(pkg0, RaplDomainSensor) and pkg0.path.name == "intel-rapl:0"


def test_mmio_used_for_domains_the_msr_tree_lacks(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    tree.add_zone("intel-rapl:0", "package-0")
    tree.add_zone("intel-rapl-mmio:0", "package-0")
    tree.add_zone("intel-rapl-mmio:0:0", "dram")
    domains = discover_domains(tmp_path)
    assert [(d.zone, d.sensor_name) for d in domains] == [
        ("intel-rapl:0", "rapl:package-0"), ("intel-rapl-mmio:0:0", "rapl:package-0/dram")]


def test_amd_tree_and_psys(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    tree.add_zone("amd-rapl:0", "package-0")
    tree.add_zone("amd-rapl:0:0", "core")
    tree.add_zone("intel-rapl:1", "psys")
    result = probe_rapl(tmp_path)
    assert _names(result) == ["rapl:psys", "rapl:package-0", "rapl:package-0/core"]
    roles = {s.info.name: s.role for s in result.sensors}  # type: ignore[attr-defined]
    assert roles == {"rapl:psys": "psys", "rapl:package-0": "package",
                     "rapl:package-0/core": "core"}
    assert {s.info.name: s.info.kind for s in result.sensors}["rapl:psys"] == "psys"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_energy_in_joules_from_microjoules(tmp_path: Path) -> None:
    tree = intel_two_sockets(tmp_path)
    clock = Clock()
    sensor = RaplDomainSensor(tree.zones["intel-rapl:0"], name="rapl:package-0", clock=clock)
    sensor.start()
    assert sensor.read_j() == 0.0
    tree.advance("intel-rapl:0", 12_345_678)
    clock.t += 1.0
    assert sensor.read_j() == pytest.approx(12.345678, abs=1e-9)
    tree.advance("intel-rapl:0", 1_000_000)
    clock.t += 1.0
    assert sensor.read_j() == pytest.approx(13.345678, abs=1e-9)
    assert sensor.drain_notes() == []


def test_wraparound_mid_run(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    top = 2**32 - 1  # an older part's 32-bit range, ~4.3 kJ
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=top - 500_000, max_energy_range_uj=top)
    clock = Clock()
    sensor = RaplDomainSensor(tree.zones["intel-rapl:0"], clock=clock)
    sensor.start()
    tree.advance("intel-rapl:0", 300_000)           # no wrap yet
    clock.t += 0.1
    assert sensor.read_j() == pytest.approx(0.3)
    tree.advance("intel-rapl:0", 2_000_000)         # crosses the top: counter now small
    clock.t += 0.1                                  # 2 J in 0.1 s: 20 W, a plausible wrap
    assert tree.energy("intel-rapl:0") < 2_000_000
    assert sensor.read_j() == pytest.approx(2.3)
    assert sensor.wraps == 1
    tree.advance("intel-rapl:0", 700_000)
    clock.t += 0.1
    assert sensor.read_j() == pytest.approx(3.0)
    assert sensor.drain_notes() == []


def test_counter_backwards_without_known_range_is_a_reset(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    zone = tree.add_zone("intel-rapl:0", "package-0", energy_uj=5_000)
    (zone / "max_energy_range_uj").unlink()
    clock = Clock()
    sensor = RaplDomainSensor(zone, clock=clock)
    sensor.start()
    assert sensor.max_read_interval_s is None  # cannot tell when it wraps
    tree.set_energy("intel-rapl:0", 10)
    clock.t += 1.0
    assert sensor.read_j() == 0.0
    assert [n.code for n in sensor.drain_notes()] == ["W111"]


def test_domain_that_disappears_mid_run_raises_sensor_error(tmp_path: Path) -> None:
    tree = intel_two_sockets(tmp_path)
    result = probe_rapl(tmp_path)
    by_name = {s.info.name: s for s in result.sensors}
    dram = by_name["rapl:package-1/dram"]
    dram.start()
    tree.advance("intel-rapl:1:1", 5_000_000)
    time.sleep(0.02)  # 5 J needs >= 3 ms at the 1 kW default bound (+2 ms update allowance)
    assert dram.read_j() == pytest.approx(5.0)
    tree.remove("intel-rapl:1:1")
    with pytest.raises(SensorError, match="disappeared"):
        dram.read_j()
    # the other domains keep working, and a new probe no longer offers the lost one
    by_name["rapl:package-1"].start()
    assert by_name["rapl:package-1"].read_j() == 0.0
    clear_all()
    assert "rapl:package-1/dram" not in _names(probe_rapl(tmp_path))


def test_garbage_in_counter_is_a_sensor_error(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    zone = tree.add_zone("intel-rapl:0", "package-0")
    sensor = RaplDomainSensor(zone)
    sensor.start()
    (zone / "energy_uj").write_text("not a number\n")
    with pytest.raises(SensorError, match="cannot read"):
        sensor.read_j()


def test_absent_root_and_empty_root_give_reasons(tmp_path: Path) -> None:
    missing = probe_rapl(tmp_path / "nothing")
    assert not missing.available and "no powercap directory" in missing.reason
    (tmp_path / "empty").mkdir()
    empty = probe_rapl(tmp_path / "empty")
    assert not empty.available and "no RAPL zones" in empty.reason
    assert missing.sensors == [] and empty.sensors == []


def test_probe_returns_new_sensor_objects_each_call(tmp_path: Path) -> None:
    intel_two_sockets(tmp_path)
    first, second = probe_rapl(tmp_path), probe_rapl(tmp_path)
    assert _names(first) == _names(second)
    assert all(a is not b for a, b in zip(first.sensors, second.sensors, strict=True))


# --- permission denied -------------------------------------------------------------------
# energy_uj is mode 0400 (root-only) on current kernels. Root ignores file modes, so when the
# tests run as root the probe is run in a forked child that drops to uid/gid 65534 (nobody):
# the kernel then really refuses the read. If the child cannot drop privileges, skip.


def _probe_as(uid: int, root: Path) -> dict[str, object]:
    # warm up as root: lazy stdlib imports (codecs) would fail once /root is unreadable
    probe_rapl(root)
    clear_all()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_fd)
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            except OSError as e:
                payload = {"skip": f"cannot drop privileges: {e}"}
            else:
                try:
                    result = probe_rapl(root)
                    payload = {"available": result.available, "reason": result.reason,
                               "hint": result.hint, "names": _names(result)}
                except Exception as e:  # report it to the parent instead of dying silently
                    payload = {"error": repr(e)}
            os.write(write_fd, json.dumps(payload).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    return dict(json.loads(data.decode()))


@pytest.fixture
def readable_tree_dir() -> object:
    """A world-traversable directory (tmp_path's parents are 0700 when run as root)."""
    directory = Path(tempfile.mkdtemp(prefix="wattlm-rapl-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _probe_denied(root: Path) -> dict[str, object]:
    if os.geteuid() != 0:
        result = probe_rapl(root)
        return {"available": result.available, "reason": result.reason, "hint": result.hint,
                "names": _names(result)}
    data = _probe_as(65534, root)
    assert "error" not in data, data["error"] if "error" in data else ""
    if "skip" in data:
        pytest.skip(str(data["skip"]))
    return data


def test_permission_denied_everywhere_says_why_and_how_to_fix(readable_tree_dir: Path) -> None:
    tree = intel_two_sockets(readable_tree_dir / "pc", mmio=False)
    for zone in list(tree.zones):
        tree.deny(zone)
    data = _probe_denied(tree.root)
    assert data["available"] is False
    assert "permission denied" in str(data["reason"])
    assert "rapl:package-0" in str(data["reason"])
    assert data["hint"] == PERMISSION_HINT
    assert "chmod o+r" in PERMISSION_HINT and "udev" in PERMISSION_HINT


def test_partly_denied_keeps_readable_domains(readable_tree_dir: Path) -> None:
    tree = intel_two_sockets(readable_tree_dir / "pc", mmio=False)
    tree.deny("intel-rapl:0:1")  # package-0 dram only
    data = _probe_denied(tree.root)
    assert data["available"] is True
    assert "rapl:package-0/dram" not in data["names"]  # type: ignore[operator]
    assert "rapl:package-0" in data["names"]  # type: ignore[operator]
    assert "permission denied on energy_uj of rapl:package-0/dram" in str(data["reason"])


# --- plausibility: wraps, resets, jumps and stalls (issue 10) -------------------------------
# A 125 W package (constraint_0_max_power_uw) with a 32-bit range: the bound is 2 x 125 W =
# 250 W, so one wrap (4294.967295 J) needs at least 17.18 s between reads.

TOP_32 = 2**32 - 1


def _package(tmp_path: Path, energy_uj: int = 1_000_000) -> tuple[FakePowercap, Clock,
                                                                   RaplDomainSensor]:
    tree = FakePowercap(tmp_path)
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=energy_uj,
                  max_energy_range_uj=TOP_32, max_power_uw=125_000_000)
    clock = Clock()
    sensor = RaplDomainSensor(tree.zones["intel-rapl:0"], name="rapl:package-0", clock=clock)
    sensor.start()
    return tree, clock, sensor


def test_power_bound_comes_from_the_zone_or_the_default(tmp_path: Path) -> None:
    _, _, sensor = _package(tmp_path / "a")
    assert sensor.max_power_w == pytest.approx(250.0)
    assert sensor.max_power_source == "2 x constraint_0_max_power_uw"
    assert sensor.max_read_interval_s == pytest.approx(TOP_32 * 1e-6 / 250.0)
    bare = FakePowercap(tmp_path / "b").add_zone("intel-rapl:0", "package-0")
    assert max_power_bound_w(bare) == (DEFAULT_MAX_POWER_W, "default (the zone states no "
                                                            "max power)")
    small = FakePowercap(tmp_path / "c").add_zone("intel-rapl:0", "dram", max_power_uw=5_000_000)
    assert max_power_bound_w(small)[0] == 100.0  # never below MIN_MAX_POWER_W


def test_a_reset_to_zero_invents_no_energy_and_is_flagged(tmp_path: Path) -> None:
    tree, clock, sensor = _package(tmp_path, energy_uj=3_000_000_000)
    tree.advance("intel-rapl:0", 20_000_000)        # 20 J in 1 s
    clock.t += 1.0
    assert sensor.read_j() == pytest.approx(20.0)
    tree.set_energy("intel-rapl:0", 0)              # reset (driver reload): a "wrap" would be
    clock.t += 1.0                                  # 1.27 kJ in 1 s = 1.27 kW > 250 W
    assert sensor.read_j() == pytest.approx(20.0)   # that interval is not counted
    (note,) = sensor.drain_notes()
    assert note.code == "W111" and note.degraded and "reset" in note.message
    tree.advance("intel-rapl:0", 5_000_000)         # counting goes on from the new value
    clock.t += 1.0
    assert sensor.read_j() == pytest.approx(25.0)
    assert sensor.wraps == 0


def test_a_step_back_of_one_joule_is_a_reset_not_a_wrap(tmp_path: Path) -> None:
    # the bug: any backwards step was taken as a wrap and added max_energy_range_uj
    tree, clock, sensor = _package(tmp_path, energy_uj=2_000_000_000)
    tree.set_energy("intel-rapl:0", 2_000_000_000 - 1_000_000)
    clock.t += 1.0
    assert sensor.read_j() == 0.0                   # not 4294 J
    assert [n.code for n in sensor.drain_notes()] == ["W111"]
    assert sensor.wraps == 0


def test_a_genuine_wrap_at_plausible_power_is_counted(tmp_path: Path) -> None:
    tree, clock, sensor = _package(tmp_path, energy_uj=TOP_32 - 100_000_000)  # 100 J to the top
    tree.advance("intel-rapl:0", 150_000_000)       # 150 J in 1 s: 150 W, under 250 W
    clock.t += 1.0
    assert tree.energy("intel-rapl:0") < 100_000_000
    assert sensor.read_j() == pytest.approx(150.0, abs=1e-5)
    assert sensor.wraps == 1 and sensor.drain_notes() == []


def test_a_wrap_needing_more_than_the_bound_is_a_reset(tmp_path: Path) -> None:
    tree, clock, sensor = _package(tmp_path, energy_uj=TOP_32 - 100_000_000)
    tree.advance("intel-rapl:0", 400_000_000)       # 400 J in 1 s: over the 250 W bound
    clock.t += 1.0
    assert sensor.read_j() == 0.0
    assert [n.code for n in sensor.drain_notes()] == ["W111"]


def test_an_impossible_forward_jump_is_not_counted(tmp_path: Path) -> None:
    tree, clock, sensor = _package(tmp_path)
    tree.advance("intel-rapl:0", 1_000_000_000)     # 1 kJ in 1 s: 1 kW from a 125 W part
    clock.t += 1.0
    assert sensor.read_j() == 0.0
    assert [n.code for n in sensor.drain_notes()] == ["W112"]


def test_a_stall_longer_than_the_wrap_time_is_said(tmp_path: Path) -> None:
    tree, clock, sensor = _package(tmp_path)
    tree.advance("intel-rapl:0", 3_000_000_000)     # 3 kJ over 20 s: 150 W, no visible wrap
    clock.t += 20.0                                 # > 17.18 s: a wrap could have been missed
    assert sensor.read_j() == pytest.approx(3000.0)
    (note,) = sensor.drain_notes()
    assert note.code == "W113" and note.degraded and "17.2 s" in note.message
