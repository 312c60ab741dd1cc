"""Everyday equivalents, hand-computed from the cited factors."""

from __future__ import annotations

import pytest

from wattlm.carbon.equivalents import equivalents
from wattlm.errors import InvalidInputError


def test_equivalents_hand_computed() -> None:
    found = {e.key: e for e in equivalents(emissions_kg=10.0, energy_kwh=100.0)}
    # EPA: 3.93e-4 t CO2e/mile -> 393 g / 1.609344 km = 244.2 g/km
    assert found["car_km"].value == pytest.approx(10_000 / 244.2)
    assert found["car_km"].unit == "km"
    # EPA: 1.24e-5 t CO2 per smartphone charge = 12.4 g
    assert found["smartphone_charges"].value == pytest.approx(10_000 / 12.4)
    # EIA: 10,791 kWh per home per year / 365 = 29.564 kWh per day
    assert found["household_days"].value == pytest.approx(100 / 29.564)
    assert all("http" in e.source for e in found.values())
    assert "km of driving" in str(found["car_km"])
    assert str(found["smartphone_charges"]) == "806 smartphone charges"
    assert str(found["household_days"]).startswith("3.38 days of electricity")


def test_epa_factor_matches_its_published_derivation() -> None:
    per_km = {e.key: e for e in equivalents(1.0, 0.0)}["car_km"]
    assert 1000 / per_km.value == pytest.approx(393 / 1.609344, rel=1e-3)


@pytest.mark.parametrize("emissions, energy", [(-1.0, 1.0), (1.0, float("nan"))])
def test_bad_input(emissions: float, energy: float) -> None:
    with pytest.raises(InvalidInputError):
        equivalents(emissions, energy)
