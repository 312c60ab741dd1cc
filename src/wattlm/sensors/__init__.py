"""Energy sensors: RAPL (powercap), NVIDIA (NVML), models where no sensor exists, and fakes."""

from wattlm.sensors.base import NullSensor, PowerIntegratingSensor, ProbeResult, Sensor

__all__ = ["NullSensor", "PowerIntegratingSensor", "ProbeResult", "Sensor"]
