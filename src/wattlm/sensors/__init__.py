"""Energy sensors: one module per backend (NVML, amdsmi, Gaudi, Apple, RAPL, models) and fakes."""

from wattlm.sensors.base import PowerIntegratingSensor, ProbeResult, Problem, Sensor

__all__ = ["PowerIntegratingSensor", "Problem", "ProbeResult", "Sensor"]
