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

``energy_uj`` is a counter in microjoules that wraps to 0 after ``max_energy_range_uj``
(typically 2**32 uJ, about 4.3 kJ, up to 2**38 uJ). A backwards step is believed to be a wrap
only when the power it implies is within the domain's bound (:func:`max_power_bound_w`);
otherwise it is a reset, counted as nothing and flagged (:class:`~wattlm.sensors.counters.
CounterJudge`). The sampler reads each domain at least twice per ``range / bound`` seconds so
that at most one wrap happens between reads; a longer gap (a stall) is flagged.
The counter is updated by the hardware about every millisecond (Intel SDM vol. 3B, 14.10.1:
the energy status unit is refreshed "approximately every 1 ms"), so windows shorter than
:data:`RAPL_UPDATE_PERIOD_S` are not resolved.

Since Linux 5.10 (CVE-2020-8694, "Platypus") ``energy_uj`` is readable by root only on most
distributions; the probe reports that with a fix (:data:`PERMISSION_HINT`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
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
from wattlm.sensors.base import ProbeResult, Sensor, SensorNote
from wattlm.sensors.counters import CounterJudge
from wattlm.units import Provenance

__all__ = [
    "BACKEND",
    "DEFAULT_MAX_POWER_W",
    "PERMISSION_HINT",
    "RAPL_UPDATE_PERIOD_S",
    "RaplDomain",
    "RaplDomainSensor",
    "discover_domains",
    "max_power_bound_w",
    "probe_rapl",
]

#: Hardware refresh period of the RAPL energy status counters (Intel SDM: ~1 ms).
RAPL_UPDATE_PERIOD_S = 0.001

#: Plausibility bound of a domain whose zone states no power figure (W). Our assumption: no
#: single RAPL domain of a current CPU draws 1 kW.
DEFAULT_MAX_POWER_W = 1000.0

#: The bound is this many times the zone's stated power (turbo limits exceed TDP).
POWER_MARGIN = 2.0

#: Lowest bound derived from a zone's figures (W), so that a small stated figure (a DRAM
#: constraint of a few watts) never rejects real steps.
MIN_MAX_POWER_W = 100.0

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


def _zone_power_w(path: Path) -> tuple[float, str] | None:
    """The zone's own power figure (W) and the file it came from, if it states one."""
    for pattern in ("constraint_*_max_power_uw", "max_power_range_uw"):
        figures: list[tuple[float, str]] = []
        for file in sorted(path.glob(pattern)):
            try:
                value = int(_read_text(file))
            except (OSError, ValueError):
                continue
            if value > 0:
                figures.append((value * 1e-6, file.name))
        if figures:
            return max(figures)
    return None


def max_power_bound_w(path: Path) -> tuple[float, str]:
    """The plausibility bound of a RAPL zone (W) and where it came from.

    Rule: :data:`POWER_MARGIN` × the highest ``constraint_*_max_power_uw`` of the zone (the
    hardware's own maximum, usually its TDP), else × ``max_power_range_uw``, at least
    :data:`MIN_MAX_POWER_W`; :data:`DEFAULT_MAX_POWER_W` when the zone states neither.
    User-settable power *limits* are not used: boards often set them to "unlimited" (4 kW).
    """
    found = _zone_power_w(path)
    if found is None:
        return DEFAULT_MAX_POWER_W, "default (the zone states no max power)"
    watts, source = found
    return max(POWER_MARGIN * watts, MIN_MAX_POWER_W), f"{POWER_MARGIN:g} x {source}"


class RaplDomainSensor(Sensor):
    """One RAPL domain's ``energy_uj`` counter, with checked wraparound.

    Args:
        path: the zone directory (holding ``energy_uj`` and ``max_energy_range_uj``).
        name: channel name (default: the directory name, prefixed ``rapl:``).
        kind: ``cpu``, ``memory`` or ``psys``.
        role: ``package``, ``psys``, ``dram``, ``core`` or ``uncore`` (used by the selection).
        max_energy_range_uj: the wrap point; read from the zone when not given.
        max_power_w: plausibility bound (W); by default :func:`max_power_bound_w` of the zone.
        clock: monotonic clock for the time between reads (injectable for tests).

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
        max_power_w: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.role = role
        self.info = DeviceInfo(
            name=name or f"rapl:{self.path.name}", kind=kind, provenance=Provenance.MEASURED,
            update_period_s=RAPL_UPDATE_PERIOD_S,
        )
        self._max_uj = max_energy_range_uj
        if max_power_w is None:
            max_power_w, self.max_power_source = max_power_bound_w(self.path)
        else:
            self.max_power_source = "given"
        self.max_power_w = max_power_w
        self._clock = clock
        self._judge = self._new_judge()
        self._total_uj = 0

    def _new_judge(self) -> CounterJudge:
        return CounterJudge(self.info.name, unit_j=1e-6, max_power_w=self.max_power_w,
                            range_units=self._max_range_uj(),
                            update_period_s=RAPL_UPDATE_PERIOD_S, clock=self._clock)

    @property
    def wraps(self) -> int:
        """Wraps counted since :meth:`start`."""
        return self._judge.wraps

    @property
    def max_read_interval_s(self) -> float | None:  # type: ignore[override]
        """``max_energy_range_uj / max_power_w``: the longest gap with at most one wrap."""
        return self._judge.max_read_interval_s

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
        self._judge = self._new_judge()
        self._judge.first(self._read_int("energy_uj"))
        self._total_uj = 0

    def read_j(self) -> float:
        """Joules since :meth:`start`; wraps, resets and stalls are judged (module docs)."""
        self._total_uj += int(self._judge.step(self._read_int("energy_uj")))
        return self._total_uj * 1e-6

    def drain_notes(self) -> list[SensorNote]:
        """Resets, impossible jumps and stalls seen since the last call."""
        return self._judge.drain()


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
