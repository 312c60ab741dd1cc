"""The impacts of one hosted-API call, from its tokens and wattlm's inference estimator.

Energy: :func:`wattlm.estimate_inference` at the catalogue's central parameters on the
provider's hardware and batch, with the call's input and output tokens and the provider's PUE;
its low/high (serving-efficiency scenarios) are widened by the parameter range
(``low x active_low / active``, ``high x active_high / active``: decode, which dominates, reads
the active weights once per step). Emissions and water: :func:`wattlm.footprint` of that IT
energy in the provider's region with its PUE and WUE; embodied: the estimator's share of the
accelerators' manufacturing. Method and sources: ``docs/api-impacts.md``.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from typing import Any, cast

from wattlm.errors import ApiImpactWarning, EstimateWarning, UnknownNameError, warn
from wattlm.units import Provenance, Range, j_to_kwh, kg_to_g

__all__ = ["Impacts", "compute_impacts"]


@dataclass(frozen=True)
class Impacts:
    """What one API call cost, each figure a Range with provenance ``estimated``.

    Attributes:
        energy: facility energy (J): the call's share of the accelerators, host and PUE.
        emissions: operational emissions (gCO2e) in the provider's region.
        embodied: the call's share of the accelerators' manufacturing emissions (gCO2e).
        water: on-site cooling water plus the grid's water for that energy (L).
        model: the catalogue model used (``None`` for an unknown model).
        provider: ``openai``, ``anthropic``, ``mistral`` or ``unknown``.
        input_tokens, output_tokens: the tokens the estimate used.
        warnings: why the figures are less certain (``"W621: ..."``), empty when all is known.
    """

    energy: Range
    emissions: Range
    embodied: Range
    water: Range
    model: str | None
    provider: str
    input_tokens: int
    output_tokens: int
    warnings: tuple[str, ...] = ()
    assumptions: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def energy_j(self) -> float:
        """Central facility energy in J."""
        return self.energy.central

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with units in the keys."""
        return {"energy_j": self.energy.to_dict(), "emissions_g": self.emissions.to_dict(),
                "embodied_g": self.embodied.to_dict(), "water_l": self.water.to_dict(),
                "model": self.model, "provider": self.provider,
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "warnings": list(self.warnings), "assumptions": self.assumptions}

    def __str__(self) -> str:
        from wattlm._format import format_quantity, format_range

        energy, emissions, water = (cast(Any, r) for r in (self.energy, self.emissions,
                                                            self.water))
        return (f"{format_range(energy, 'energy_j')}, "
                f"{format_range(emissions, 'mass')} CO2e, "
                f"{format_range(water, 'volume')} water "
                f"({format_quantity(self.output_tokens, 'number')} output tokens)")


def _scaled(value: Range, low: float, high: float) -> Range:
    return Range(value.low * low, value.central, value.high * high, Provenance.ESTIMATED)


@functools.lru_cache(maxsize=512)
def _model(provider: str, name: str) -> tuple[Any, tuple[str, ...]]:
    """(catalogue row or None, warnings) for a model name; cached so warnings come once."""
    from wattlm.catalog.hosted import get_hosted_model

    try:
        row = get_hosted_model(name)
    except UnknownNameError as e:
        text = warn(f"{e}; its impacts use a wide parameter range (3B to 1.76T) - see "
                    "docs/api-impacts.md", ApiImpactWarning, "W621")
        return None, (text,)
    notes: tuple[str, ...] = ()
    if row.provider != provider and provider != "unknown":
        notes = (warn(f"{name!r} is listed for {row.provider}, called through {provider}; "
                      f"the {provider} data-centre assumptions are used", ApiImpactWarning,
                      "W622"),)
    return row, notes


@functools.lru_cache(maxsize=4096)
def compute_impacts(provider: str, name: str, input_tokens: int, output_tokens: int) -> Impacts:
    """The impacts of a call (cached on its arguments; pure apart from the first warning)."""
    from wattlm.carbon.accounting import footprint
    from wattlm.catalog.hosted import UNKNOWN_PARAMS, get_provider
    from wattlm.estimate.inference import estimate_inference  # = wattlm.estimate_inference

    row, notes = _model(provider, name)
    site = get_provider(row.provider if row is not None and provider == "unknown" else provider)
    total = row.params if row is not None else UNKNOWN_PARAMS
    active = row.active_params if row is not None else UNKNOWN_PARAMS
    with warnings.catch_warnings(record=True) as caught:
        # estimator notes belong on the response's impacts, not in the user's log; W802 (shape
        # from the parameter count) always applies to a hosted model and is left out
        warnings.simplefilter("always", EstimateWarning)
        est = estimate_inference(
            params=total.central, active_params=active.central, hardware=site.hardware,
            batch_size=site.batch_size, input_tokens=max(input_tokens, 1),
            output_tokens=max(output_tokens, 1), pue=site.pue, region=site.region)
    notes += tuple(str(w.message) for w in caught if issubclass(w.category, EstimateWarning)
                   and not str(w.message).startswith("W802"))
    low, high = active.low / active.central, active.high / active.central
    energy = _scaled(est.energy_per_request_j, low, high)
    it_kwh = energy.map(j_to_kwh) * (1.0 / site.pue)  # the accounting applies the PUE again
    fp = footprint(it_kwh, region=site.region, pue=site.pue,
                          wue_l_per_kwh=site.wue_l_per_kwh)
    embodied = est.footprint.embodied_kg if est.footprint is not None else Range.exact(0.0)
    return Impacts(
        energy=energy,
        emissions=fp.emissions_kg.map(kg_to_g).with_provenance(Provenance.ESTIMATED),
        embodied=_scaled(embodied, low, high).map(kg_to_g),
        water=fp.water_l.with_provenance(Provenance.ESTIMATED),
        model=row.name if row is not None else None, provider=site.name,
        input_tokens=input_tokens, output_tokens=output_tokens, warnings=notes,
        assumptions={"params": total.to_dict(), "active_params": active.to_dict(),
                     "basis": row.basis if row is not None else "unknown model",
                     "source": row.source if row is not None else "wide default",
                     "region": site.region, "pue": site.pue, "wue_l_per_kwh": site.wue_l_per_kwh,
                     "hardware": site.hardware, "batch_size": site.batch_size,
                     "devices": est.devices.central})
