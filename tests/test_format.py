"""The one formatter: a table of cases, each hand-written."""

import math

import pytest

from wattlm._format import (
    format_count,
    format_duration,
    format_energy,
    format_mass,
    format_number,
    format_power,
    format_range,
    format_volume,
    significant,
)
from wattlm.units import Range

CASES = [
    (format_energy, 8.19e-07 * 3.6e6, "0.819 mWh"),
    (format_energy, 3600.0, "1.00 Wh"),
    (format_energy, 3.6e6 * 1234, "1.23 MWh"),
    (format_energy, 3.6e6 * 0.5, "500 Wh"),
    (format_energy, 0.0, "0 Wh"),
    (format_energy, 3.6e6 * 999.6, "1.00 MWh"),
    (format_mass, 3.94e8, "394 t"),
    (format_mass, 0.00123, "1.23 mg"),
    (format_mass, 4.2e-7, "0.000420 mg"),
    (format_mass, 1500.0, "1.50 kg"),
    (format_volume, 1e7, "10,000 m³"),
    (format_volume, 0.25, "250 mL"),
    (format_power, 0.5, "500 mW"),
    (format_power, 700.0, "700 W"),
    (format_duration, 4000.0, "1.11 h"),
    (format_duration, 0.0123, "12.3 ms"),
    (format_number, 490864.0, "491,000"),
    (format_number, -3.2, "-3.20"),
    (format_number, None, "–"),
    (format_number, math.nan, "–"),
    (format_count, 2e12, "2.00 trillion"),
    (format_count, 12345, "12,345"),
]


@pytest.mark.parametrize(("func", "value", "expected"), CASES)
def test_format_cases(func, value, expected):
    assert func(value) == expected


def test_range_in_the_unit_of_its_central_value():
    assert format_range(Range(3.07e8, 3.94e8, 6.83e8), "mass") == "394 t (307–683 t)"
    assert format_range(Range(0.5, 1.2, 3000), "mass") == "1.20 g (0.500–3,000 g)"
    assert format_range(Range.exact(3600.0), "energy") == "1.00 Wh"
    assert format_range(None, "energy") == "–"


def test_never_e_notation():
    for value in (1e-9, 1e-3, 1.0, 1e5, 1e12, 1e20, 1e308):
        for func in (format_energy, format_mass, format_volume, format_power, format_number):
            text = func(value)
            assert "e+" not in text and "e-" not in text, text


def test_significant_carries_into_the_next_magnitude():
    assert significant(999.6) == "1,000"
    assert significant(0.9996) == "1.00"
    assert significant(1e308).startswith("100,000,000")


def test_length_flop_and_axis_units() -> None:
    from wattlm._format import format_length, format_quantity, pick_unit

    assert format_length(3.32e-6 * 1000) == "3.32 mm"   # the old "3.32e-06 km"
    assert format_length(12_300.0) == "12.3 km"
    assert format_quantity(3.15e23, "flop") == "315 ZFLOP"
    assert pick_unit(2_500.0, "power") == (1e3, "kW")
    assert pick_unit(0.0, "energy") == (3600.0, "Wh")


def test_numpy_scalars_format_like_floats() -> None:
    np = pytest.importorskip("numpy")
    from wattlm._format import format_number

    assert format_number(np.float64(2.0)) == "2.00"  # matplotlib passes numpy ticks
