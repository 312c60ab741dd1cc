"""Models where no sensor exists: CPU and memory power of the tracked process tree (``modelled``).

**CPU.** ``E_cpu = CPU-seconds of the process tree since start x W_core`` with
``W_core = TDP x sockets / logical cores of the host``. The CPU model comes from ``/proc/cpuinfo``
and its TDP from the packaged table ``data/cpu_tdp.csv`` (CodeCarbon, MIT); an unknown CPU uses
:data:`DEFAULT_TDP_W_PER_CORE`. The modelled power is capped at the cgroup CPU quota
(``cpu.max`` in cgroup v2, ``cpu.cfs_quota_us / cpu.cfs_period_us`` in v1) x ``W_core``.

**Memory.** ``P_mem = min(RSS of the tree, cgroup memory limit, host RAM) [GiB] x W_per_GB``,
integrated over time with the trapezoid rule; :data:`DEFAULT_WATTS_PER_GB` = 0.3725 W/GB from
Green Algorithms (Lannelongue et al. 2021). It is the tree's memory, never the host's RAM.

Both models attribute only the dynamic share of the tracked processes; the idle power of the
rest of the machine is not included. See ``docs/methodology/measurement.md``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psutil

from wattlm._caches import cached
from wattlm.errors import ConfigError, DataError, SensorError
from wattlm.records import DeviceInfo
from wattlm.sensors.base import PowerIntegratingSensor, ProbeResult, Sensor
from wattlm.units import Provenance

__all__ = [
    "DEFAULT_TDP_W_PER_CORE",
    "DEFAULT_WATTS_PER_GB",
    "CpuInfo",
    "CpuModelSensor",
    "MemoryModelSensor",
    "ProcessTree",
    "TdpMatch",
    "cgroup_cpu_quota_cores",
    "cgroup_memory_limit_bytes",
    "load_tdp_table",
    "match_cpu_tdp",
    "probe_cpu_model",
    "probe_memory_model",
    "read_cpu_info",
]

#: TDP share per logical core when the CPU is not in the table (W). An assumption: server parts
#: give 2-3.5 W per hardware thread (EPYC 7763: 280 W / 128 threads; Xeon Platinum 8380:
#: 270 W / 80 threads), desktop parts ~8 W (Core i7-8700K: 95 W / 12 threads).
DEFAULT_TDP_W_PER_CORE = 4.0

#: Memory power per GB (GiB, 2**30 bytes) of resident memory. Green Algorithms, Lannelongue,
#: Grealey & Inouye, "Green Algorithms: Quantifying the Carbon Footprint of Computation",
#: Advanced Science 8 (2021) 2100707, from Tom's Hardware DDR4 measurements.
DEFAULT_WATTS_PER_GB = 0.3725

_GIB = float(2**30)
_V1_UNLIMITED = 2**62  # v1 reports "no limit" as a page-rounded 2**63 - 1


# ---------------------------------------------------------------- CPU identification + TDP


@dataclass(frozen=True)
class CpuInfo:
    """What ``/proc/cpuinfo`` says: the model string, sockets and logical cores."""

    model_name: str
    sockets: int
    logical_cores: int


def read_cpu_info(path: str | os.PathLike[str] = "/proc/cpuinfo") -> CpuInfo:
    """Parse ``/proc/cpuinfo`` (x86 ``model name``; ARM ``Model``/``Hardware``/``CPU part``).

    Args:
        path: the cpuinfo file (injectable for tests).

    Returns:
        The model string ('' when absent), the number of sockets (distinct ``physical id``,
        at least 1) and logical cores (``processor`` entries, or ``os.cpu_count()``).
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    model = ""
    physical: set[str] = set()
    processors = 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "processor":
            processors += 1
        elif key == "physical id":
            physical.add(value)
        elif key in ("model name", "cpu model", "model", "hardware") and not model:
            if key == "model" and value.isdigit():
                continue  # x86 "model : 85" is a number, not a name
            model = value
    return CpuInfo(model_name=model, sockets=max(len(physical), 1),
                   logical_cores=processors or (os.cpu_count() or 1))


@dataclass(frozen=True)
class TdpMatch:
    """A CPU found in the TDP table."""

    table_name: str
    tdp_w: float
    source_id: str


_NOISE = re.compile(r"\((r|tm|c)\)|®|™|\bcpu\b|\bprocessor\b|\b\d+-core\b|@.*$", re.IGNORECASE)


def _tokens(name: str) -> frozenset[str]:
    cleaned = _NOISE.sub(" ", name.lower())
    return frozenset(t for t in re.split(r"[\s,]+", cleaned) if t)


