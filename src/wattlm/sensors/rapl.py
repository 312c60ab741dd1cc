"""RAPL energy counters through the Linux powercap sysfs tree.

Layout read (``root`` is ``/sys/class/powercap`` unless injected)::

    root/intel-rapl:0/{name,energy_uj,max_energy_range_uj}      name = package-0
    root/intel-rapl:0:0/...  (or root/intel-rapl:0/intel-rapl:0:0/...)  name = core
    root/intel-rapl:0:1/...                                      name = uncore | dram
    root/intel-rapl:1/...                                        name = package-1 | psys
    root/intel-rapl-mmio:0/...                                   name = package-0 (duplicate)
    root/amd-rapl:0/...                                          AMD trees, same files

Zones are found both flat at the root (the kernel's symlinks) and nested inside their parent
zone. The MSR trees (``intel-rapl``, ``amd-rapl``) win over ``intel-rapl-mmio``: an mmio zone is
used only for a (package, domain) pair the MSR trees lack, so a package is never counted twice.

``energy_uj`` is a counter in microjoules that wraps to 0 after ``max_energy_range_uj``.
:class:`RaplDomainSensor` handles **at most one wrap between two reads**: the counter range is
typically 2**32 uJ (about 4.3 kJ, i.e. ~ 20 s at 200 W on older parts) up to 2**38 uJ, and the
sampler reads every ~1 s, so a second wrap between reads would need > 4 kW in one package.
The counter is updated by the hardware about every millisecond (Intel SDM vol. 3B, 14.10.1:
the energy status unit is refreshed "approximately every 1 ms"), so windows shorter than
:data:`RAPL_UPDATE_PERIOD_S` are not resolved.

Since Linux 5.10 (CVE-2020-8694, "Platypus") ``energy_uj`` is readable by root only on most
distributions; the probe reports that with a fix (:data:`PERMISSION_HINT`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from wattlm._caches import cached
from wattlm.errors import SensorError
from wattlm.records import DeviceInfo
from wattlm.sensors.backend import (
    PRIORITY_COUNTER,
    PRIORITY_PLATFORM,
    PRIORITY_SUBDOMAIN,
    Backend,
    Claim,
    ProbeContext,
)
from wattlm.sensors.base import ProbeResult, Sensor
from wattlm.units import Provenance

__all__ = [
    "BACKEND",
    "PERMISSION_HINT",
    "RAPL_UPDATE_PERIOD_S",
    "RaplDomain",
    "RaplDomainSensor",
    "discover_domains",
    "probe_rapl",
]

#: Hardware refresh period of the RAPL energy status counters (Intel SDM: ~1 ms).
RAPL_UPDATE_PERIOD_S = 0.001

#: How to make the counters readable without running the job as root.
PERMISSION_HINT = (
    "energy_uj is root-only since Linux 5.10 (CVE-2020-8694). Either run "
    "'sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj "
    "/sys/class/powercap/intel-rapl:*:*/energy_uj' (until reboot), or add a udev rule "
    "such as ACTION==\"add\", SUBSYSTEM==\"powercap\", RUN+=\"/bin/chmod o+r "
    "/sys%p/energy_uj\" in /etc/udev/rules.d/90-wattlm-rapl.rules"
)

# MSR-based control types first: they win over mmio duplicates.
_CONTROL_TYPES = ("intel-rapl", "amd-rapl", "intel-rapl-mmio")
_ZONE_RE = re.compile(r"^(intel-rapl-mmio|intel-rapl|amd-rapl)((?::\d+)+)$")


@dataclass(frozen=True)
class RaplDomain:
    """One powercap zone: where it lives and what it measures.

    Attributes:
        zone: directory name (``intel-rapl:0:1``).
        control_type: ``intel-rapl``, ``amd-rapl`` or ``intel-rapl-mmio``.
        path: the zone directory.
        domain: the zone's ``name`` file (``package-0``, ``core``, ``uncore``, ``dram``, ``psys``).
        package: the name of the top-level zone it belongs to (``package-0``; ``psys`` for psys).
    """

    zone: str
    control_type: str
    path: Path
    domain: str
    package: str

    @property
    def is_top(self) -> bool:
        """Whether the zone is a top-level zone (a package or psys)."""
        return self.zone.count(":") == 1

    @property
    def sensor_name(self) -> str:
        """``rapl:package-0``, ``rapl:package-0/dram``, ``rapl:psys``."""
        return f"rapl:{self.package}" if self.is_top else f"rapl:{self.package}/{self.domain}"

    @property
    def kind(self) -> str:
        """Device kind: ``psys``, ``memory`` (dram) or ``cpu`` (package, core, uncore)."""
        if self.domain.startswith("psys"):
            return "psys"
        if self.domain == "dram":
            return "memory"
        return "cpu"

    @property
    def role(self) -> str:
        """``package``, ``psys``, ``dram`` or the subdomain name (``core``, ``uncore``)."""
        if self.is_top:
            return "psys" if self.domain.startswith("psys") else "package"
        return self.domain


def _read_text(path: Path) -> str:
    with path.open("r", encoding="ascii", errors="replace") as handle:
        return handle.read().strip()


def _zone_dirs(root: Path) -> dict[str, Path]:
    """Every zone directory, flat at the root or nested in its parent, keyed by zone name."""
    found: dict[str, Path] = {}
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return found

    def visit(directory: Path, name: str) -> None:
        if name in found or not _ZONE_RE.match(name):
            return
        found[name] = directory
        try:
            children = sorted(os.listdir(directory))
        except OSError:
            return
        for child in children:
            if child.startswith(name + ":") and (directory / child).is_dir():
                visit(directory / child, child)

    for entry in entries:
        path = root / entry
        if _ZONE_RE.match(entry) and path.is_dir():
            visit(path, entry)
        elif entry in _CONTROL_TYPES and path.is_dir():  # control-type dir holding zones
            for child in sorted(os.listdir(path)):
                if _ZONE_RE.match(child) and (path / child).is_dir():
                    visit(path / child, child)
    return found


def _zone_key(zone: str) -> tuple[int, tuple[int, ...]]:
    match = _ZONE_RE.match(zone)
    assert match is not None
    numbers = tuple(int(n) for n in match.group(2).strip(":").split(":"))
    return _CONTROL_TYPES.index(match.group(1)), numbers


@cached
def _discover_cached(root: str) -> tuple[RaplDomain, ...]:
    dirs = _zone_dirs(Path(root))
    names: dict[str, str] = {}
    for zone, path in dirs.items():
        try:
            names[zone] = _read_text(path / "name")
        except OSError:
            continue  # a zone without a readable name is not usable
    domains: list[RaplDomain] = []
    seen: set[tuple[str, str]] = set()
    for zone in sorted(names, key=_zone_key):
        match = _ZONE_RE.match(zone)
        assert match is not None
        control_type = match.group(1)
        top = zone.split(":")[0] + ":" + zone.split(":")[1]
        package = names.get(top)
        if package is None:
            continue
        domain = RaplDomain(zone=zone, control_type=control_type, path=dirs[zone],
                            domain=names[zone], package=package)
        key = (package, domain.domain)
        if key in seen:  # an mmio (or second) copy of a domain already found
            continue
        seen.add(key)
        domains.append(domain)
    return tuple(domains)


def discover_domains(root: str | os.PathLike[str]) -> list[RaplDomain]:
    """All RAPL domains under a powercap root, without duplicates (cached per root).

    Args:
        root: the powercap directory (``/sys/class/powercap``).

    Returns:
        Domains in a stable order: MSR trees before mmio, packages before their subdomains.
        A missing root gives an empty list.
    """
    return list(_discover_cached(str(root)))


class RaplDomainSensor(Sensor):
    """One RAPL domain's ``energy_uj`` counter, with wraparound handling.

    Args:
        path: the zone directory (holding ``energy_uj`` and ``max_energy_range_uj``).
        name: channel name (default: the directory name, prefixed ``rapl:``).
        kind: ``cpu``, ``memory`` or ``psys``.
        role: ``package``, ``psys``, ``dram``, ``core`` or ``uncore`` (used by the selection).
        max_energy_range_uj: the wrap point; read from the zone when not given.

    Raises:
        SensorError: from :meth:`start` / :meth:`read_j` when the counter cannot be read
            (permission denied, the zone disappeared, garbage in the file).
    """

    def __init__(
        self,
        path: Path,
        *,
        name: str | None = None,
        kind: str = "cpu",
        role: str = "package",
        max_energy_range_uj: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.role = role
        self.info = DeviceInfo(
            name=name or f"rapl:{self.path.name}", kind=kind, provenance=Provenance.MEASURED,
            update_period_s=RAPL_UPDATE_PERIOD_S,
        )
        self._max_uj = max_energy_range_uj
        self._last_uj: int | None = None
        self._total_uj = 0
        self.wraps = 0

    def _read_int(self, filename: str) -> int:
        target = self.path / filename
        try:
            return int(_read_text(target))
        except PermissionError as e:
            raise SensorError(f"{self.info.name}: permission denied reading {target}") from e
        except FileNotFoundError as e:
            raise SensorError(f"{self.info.name}: {target} disappeared") from e
        except (OSError, ValueError) as e:
            raise SensorError(f"{self.info.name}: cannot read {target}: {e}") from e

    def _max_range_uj(self) -> int | None:
        if self._max_uj is None:
            try:
                self._max_uj = self._read_int("max_energy_range_uj")
            except SensorError:
                return None
        return self._max_uj

    def start(self) -> None:
        """Read the starting counter value."""
        self._max_range_uj()
        self._last_uj = self._read_int("energy_uj")
        self._total_uj = 0
        self.wraps = 0

    def read_j(self) -> float:
        """Joules since :meth:`start`, assuming at most one wrap between two reads."""
        now = self._read_int("energy_uj")
        if self._last_uj is None:
            self._last_uj = now
            return 0.0
        delta = now - self._last_uj
        if delta < 0:
            top = self._max_range_uj()
            if top is None or top <= 0:
                raise SensorError(
                    f"{self.info.name}: counter went back from {self._last_uj} to {now} uJ and "
                    "max_energy_range_uj is unknown, so the wrap cannot be undone")
            delta += top
            self.wraps += 1
        self._total_uj += delta
        self._last_uj = now
        return self._total_uj * 1e-6


def _check_readable(domain: RaplDomain) -> str:
    """'' when ``energy_uj`` reads as an integer, else why not ('permission', or a message)."""
    try:
        int(_read_text(domain.path / "energy_uj"))
    except PermissionError:
        return "permission"
    except FileNotFoundError:
        return f"{domain.path / 'energy_uj'} is missing"
    except (OSError, ValueError) as e:
        return f"{domain.path / 'energy_uj'}: {e}"
    return ""


def probe_rapl(root: str | os.PathLike[str]) -> ProbeResult:
    """Find the readable RAPL domains under ``root`` and build one sensor per domain.

    Never raises for absent or unreadable hardware. ``available`` is true when at least one
    domain can be read; the reason lists the domains that cannot.

    Args:
        root: the powercap directory.

    Returns:
        A :class:`ProbeResult` for backend ``rapl`` with new :class:`RaplDomainSensor` objects.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        return ProbeResult("rapl", False, f"no powercap directory at {root_path} (not Linux, "
                           "or a container/VM without /sys/class/powercap)",
                           hint="on bare-metal Linux with an Intel or AMD CPU, load the "
                           "intel_rapl_msr module; set WATTLM_POWERCAP_ROOT if it lives elsewhere")
    domains = discover_domains(root_path)
    if not domains:
        return ProbeResult("rapl", False, f"no RAPL zones (intel-rapl, amd-rapl) under {root_path}",
                           hint="load the intel_rapl_msr / intel_rapl_common kernel module "
                           "(RAPL is usually not exposed inside virtual machines)")
    sensors: list[Sensor] = []
    denied: list[str] = []
    broken: list[str] = []
    for domain in domains:
        problem = _check_readable(domain)
        if problem == "permission":
            denied.append(domain.sensor_name)
        elif problem:
            broken.append(f"{domain.sensor_name} ({problem})")
        else:
            sensors.append(RaplDomainSensor(domain.path, name=domain.sensor_name,
                                            kind=domain.kind, role=domain.role))
    notes = []
    if denied:
        notes.append(f"permission denied on energy_uj of {', '.join(denied)} "
                     f"(uid {os.getuid() if hasattr(os, 'getuid') else '?'})")
    if broken:
        notes.append("unreadable: " + ", ".join(broken))
    hint = PERMISSION_HINT if denied else ""
    if not sensors:
        return ProbeResult("rapl", False, "; ".join(notes) or "no readable RAPL domain", hint=hint)
    found = ", ".join(s.info.name for s in sensors)
    reason = f"{len(sensors)} readable domain(s): {found}"
    if notes:
        reason += "; " + "; ".join(notes)
    return ProbeResult("rapl", True, reason, sensors=sensors, hint=hint)


def _claim(sensor: Sensor) -> Claim | None:
    """Packages fill ``cpu-package``; psys covers CPU and memory; dram is ``memory``."""
    role = getattr(sensor, "role", "")
    if role == "package":
        return Claim("cpu-package", PRIORITY_COUNTER)
    if role == "psys":
        return Claim("cpu-platform", PRIORITY_PLATFORM, covers=("cpu-package", "memory"))
    if role == "dram":
        return Claim("memory", PRIORITY_SUBDOMAIN)
    return None  # core / uncore are inside their package


def _probe(context: ProbeContext) -> ProbeResult:
    return probe_rapl(context.powercap_root)


#: The RAPL backend: one sensor per readable powercap domain.
BACKEND = Backend("rapl", _probe, _claim, method="RAPL energy_uj counters (uJ, wrap at "
                  "max_energy_range_uj) of each package, dram and psys domain via powercap sysfs")
