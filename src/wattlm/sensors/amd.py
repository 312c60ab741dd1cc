"""placeholder"""

from __future__ import annotations

from wattlm.sensors.backend import Backend, ProbeContext
from wattlm.sensors.base import ProbeResult

__all__ = ["BACKEND"]


def _probe(context: ProbeContext) -> ProbeResult:
    return ProbeResult("amdsmi", False, "not yet")


BACKEND = Backend("amdsmi", _probe, lambda s: None)