@cached
def load_tdp_table() -> tuple[tuple[str, float, str], ...]:
    """Load the packaged CPU TDP table: ``(cpu_name, tdp_w, source_id)`` rows (cached).

    Raises:
        DataError: the packaged file is malformed.
    """
    text = resources.files("wattlm.sensors").joinpath("data/cpu_tdp.csv").read_text("utf-8")
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        try:
            rows.append((row["cpu_name"], float(row["tdp_w"]), row["source_id"]))
        except (KeyError, ValueError) as e:
            raise DataError(f"cpu_tdp.csv: bad row {row}: {e}") from e
    return tuple(rows)


@cached
def match_cpu_tdp(model_name: str) -> TdpMatch | None:
    """Find a ``/proc/cpuinfo`` model string in the TDP table.

    A table entry matches when all its words appear in the model string once ``(R)``,
    ``(TM)``, ``CPU``, ``Processor``, ``N-Core`` and the ``@ clock`` suffix are removed, and at
    least one of them holds a digit (a model number). The entry with the most words wins
    (``Xeon Platinum 8351N`` over ``8351``); words are compared whole, so ``EPYC 7203``
    does not match ``EPYC 7203P``.

    Args:
        model_name: e.g. ``Intel(R) Xeon(R) Platinum 8351N CPU @ 2.40GHz``.

    Returns:
        The match, or None when the CPU is unknown.
    """
    wanted = _tokens(model_name)
    numbers = [t for t in wanted if any(ch.isdigit() for ch in t)]
    if not numbers:
        return None
    best: tuple[int, TdpMatch] | None = None
    for name, tdp_w, source in load_tdp_table():
        lowered = name.lower()
        if not any(number in lowered for number in numbers):  # cheap necessary condition
            continue
        tokens = _tokens(name)
        if not tokens or not tokens <= wanted or not any(ch.isdigit() for ch in "".join(tokens)):
            continue
        if best is None or len(tokens) > best[0]:
            best = (len(tokens), TdpMatch(name, tdp_w, source))
    return None if best is None else best[1]


# ---------------------------------------------------------------- cgroups


def _cgroup_dirs(cgroup_root: Path, proc_root: Path, pid: int, controller: str) -> list[Path]:
    """List the process's cgroup directory and its existing ancestors, deepest first.

    ``controller`` is '' for cgroup v2, or the v1 hierarchy name (``cpu``, ``memory``).
    """
    relative = "/"
    try:
        lines = (proc_root / str(pid) / "cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if (controller == "" and parts[0] == "0" and parts[1] == "") or (
                controller and controller in parts[1].split(",")):
            relative = parts[2]
            break
    base = cgroup_root if controller == "" else _v1_mount(cgroup_root, controller)
    if base is None:
        return []
    out: list[Path] = []
    current = Path(relative.strip() or "/")
    while True:
        candidate = base / str(current).lstrip("/")
        if candidate.is_dir() and candidate not in out:
            out.append(candidate)
        if current == current.parent:
            break
        current = current.parent
    if base not in out and base.is_dir():
        out.append(base)
    return out


def _v1_mount(cgroup_root: Path, controller: str) -> Path | None:
    for name in (controller, f"{controller},cpuacct", f"cpuacct,{controller}"):
        if (cgroup_root / name).is_dir():
            return cgroup_root / name
    return None


def _is_v2(cgroup_root: Path) -> bool:
    return (cgroup_root / "cgroup.controllers").exists()


def cgroup_cpu_quota_cores(cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup", *,
                           pid: int | None = None,
                           proc_root: str | os.PathLike[str] = "/proc") -> float | None:
    """Return the CPU quota of the process's cgroup in cores (None: unlimited or unknown).

    Reads ``cpu.max`` (v2: ``"<quota> <period>"`` or ``"max <period>"``) or
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (v1, quota -1 = unlimited) in the process's
    cgroup and every ancestor, and returns the smallest.

    Args:
        cgroup_root: the cgroup mount (injectable for tests).
        pid: the process (default: this one).
        proc_root: where ``<pid>/cgroup`` is read.
    """
    root, proc = Path(cgroup_root), Path(proc_root)
    pid = os.getpid() if pid is None else pid
    limits: list[float] = []
    if _is_v2(root):
        for directory in _cgroup_dirs(root, proc, pid, ""):
            try:
                quota, _, period = (directory / "cpu.max").read_text().strip().partition(" ")
                if quota != "max" and float(period or 100000) > 0:
                    limits.append(float(quota) / float(period or 100000))
            except (OSError, ValueError):
                continue
    else:
        for directory in _cgroup_dirs(root, proc, pid, "cpu"):
            try:
                quota_us = float((directory / "cpu.cfs_quota_us").read_text())
                period_us = float((directory / "cpu.cfs_period_us").read_text())
            except (OSError, ValueError):
                continue
            if quota_us > 0 and period_us > 0:
                limits.append(quota_us / period_us)
    return min(limits) if limits else None


