import math

import pytest

from wattlm.errors import InvalidInputError
from wattlm.units import Provenance, Range, g_to_kg, j_to_kwh, kg_to_g, kwh_to_j


def test_conversions():
    assert j_to_kwh(3.6e6) == 1.0
    assert kwh_to_j(2.5) == 9.0e6
    assert g_to_kg(1500) == 1.5
    assert kg_to_g(0.25) == 250


def test_range_validates_order_and_finiteness():
    with pytest.raises(InvalidInputError, match="low <= central <= high"):
        Range(2, 1, 3)
    with pytest.raises(InvalidInputError, match="finite"):
        Range(0, math.nan, 1)


def test_range_arithmetic_propagates_bounds_and_weakest_provenance():
    energy = Range(10, 20, 40, Provenance.MEASURED)
    intensity = Range(50, 100, 150, Provenance.ASSUMED)
    product = energy * intensity
    assert (product.low, product.central, product.high) == (500, 2000, 6000)
    assert product.provenance is Provenance.ASSUMED
    total = energy + 5
    assert (total.low, total.central, total.high) == (15, 25, 45)
    assert total.provenance is Provenance.MEASURED
    halved = energy / 2
    assert (halved.low, halved.central, halved.high) == (5, 10, 20)
    ratio = energy / Range(1, 2, 4)
    assert (ratio.low, ratio.central, ratio.high) == (2.5, 10, 40)
    with pytest.raises(InvalidInputError):
        energy / Range(-1, 1, 2)


def test_range_helpers_and_json_round_trip():
    r = Range.around(100, 0.5, 2.0, Provenance.ESTIMATED)
    assert (r.low, r.high, r.spread) == (50, 200, 4)
    assert r.contains(150) and not r.contains(201)
    assert Range.from_dict(r.to_dict()) == r
    assert format(Range(1, 2, 3), ".1f") == "2.0 [1.0–3.0]"


def test_provenance_order():
    assert Provenance.weakest(Provenance.MEASURED, Provenance.MODELLED) is Provenance.MODELLED
    assert Provenance.weakest(None, Provenance.INTEGRATED) is Provenance.INTEGRATED
    assert Provenance.weakest() is None


# --- quantities with units -------------------------------------------------------------------

from wattlm.units import Energy, Mass, Volume  # noqa: E402


def test_quantities_refuse_to_mix_dimensions():
    with pytest.raises(InvalidInputError, match="cannot combine a energy"):
        Energy(1, 2, 3) + Mass(1, 2, 3)
    with pytest.raises(InvalidInputError):
        Mass.of(Energy.exact(5.0))


def test_quantities_keep_their_dimension_through_arithmetic():
    e = Energy(3.6e6, 7.2e6, 1.08e7) + Energy.exact(3.6e6)
    assert type(e) is Energy and e.kwh.central == pytest.approx(3.0)
    scaled = e * 1.5
    assert type(scaled) is Energy and scaled.kwh.low == pytest.approx(3.0)
    ratio = e / Energy.exact(3.6e6)
    assert type(ratio) is Range and ratio.central == pytest.approx(3.0)
    assert type(Mass.exact(2.0) * Energy.exact(3.0)) is Range


def test_views_and_format():
    m = Mass(3.07e8, 3.94e8, 6.83e8)
    assert m.t.central == pytest.approx(394.0) and m.kg.low == pytest.approx(307_000.0)
    assert f"{m}" == "394 t (307–683 t)"
    assert Volume.exact(2500.0).m3.central == pytest.approx(2.5)
    assert Energy.exact(7200.0).wh.central == pytest.approx(2.0)
    assert Energy.exact(1.0).to_dict()["unit"] == "J"


def test_watt_hour_conversions():
    from wattlm.units import wh_to_j, wh_to_kwh

    assert wh_to_j(2.0) == 7200.0  # 2 W for an hour
    assert wh_to_kwh(184_320 * 400.0) == pytest.approx(73_728.0)  # Llama 2 7B: device-hours x W
