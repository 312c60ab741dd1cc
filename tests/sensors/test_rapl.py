from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.fakes.sysfs import FakePowercap, intel_two_sockets
from wattlm._caches import clear_all
from wattlm.errors import SensorError
from wattlm.sensors.rapl import (
    PERMISSION_HINT,
    RAPL_UPDATE_PERIOD_S,
    RaplDomainSensor,
    discover_domains,
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


def test_energy_in_joules_from_microjoules(tmp_path: Path) -> None:
    tree = intel_two_sockets(tmp_path)
    sensor = RaplDomainSensor(tree.zones["intel-rapl:0"], name="rapl:package-0")
    sensor.start()
    assert sensor.read_j() == 0.0
    tree.advance("intel-rapl:0", 12_345_678)
    assert sensor.read_j() == pytest.approx(12.345678, abs=1e-9)
    tree.advance("intel-rapl:0", 1_000_000)
    assert sensor.read_j() == pytest.approx(13.345678, abs=1e-9)


def test_wraparound_mid_run(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    top = 2**32 - 1  # an older part's 32-bit range, ~4.3 kJ
    tree.add_zone("intel-rapl:0", "package-0", energy_uj=top - 500_000, max_energy_range_uj=top)
    sensor = RaplDomainSensor(tree.zones["intel-rapl:0"])
    sensor.start()
    tree.advance("intel-rapl:0", 300_000)           # no wrap yet
    assert sensor.read_j() == pytest.approx(0.3)
    tree.advance("intel-rapl:0", 2_000_000)         # crosses the top: counter now small
    assert tree.energy("intel-rapl:0") < 2_000_000
    assert sensor.read_j() == pytest.approx(2.3)
    assert sensor.wraps == 1
    tree.advance("intel-rapl:0", 700_000)
    assert sensor.read_j() == pytest.approx(3.0)


def test_counter_backwards_without_known_range_raises(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    zone = tree.add_zone("intel-rapl:0", "package-0", energy_uj=5_000)
    (zone / "max_energy_range_uj").unlink()
    sensor = RaplDomainSensor(zone)
    sensor.start()
    tree.set_energy("intel-rapl:0", 10)
    with pytest.raises(SensorError, match="max_energy_range_uj is unknown"):
        sensor.read_j()


def test_domain_that_disappears_mid_run_raises_sensor_error(tmp_path: Path) -> None:
    tree = intel_two_sockets(tmp_path)
    result = probe_rapl(tmp_path)
    by_name = {s.info.name: s for s in result.sensors}
    dram = by_name["rapl:package-1/dram"]
    dram.start()
    tree.advance("intel-rapl:1:1", 5_000_000)
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