def cgroup_memory_limit_bytes(cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup", *,
                              pid: int | None = None,
                              proc_root: str | os.PathLike[str] = "/proc") -> int | None:
    """Return the memory limit of the process's cgroup in bytes (None: unlimited/unknown).

    Reads ``memory.max`` (v2, ``max`` = unlimited) or ``memory.limit_in_bytes`` (v1, values
    near 2**63 = unlimited) in the process's cgroup and its ancestors; returns the smallest.
    """
    root, proc = Path(cgroup_root), Path(proc_root)
    pid = os.getpid() if pid is None else pid
    v2 = _is_v2(root)
    filename = "memory.max" if v2 else "memory.limit_in_bytes"
    limits: list[int] = []
    for directory in _cgroup_dirs(root, proc, pid, "" if v2 else "memory"):
        try:
            text = (directory / filename).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < _V1_UNLIMITED:
            limits.append(int(text))
    return min(limits) if limits else None


# ---------------------------------------------------------------- process tree


_parents_lock = threading.Lock()
_parents_cache: tuple[float, dict[int, list[int]]] = (-float("inf"), {})


def _children_by_parent(max_age_s: float) -> dict[int, list[int]]:
    """Map parent pid -> child pids for every process, reused for ``max_age_s`` seconds.

    The CPU and memory models follow the same tree, so one scan of ``/proc`` serves both.
    """
    global _parents_cache
    with _parents_lock:
        taken, mapping = _parents_cache
        now = time.monotonic()
        if now - taken <= max_age_s:
            return mapping
        mapping = {}
        for proc in psutil.process_iter(["ppid"]):
            ppid = proc.info.get("ppid")
            if ppid is not None:
                mapping.setdefault(ppid, []).append(proc.pid)
        _parents_cache = (now, mapping)
        return mapping


def _children_files_supported() -> bool:
    """Whether ``/proc/<pid>/task/<tid>/children`` exists (Linux >= 3.5, CONFIG_PROC_CHILDREN)."""
    return os.path.exists(f"{psutil.PROCFS_PATH}/self/task/{threading.get_native_id()}/children")


