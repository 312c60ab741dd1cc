import pytest

from wattlm.errors import InvalidInputError
from wattlm.records import DeviceEnergy, Footprint, PhaseRecord, RunRecord
from wattlm.units import Provenance, Range


def make_footprint():
    return Footprint(
        energy_kwh=Range(9, 10, 11, Provenance.MEASURED),
        emissions_kg=Range(1, 2, 3, Provenance.ASSUMED),
        embodied_kg=Range(0.5, 1, 1.5, Provenance.ESTIMATED),
        water_l=Range(10, 20, 30, Provenance.ASSUMED),
        assumptions={"pue": {"value": 1.1, "source": "test", "provenance": "assumed"}},
    )


def test_sci_per_unit_hand_computed():
    fp = make_footprint()
    # (E*I + M) / R = (2 kg + 1 kg) / 2e6 tokens = 1.5e-3 g per token = 1.5 g per 1000 tokens
    per = fp.per_unit(tokens=2e6)
    assert per["unit"] == "1000 tokens"
    assert per["sci_g"].central == pytest.approx(1.5)
    assert per["sci_g"].low == pytest.approx(0.75)
    assert per["energy_j"].central == pytest.approx(10 * 3.6e6 / 2000)
    assert fp.per_unit(requests=1000)["sci_g"].central == pytest.approx(3.0)
    with pytest.raises(InvalidInputError):
        fp.per_unit(tokens=1, requests=1)
    with pytest.raises(InvalidInputError):
        fp.per_unit(samples=0)


def test_run_record_round_trip_and_interface_names():
    record = RunRecord(
        id=7, project="p", started_at="2026-01-01T00:00:00+00:00", duration_s=10.0,
        energy_j=7.2e6,
        devices=[DeviceEnergy("gpu:0", "gpu", 7.2e6, Provenance.MEASURED, mean_power_w=7.2e5)],
        phases=[PhaseRecord("train", 0.0, 10.0, 7.2e6, {"gpu:0": 7.2e6})],
        region="FR", emissions_g=112.0, footprint=make_footprint(), exit_code=0,
    )
    data = record.to_dict()
    for key in ("id", "project", "started_at", "duration_s", "energy_kwh", "emissions_kg", "region",
                "degraded", "warnings", "phases", "exit_code", "devices"):
        assert key in data
    assert data["energy_kwh"] == 2.0
    assert data["emissions_kg"] == 0.112
    assert data["devices"][0] == {**data["devices"][0], "name": "gpu:0", "kind": "gpu",
                                  "energy_kwh": 2.0, "provenance": "measured"}
    assert RunRecord.from_dict(data).to_dict() == data


def test_a_phase_or_device_has_the_same_names_as_its_run() -> None:
    from wattlm.units import Energy, Mass, Volume

    fp = Footprint(energy=Energy.exact(7.2e6), emissions=Mass.exact(100.0),
                   embodied=Mass.exact(10.0), water=Volume.exact(2.0),
                   assumptions={"pue": {"value": 1.5, "source": "test"}})
    assert fp.facility_energy.central == pytest.approx(1.08e7)  # x PUE 1.5
    record = RunRecord(
        id=7, project="p", started_at="", duration_s=10.0, energy_j=7.2e6,
        devices=[DeviceEnergy("gpu:0", "gpu", 5.4e6, Provenance.MEASURED)],
        phases=[PhaseRecord("train", 0.0, 10.0, 1.8e6)], footprint=fp)
    train = record.part("train")
    assert train is not None
    # a quarter of the run's energy: a quarter of every figure
    assert train.energy.kwh.central == pytest.approx(0.5)
    assert train.facility_energy.kwh.central == pytest.approx(0.75)
    assert train.emissions.g.central == pytest.approx(25.0)
    assert train.embodied.g.central == pytest.approx(2.5)
    assert train.water.l.central == pytest.approx(0.5)
    assert record.part("gpu:0").emissions.central == pytest.approx(75.0)  # type: ignore[union-attr]
    with pytest.raises(InvalidInputError, match="no phase or device 'eval'"):
        record.part("eval")
    with pytest.raises(InvalidInputError, match="cannot combine"):
        _ = fp.energy + fp.emissions  # an energy plus a mass


def test_legacy_footprint_dicts_and_positional_ranges_still_read() -> None:
    old = {"energy_kwh": {"low": 1.0, "central": 2.0, "high": 3.0},
           "emissions_kg": {"low": 0.1, "central": 0.2, "high": 0.3},
           "embodied_kg": {"low": 0.0, "central": 0.0, "high": 0.0},
           "water_l": {"low": 1.0, "central": 1.0, "high": 1.0}, "assumptions": {}}
    fp = Footprint.from_dict(old)
    assert fp.energy.central == pytest.approx(7.2e6) and fp.emissions.central == pytest.approx(200)
    again = Footprint.from_dict(fp.to_dict())
    assert again.emissions.central == fp.emissions.central  # base units: exact round trip
    positional = Footprint(Range.exact(2.0), Range.exact(0.2), Range.exact(0.0),
                           Range.exact(1.0))  # plain Ranges: kWh, kg, kg, L as before
    assert positional.energy_kwh.central == pytest.approx(2.0)
    assert positional.emissions.central == pytest.approx(200.0)
