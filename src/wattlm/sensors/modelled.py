"""Backend declarations of the models (:mod:`wattlm.sensors.model`): CPU and memory.

The models stand in only where no sensor measures: their claims have the lowest priority, so
any counter or sampled power for the same role wins.
"""

from __future__ import annotations

from wattlm.sensors.backend import PRIORITY_MODELLED, Backend, Claim, ProbeContext
from wattlm.sensors.base import ProbeResult, Sensor
from wattlm.sensors.model import probe_cpu_model, probe_memory_model

__all__ = ["CPU_BACKEND", "MEMORY_BACKEND"]


def _probe_cpu(context: ProbeContext) -> ProbeResult:
    return probe_cpu_model(context.pid, environ=context.environ)


def _probe_memory(context: ProbeContext) -> ProbeResult:
    return probe_memory_model(context.pid)


def _cpu_claim(sensor: Sensor) -> Claim:
    return Claim("cpu-package", PRIORITY_MODELLED)


def _memory_claim(sensor: Sensor) -> Claim:
    return Claim("memory", PRIORITY_MODELLED)


#: CPU power from the tracked process tree's utilisation x TDP.
CPU_BACKEND = Backend("cpu-model", _probe_cpu, _cpu_claim,
                      method="utilisation of the tracked process tree x CPU TDP (modelled)")
#: Memory power from the tracked tree's resident memory x W/GB.
MEMORY_BACKEND = Backend("memory-model", _probe_memory, _memory_claim,
                         method="resident memory of the tracked process tree x W per GB "
                         "(modelled)")