def _children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` from its threads' ``children`` files (no full /proc scan)."""
    base = f"{psutil.PROCFS_PATH}/{pid}/task"
    try:
        tasks = os.listdir(base)
    except OSError:
        return []
    children: list[int] = []
    for tid in tasks:
        try:
            with open(f"{base}/{tid}/children", encoding="ascii") as handle:
                children.extend(int(c) for c in handle.read().split())
        except (OSError, ValueError):
            continue
    return children


class ProcessTree:
    """The tracked process and its descendants, including those that were re-parented.

    CPU time counts each CPU-second once: live processes' own time plus their
    ``children_user + children_system`` (descendants that exited and were waited for). A
    descendant seen once stays tracked even if re-parented (daemonised). If a process
    disappears without a tracked parent collecting its time, the total is held at its last
    value (it never decreases), so at most the time since the previous read is lost.

    Args:
        pid: root of the tree.
        refresh_s: how often the list of descendants is rescanned (a scan walks ``/proc``
            and costs ~2 ms; reads in between cost ~50 us per process).
        clock: injectable clock.

    Raises:
        SensorError: the root process does not exist or cannot be inspected.
    """

    def __init__(self, pid: int, *, refresh_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        try:
            self._root = psutil.Process(pid)
        except psutil.Error as e:
            raise SensorError(f"process {pid} cannot be inspected: {e}") from e
        self.pid = pid
        self._refresh_s = refresh_s
        self._clock = clock
        self._known: dict[int, psutil.Process] = {pid: self._root}
        self._children_files = _children_files_supported()
        self._last_scan = -float("inf")
        self._floor_s = 0.0
        self._offset_s = 0.0

    def _scan(self, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_scan < self._refresh_s:
            return
        self._last_scan = now
        # Where the kernel lists each thread's children, read only the tree's own entries;
        # otherwise one pass over all of /proc (psutil's children() rescans /proc per call).
        if self._children_files:
            children_of = _children_of
        else:
            by_parent = _children_by_parent(0.0 if force else self._refresh_s)
            children_of = lambda pid: by_parent.get(pid, [])  # noqa: E731
        stack = list(self._known)
        while stack:
            for child in children_of(stack.pop()):
                if child in self._known:
                    continue
                try:
                    self._known[child] = psutil.Process(child)
                except psutil.Error:
                    continue
                stack.append(child)

    def processes(self) -> list[psutil.Process]:
        """Return the tracked processes still alive (root first)."""
        self._scan()
        alive = []
        for pid, proc in list(self._known.items()):
            try:
                if proc.is_running():
                    alive.append(proc)
                    continue
            except psutil.Error:
                pass
            if pid != self.pid:
                del self._known[pid]
        return alive

    def cpu_seconds(self) -> float:
        """CPU-seconds (user + system) used by the tree since its processes started."""
        total = 0.0
        for proc in self.processes():
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system + t.children_user + t.children_system
        if total + self._offset_s < self._floor_s:  # a process vanished uncollected
            self._offset_s = self._floor_s - total
        self._floor_s = total + self._offset_s
        return self._floor_s

    def rss_bytes(self) -> int:
        """Resident memory of the tree (sum over processes; shared pages count per process)."""
        total = 0
        for proc in self.processes():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total


# ---------------------------------------------------------------- sensors


class CpuModelSensor(Sensor):
    """Modelled CPU energy: CPU-seconds of the process tree x TDP per logical core.

    Args:
        pid: root of the tracked process tree.
        tdp_w: TDP of the whole host (per-socket TDP x sockets), W.
        cores: logical cores of the host.
        clock: injectable clock (for the quota cap).
        quota_cores: cgroup CPU quota in cores (None: no cap beyond ``cores``).
        refresh_s: how often the process tree is rescanned.

    Raises:
        ConfigError: ``tdp_w`` or ``cores`` is not positive.
        SensorError: the process cannot be inspected.
    """

    def __init__(self, pid: int, tdp_w: float, cores: int,
                 clock: Callable[[], float] = time.monotonic, *,
                 quota_cores: float | None = None, refresh_s: float = 2.0) -> None:
        if tdp_w <= 0 or cores <= 0:
            raise ConfigError(f"CPU model needs tdp_w > 0 and cores > 0, got {tdp_w}, {cores}")
        self.info = DeviceInfo(name="cpu:model", kind="cpu", provenance=Provenance.MODELLED)
        self.watts_per_core = tdp_w / cores
        self.cap_cores = float(min(quota_cores, cores) if quota_cores else cores)
        self._clock = clock
        self._tree = ProcessTree(pid, refresh_s=refresh_s, clock=clock)
        self._last: tuple[float, float] | None = None
        self._cpu_s = 0.0

    def start(self) -> None:
        """Take the tree's CPU time now as the zero point."""
        self._last = (self._clock(), self._tree.cpu_seconds())
        self._cpu_s = 0.0

    @property
    def cpu_seconds(self) -> float:
        """CPU-seconds counted since :meth:`start` (after the quota cap)."""
        return self._cpu_s

    def read_j(self) -> float:
        """Joules since :meth:`start`."""
        now, used = self._clock(), self._tree.cpu_seconds()
        if self._last is None:
            self._last = (now, used)
            return 0.0
        then, before = self._last
        self._cpu_s += min(max(used - before, 0.0), self.cap_cores * max(now - then, 0.0))
        self._last = (now, used)
        return self._cpu_s * self.watts_per_core


class MemoryModelSensor(PowerIntegratingSensor):
    """Modelled memory energy: resident memory of the tree (GiB) x W/GB, integrated.

    Args:
        pid: root of the tracked process tree.
        watts_per_gb: power per GiB of resident memory (default 0.3725, Green Algorithms).
        limit_bytes: cap (cgroup memory limit, else host RAM); None: host RAM.
        clock: injectable clock.
        refresh_s: how often the process tree is rescanned.

    Raises:
        ConfigError: ``watts_per_gb`` is negative.
        SensorError: the process cannot be inspected.
    """

    preferred_interval_s = 1.0

    def __init__(self, pid: int, watts_per_gb: float = DEFAULT_WATTS_PER_GB, *,
                 limit_bytes: int | None = None,
                 clock: Callable[[], float] = time.monotonic, refresh_s: float = 2.0) -> None:
        if watts_per_gb < 0:
            raise ConfigError(f"watts_per_gb must be >= 0, got {watts_per_gb}")
        super().__init__(clock=clock)
        self.info = DeviceInfo(name="memory:model", kind="memory", provenance=Provenance.MODELLED)
        self.watts_per_gb = watts_per_gb
        host = psutil.virtual_memory().total
        self.limit_bytes = min(limit_bytes, host) if limit_bytes else host
        self._tree = ProcessTree(pid, refresh_s=refresh_s, clock=clock)

    def read_power_w(self) -> float:
        """Modelled memory power now, W."""
        return min(self._tree.rss_bytes(), self.limit_bytes) / _GIB * self.watts_per_gb


# ---------------------------------------------------------------- probes


def _positive_env(environ: Mapping[str, str], name: str) -> float | None:
    from wattlm._validate import bounded
    from wattlm.errors import InvalidInputError

    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:  # NaN, inf, <= 0 and above 2 kW per socket are errors (bounds in docs/cli.md)
        return bounded(raw, "cpu_tdp_w", low=0.0, low_open=True, origin=f"environment {name}",
                       unit="W per socket")
    except InvalidInputError as e:
        raise ConfigError(f"{e} (a positive number of watts per socket)") from None


def probe_cpu_model(pid: int, *, cpuinfo_path: str | os.PathLike[str] = "/proc/cpuinfo",
                    cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup",
                    proc_root: str | os.PathLike[str] = "/proc",
                    environ: Mapping[str, str] | None = None) -> ProbeResult:
    """Build the modelled CPU sensor for a process tree.

    ``WATTLM_CPU_TDP_W`` (per socket) overrides the table.

    Args:
        pid: root of the tracked tree.
        cpuinfo_path: the cpuinfo file.
        cgroup_root: the cgroup mount.
        proc_root: the proc mount (for ``<pid>/cgroup``).
        environ: environment (default ``os.environ``).

    Returns:
        A :class:`ProbeResult` for backend ``cpu-model``.
    """
    env = os.environ if environ is None else environ
    info = read_cpu_info(cpuinfo_path)
    cores = psutil.cpu_count(logical=True) or info.logical_cores
    try:
        override = _positive_env(env, "WATTLM_CPU_TDP_W")
    except ConfigError as e:
        return ProbeResult("cpu-model", False, str(e), hint="unset it or give watts per socket")
    match = None if override else match_cpu_tdp(info.model_name)
    label = info.model_name or "unknown CPU"
    hint = ""
    if override:
        tdp_w, how = override * info.sockets, f"WATTLM_CPU_TDP_W={override:g} W per socket"
    elif match:
        tdp_w = match.tdp_w * info.sockets
        how = f"matched {match.table_name!r}, TDP {match.tdp_w:g} W ({match.source_id})"
    else:
        tdp_w = DEFAULT_TDP_W_PER_CORE * cores
        how = f"not in the TDP table: default {DEFAULT_TDP_W_PER_CORE:g} W per logical core"
        hint = "set WATTLM_CPU_TDP_W to the CPU's TDP per socket"
    quota = cgroup_cpu_quota_cores(cgroup_root, pid=pid, proc_root=proc_root)
    try:
        sensor = CpuModelSensor(pid, tdp_w, cores, quota_cores=quota)
    except SensorError as e:
        return ProbeResult("cpu-model", False, str(e))
    quota_text = f"; cgroup CPU quota {quota:g} cores" if quota else ""
    reason = (f"{label}: {how}; {info.sockets} socket(s), {cores} logical cores -> "
              f"{sensor.watts_per_core:.2f} W per busy core{quota_text}")
    return ProbeResult("cpu-model", True, reason, sensors=[sensor], hint=hint)


def probe_memory_model(pid: int, *, cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup",
                       proc_root: str | os.PathLike[str] = "/proc",
                       watts_per_gb: float = DEFAULT_WATTS_PER_GB) -> ProbeResult:
    """Build the modelled memory sensor for a process tree.

    Args:
        pid: root of the tracked tree.
        cgroup_root: the cgroup mount.
        proc_root: the proc mount.
        watts_per_gb: W per GiB of resident memory.

    Returns:
        A :class:`ProbeResult` for backend ``memory-model``.
    """
    limit = cgroup_memory_limit_bytes(cgroup_root, pid=pid, proc_root=proc_root)
    try:
        sensor = MemoryModelSensor(pid, watts_per_gb, limit_bytes=limit)
    except SensorError as e:
        return ProbeResult("memory-model", False, str(e))
    where = "cgroup memory limit" if limit and limit <= sensor.limit_bytes else "host RAM"
    reason = (f"resident memory of process {pid} and its children x {watts_per_gb:g} W/GB, "
              f"capped at the {where} ({sensor.limit_bytes / _GIB:.1f} GiB)")
    return ProbeResult("memory-model", True, reason, sensors=[sensor])
