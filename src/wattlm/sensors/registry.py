"""Probe every sensor backend in a fixed order and pick the sensors a run uses.

Order: ``nvml``, ``rapl``, ``cpu-model``, ``memory-model``. Probing never raises for absent or
unreadable hardware: each backend answers with a :class:`~wattlm.sensors.base.ProbeResult`
(available or not, why, and how to fix it). Nothing is probed at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from wattlm.errors import WattlmError
from wattlm.sensors.base import ProbeResult, Sensor
from wattlm.sensors.model import probe_cpu_model, probe_memory_model
from wattlm.sensors.nvml import probe_nvml
from wattlm.sensors.rapl import RaplDomainSensor, probe_rapl

__all__ = ["BACKENDS", "DEFAULT_POWERCAP_ROOT", "probe_all", "resolve_powercap_root",
           "select_sensors"]

#: Probe order (also the order of :func:`probe_all`'s results).
BACKENDS = ("nvml", "rapl", "cpu-model", "memory-model")
DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"


def resolve_powercap_root(powercap_root: str | os.PathLike[str] | None = None,
                          environ: Mapping[str, str] | None = None) -> str:
    """Return the powercap root: argument, else ``WATTLM_POWERCAP_ROOT``, else sysfs."""
    if powercap_root is not None:
        return os.fspath(powercap_root)
    env = os.environ if environ is None else environ
    return env.get("WATTLM_POWERCAP_ROOT") or DEFAULT_POWERCAP_ROOT


def probe_all(*, powercap_root: str | os.PathLike[str] | None = None,
              nvml_module: Any | None = None, pid: int | None = None,
              environ: Mapping[str, str] | None = None) -> list[ProbeResult]:
    """Probe every backend in order: nvml, rapl, cpu-model, memory-model.

    Args:
        powercap_root: powercap directory; None reads ``WATTLM_POWERCAP_ROOT`` from ``environ``
            (or ``os.environ``), else ``/sys/class/powercap``.
        nvml_module: ``pynvml`` or a fake; None imports ``pynvml`` lazily (absent: the nvml
            result says "nvidia-ml-py not installed" with the install hint).
        pid: root of the tracked process tree (default: this process).
        environ: environment for ``CUDA_VISIBLE_DEVICES``, ``WATTLM_POWERCAP_ROOT`` and
            ``WATTLM_CPU_TDP_W`` (default ``os.environ``).

    Returns:
        One :class:`ProbeResult` per backend, with NEW sensor objects on every call (sensors are
        stateful). The sysfs walk and the TDP-table match are cached per argument.
    """
    env = os.environ if environ is None else environ
    root = resolve_powercap_root(powercap_root, env)
    tracked = os.getpid() if pid is None else pid
    results: list[ProbeResult] = []
    probes: tuple[tuple[str, Callable[[], ProbeResult]], ...] = (
        ("nvml", lambda: probe_nvml(nvml_module, env)),
        ("rapl", lambda: probe_rapl(root)),
        ("cpu-model", lambda: probe_cpu_model(tracked, environ=env)),
        ("memory-model", lambda: probe_memory_model(tracked)),
    )
    for backend, probe in probes:
        try:
            results.append(probe())
        except (OSError, WattlmError) as e:  # unexpected trouble reading the system
            results.append(ProbeResult(backend, False, f"probe failed: {e}"))
    return results


def select_sensors(results: list[ProbeResult]) -> list[Sensor]:
    """Choose the sensors a run uses, so that no energy is counted twice.

    Rule (also in ``docs/methodology/measurement.md``):

    1. every NVML GPU;
    2. CPU: the readable RAPL ``package`` domains (one per socket); if there is none, the
       ``psys`` domain (whole platform); if neither, the modelled CPU;
    3. memory: the RAPL ``dram`` domains when present, else the modelled memory, except when
       ``psys`` was chosen in step 2 (psys already includes memory, so nothing is added).

    RAPL ``core`` / ``uncore`` subdomains are never used: they are inside their package.

    Args:
        results: the output of :func:`probe_all`.

    Returns:
        The chosen sensors, GPUs first.
    """
    by_backend = {r.backend: r for r in results if r.available}
    chosen: list[Sensor] = []
    if "nvml" in by_backend:
        chosen.extend(by_backend["nvml"].sensors)
    rapl = [s for s in by_backend["rapl"].sensors if isinstance(s, RaplDomainSensor)] \
        if "rapl" in by_backend else []
    packages = [s for s in rapl if s.role == "package"]
    psys = [s for s in rapl if s.role == "psys"]
    dram = [s for s in rapl if s.role == "dram"]
    if packages:
        chosen.extend(packages)
    elif psys:
        chosen.extend(psys)
    elif "cpu-model" in by_backend:
        chosen.extend(by_backend["cpu-model"].sensors)
    if packages or not psys:
        if dram:
            chosen.extend(dram)
        elif "memory-model" in by_backend:
            chosen.extend(by_backend["memory-model"].sensors)
    return chosen
