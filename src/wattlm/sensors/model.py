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
rest of the machine is not included. Which processes are tracked is the run's *scope*
(:mod:`wattlm.sensors.scope`: the process tree by default); the two sensors of a run share one
scope and so one walk of the processes per sample. CPU identification lives in
:mod:`wattlm.sensors.cpuinfo`, cgroup parsing in :mod:`wattlm.sensors.cgroup`, the tree walk
in :mod:`wattlm.sensors.proctree`. See ``docs/methodology/measurement.md``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

import psutil

from wattlm.errors import ConfigError, SensorError
from wattlm.records import DeviceInfo
from wattlm.sensors.base import PowerIntegratingSensor, ProbeResult, Sensor
from wattlm.sensors.cgroup import cgroup_cpu_quota_cores, cgroup_memory_limit_bytes
from wattlm.sensors.cpuinfo import (
    DEFAULT_TDP_W_PER_CORE,
    CpuInfo,
    TdpMatch,
    load_tdp_table,
    match_cpu_tdp,
    read_cpu_info,
)
from wattlm.sensors.proctree import DEFAULT_REFRESH_S, ProcessTree
from wattlm.sensors.scope import SHARE_S, ProcessScope, TreeScope, scope_for
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

#: Memory power per GB (GiB, 2**30 bytes) of resident memory. Green Algorithms, Lannelongue,
#: Grealey & Inouye, "Green Algorithms: Quantifying the Carbon Footprint of Computation",
#: Advanced Science 8 (2021) 2100707, from Tom's Hardware DDR4 measurements.
DEFAULT_WATTS_PER_GB = 0.3725

_GIB = float(2**30)


# ---------------------------------------------------------------- sensors


class CpuModelSensor(Sensor):
    """Modelled CPU energy: CPU-seconds of the process tree x TDP per logical core.

    Args:
        pid: root of the tracked process tree.
        tdp_w: TDP of the whole host (per-socket TDP x sockets), W.
        cores: logical cores of the host.
        clock: injectable clock (for the quota cap).
        quota_cores: cgroup CPU quota in cores (None: no cap beyond ``cores``).
        refresh_s: how often the process tree is rescanned (when no ``scope`` is given).
        scope: the processes to measure, shared with the memory model (default: a private
            :class:`~wattlm.sensors.scope.TreeScope` of ``pid``).

    Raises:
        ConfigError: ``tdp_w`` or ``cores`` is not positive.
        SensorError: the process cannot be inspected.
    """

    def __init__(self, pid: int, tdp_w: float, cores: int,
                 clock: Callable[[], float] = time.monotonic, *,
                 quota_cores: float | None = None, refresh_s: float = DEFAULT_REFRESH_S,
                 scope: ProcessScope | None = None) -> None:
        if tdp_w <= 0 or cores <= 0:
            raise ConfigError(f"CPU model needs tdp_w > 0 and cores > 0, got {tdp_w}, {cores}")
        self.info = DeviceInfo(name="cpu:model", kind="cpu", provenance=Provenance.MODELLED)
        self.watts_per_core = tdp_w / cores
        self.cap_cores = float(min(quota_cores, cores) if quota_cores else cores)
        self._clock = clock
        self.scope = scope if scope is not None else TreeScope(pid, refresh_s=refresh_s,
                                                                clock=clock)
        self._last: tuple[float, float] | None = None
        self._cpu_s = 0.0

    def start(self) -> None:
        """Take the tree's CPU time now as the zero point."""
        self._last = (self._clock(), self.scope.usage().cpu_s)
        self._cpu_s = 0.0

    @property
    def cpu_seconds(self) -> float:
        """CPU-seconds counted since :meth:`start` (after the quota cap)."""
        return self._cpu_s

    def read_j(self) -> float:
        """Joules since :meth:`start`."""
        now, used = self._clock(), self.scope.usage().cpu_s
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
        refresh_s: how often the process tree is rescanned (when no ``scope`` is given).
        scope: the processes to measure; a snapshot the CPU model took less than
            :data:`~wattlm.sensors.scope.SHARE_S` ago is reused (default: a private tree).

    Raises:
        ConfigError: ``watts_per_gb`` is negative.
        SensorError: the process cannot be inspected.
    """

    preferred_interval_s = 1.0

    def __init__(self, pid: int, watts_per_gb: float = DEFAULT_WATTS_PER_GB, *,
                 limit_bytes: int | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 refresh_s: float = DEFAULT_REFRESH_S,
                 scope: ProcessScope | None = None) -> None:
        if watts_per_gb < 0:
            raise ConfigError(f"watts_per_gb must be >= 0, got {watts_per_gb}")
        super().__init__(clock=clock)
        self.info = DeviceInfo(name="memory:model", kind="memory", provenance=Provenance.MODELLED)
        self.watts_per_gb = watts_per_gb
        host = psutil.virtual_memory().total
        self.limit_bytes = min(limit_bytes, host) if limit_bytes else host
        self.scope = scope if scope is not None else TreeScope(pid, refresh_s=refresh_s,
                                                                clock=clock)

    def read_power_w(self) -> float:
        """Modelled memory power now, W."""
        rss = self.scope.usage(max_age_s=SHARE_S).rss_bytes
        return min(rss, self.limit_bytes) / _GIB * self.watts_per_gb


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
        sensor = CpuModelSensor(pid, tdp_w, cores, quota_cores=quota, scope=scope_for(pid))
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
        sensor = MemoryModelSensor(pid, watts_per_gb, limit_bytes=limit, scope=scope_for(pid))
    except SensorError as e:
        return ProbeResult("memory-model", False, str(e))
    where = "cgroup memory limit" if limit and limit <= sensor.limit_bytes else "host RAM"
    reason = (f"resident memory of process {pid} and its children x {watts_per_gb:g} W/GB, "
              f"capped at the {where} ({sensor.limit_bytes / _GIB:.1f} GiB)")
    return ProbeResult("memory-model", True, reason, sensors=[sensor])
