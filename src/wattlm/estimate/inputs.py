"""Input checks shared by the estimators, through the one validation layer (``_validate``).

Every check runs before any work or warning, so a bad value is one clear line: what was wrong,
what would be right (the documented bound of :data:`wattlm._validate.BOUNDS`). NaN, infinity,
booleans, huge integers and fractional counts are rejected.
"""

from __future__ import annotations

from typing import Any

from wattlm import _validate
from wattlm.errors import EstimateWarning, InvalidInputError, warn

__all__ = [
    "check_context",
    "check_grid",
    "check_name",
    "count",
    "note_overrides",
    "positive",
]


def positive(value: Any, name: str, *, unit: str = "", low: float | None = None,
             ) -> float | None:
    """``None``, or a finite number > 0 (>= ``low``) within the documented bound of ``name``."""
    if value is None:
        return None
    if low is not None:
        return _validate.bounded(value, name, low=low, unit=unit)
    return _validate.positive(value, name, unit=unit)


def count(value: Any, name: str) -> int | None:
    """``None``, or a whole number >= 1 within the documented bound of ``name``."""
    if value is None:
        return None
    return _validate.count(value, name, low=1)


def check_name(value: Any, name: str) -> str | None:
    """``None``, or a catalogue name / region: one printable line (looked up later)."""
    if value is None:
        return None
    return _validate.text(value, name, max_length=200)


def check_grid(pue: Any, intensity: Any, region: Any) -> tuple[float | None, float | None]:
    """The facility and grid inputs: PUE in [1, 3], intensity in [0, 2,000] g/kWh, a region.

    Raises:
        InvalidInputError: a value out of its bounds.
        UnknownNameError: an unknown region (with "did you mean").
    """
    checked_pue = None if pue is None else _validate.pue(pue)
    checked_intensity = None if intensity is None else _validate.bounded(
        intensity, "intensity_g_per_kwh", low=0.0, unit="gCO2e/kWh")
    if check_name(region, "region") is not None:
        from wattlm.carbon.intensity import resolve_region

        resolve_region(region)  # an unknown region fails here, before any work or warning
    return checked_pue, checked_intensity


def check_context(tokens: float, context_length: int | None, model: str | None,
                  what: str) -> None:
    """Tokens of one sequence must fit the model's context (when the catalogue knows it).

    Raises:
        InvalidInputError: ``tokens`` exceed ``context_length``.
    """
    if context_length and tokens > context_length:
        raise InvalidInputError(
            f"{what} = {int(tokens):,} tokens exceed the {context_length:,}-token context of "
            f"{model or 'the model'}; shorten them or pick a model with a longer context")


def note_overrides(model: Any, given: dict[str, float | None]) -> None:
    """One note (W900) when a given figure replaces a catalogue model's own.

    ``given`` maps a :class:`~wattlm.catalog.models.Model` attribute (``params``,
    ``active_params``, ``training_tokens``) to the value given; values within 1 % of the
    catalogue's are not worth a note.
    """
    from wattlm._format import format_count

    labels = {"params": "params", "active_params": "active_params",
              "training_tokens": "tokens"}
    changed = []
    for attribute, value in given.items():
        own = getattr(model, attribute, None)
        if value is None or not own or abs(value - own) <= 0.01 * own:
            continue
        changed.append(f"{labels[attribute]} {format_count(value)} replaces "
                       f"{format_count(own)}")
    if changed:
        warn(f"{'; '.join(changed)} of {model.name} (catalogue); the model's other figures are "
             "kept", EstimateWarning, "W900")
