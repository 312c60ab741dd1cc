"""The result type of :func:`wattlm.estimate.inference.estimate_inference`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wattlm.units import Energy, Range

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.records import Footprint

__all__ = ["InferenceEstimate"]


@dataclass(frozen=True)
class InferenceEstimate:
    """Result of :func:`estimate_inference`; every figure is a :class:`Range`.

    Attributes:
        energy: IT energy per request (accelerators + host, before PUE), :class:`Energy` in J.
        facility_energy: energy per request at the meter (IT x PUE), :class:`Energy` in J.
        energy_per_request_j: alias of ``facility_energy`` in J (kept for scripts).
        energy_per_output_token_j: ``facility_energy / output_tokens``, J.
        accelerators_energy_per_output_token_j: accelerators only (what ML.ENERGY measures), J.
        accelerators_energy_per_request_j: accelerators only, J per request.
        host_energy_per_request_j: host share, J per request.
        facility_energy_per_request_j: the PUE overhead alone (``IT x (PUE - 1)``), J.
        time_per_request_s: time to first token plus every decode step of the request, s.
        time_per_output_token_s: one decode step of the batch (inter-token latency), s.
        devices: accelerators used.
        footprint: per-request footprint from :func:`wattlm.carbon.accounting.footprint`
            (``emissions``, ``embodied``, ``water`` are read from it).
        assumptions: inputs, defaults and constants used.
    """

    energy_per_request_j: Range
    energy_per_output_token_j: Range
    accelerators_energy_per_output_token_j: Range
    accelerators_energy_per_request_j: Range
    host_energy_per_request_j: Range
    facility_energy_per_request_j: Range
    time_per_request_s: Range
    time_per_output_token_s: Range
    devices: Range
    footprint: Footprint | None
    assumptions: dict[str, Any] = field(default_factory=dict)

    @property
    def energy(self) -> Energy:
        """IT energy per request (accelerators + host, no PUE), J."""
        return Energy.of(self.accelerators_energy_per_request_j + self.host_energy_per_request_j)

    @property
    def facility_energy(self) -> Energy:
        """Energy per request including the facility overhead (IT x PUE), J."""
        return Energy.of(self.energy_per_request_j)

    @property
    def emissions(self) -> Range | None:
        """Operational emissions per request (footprint ``emissions_kg``), kg CO2e."""
        return self.footprint.emissions_kg if self.footprint is not None else None

    @property
    def embodied(self) -> Range | None:
        """Embodied emissions per request (footprint ``embodied_kg``), kg CO2e."""
        return self.footprint.embodied_kg if self.footprint is not None else None

    @property
    def water(self) -> Range | None:
        """Water per request (footprint ``water_l``), L."""
        return self.footprint.water_l if self.footprint is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in base units; each Range becomes ``{"low", "central", "high"}``."""
        out: dict[str, Any] = {}
        for name in ("energy_per_request_j", "energy_per_output_token_j",
                     "accelerators_energy_per_output_token_j",
                     "accelerators_energy_per_request_j", "host_energy_per_request_j",
                     "facility_energy_per_request_j", "time_per_request_s",
                     "time_per_output_token_s", "devices"):
            out[name] = getattr(self, name).to_dict()
        out["it_energy_per_request_j"] = self.energy.to_dict()
        out["footprint"] = self.footprint.to_dict() if self.footprint is not None else None
        out["assumptions"] = self.assumptions
        return out
