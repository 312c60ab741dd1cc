"""placeholder"""

from __future__ import annotations

from wattlm.sensors.backend import Backend, ProbeContext
from wattlm.sensors.base import ProbeResult

__all__ = ["BACKEND"]


def _probe(context: ProbeContext) -> ProbeResult:
    return ProbeResult("apple", False, "not yet")


BACKEND = Backend("apple", _probe, lambda s: None)
