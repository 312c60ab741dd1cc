"""footprint() and account_run(): hand-computed operational, embodied, water and SCI figures."""

from __future__ import annotations

import sys
import types
import warnings
from dataclasses import dataclass

import pytest

from wattlm.carbon.accounting import account_run, footprint
from wattlm.carbon.series import IntensitySeries
from wattlm.config import resolve_settings
from wattlm.errors import AccountingWarning, InvalidInputError, UnknownNameError
from wattlm.records import DeviceEnergy, RunRecord, Sample
from wattlm.units import Provenance, Range

FR_2024 = 44.18
LIFETIME_4Y_S = 4 * 365.25 * 86_400


@dataclass(frozen=True)
class _FakeHardware:
    name: str
    embodied_kg: float | None
    embodied_low_kg: float | None
    embodied_high_kg: float | None
    embodied_scope: str
    tdp_w: float = 700.0


@pytest.fixture()
def fake_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in for wattlm.catalog.hardware (the system boundary of accounting)."""
    items = {
        "h100-sxm": _FakeHardware("H100-SXM", 164.0, 100.0, 200.0, "board"),
        "a100-80gb": _FakeHardware("A100-80GB", 143.0, 143.0, 318.0,
                                   "board, excl. server; high = per-GPU share of a server"),
        "t4": _FakeHardware("T4", None, None, None, ""),
    }

    def get_hardware(name: str) -> _FakeHardware:
        key = name.lower().replace(" 80gb hbm3", "-sxm")
        if key not in items:
            raise UnknownNameError(f"unknown hardware {name!r}")
        return items[key]

    module = types.ModuleType("wattlm.catalog.hardware")
    module.get_hardware = get_hardware  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "wattlm.catalog.hardware", module)


def test_operational_is_energy_times_pue_times_intensity() -> None:
    fp = footprint(100, region="FR", pue=1.2)
    assert fp.emissions_kg.central == pytest.approx(100 * 1.2 * FR_2024 / 1000)  # 5.3016 kg
    assert fp.energy_kwh.central == 100
    assert fp.assumptions["pue"]["value"] == 1.2
    assert fp.assumptions["pue"]["source"] == "given by the user"
    assert fp.assumptions["intensity"]["year"] == 2024
    assert fp.assumptions["intensity"]["provenance"] == "estimated"
    assert fp.embodied_kg.central == 0
    assert "not counted" in fp.assumptions["embodied"]["source"]


def test_cloud_region_defaults_pue_and_water() -> None:
    fp = footprint(1200, region="aws:eu-west-3", duration_s=86_400)
    assert fp.emissions_kg.central == pytest.approx(1200 * 1.14 * FR_2024 / 1000)  # 60.438 kg
    assert fp.assumptions["pue"]["provenance"] == "estimated"
    # water = E * WUE_site + E * PUE * EWIF: 1200*0.12 + 1200*1.14*{1.25, 2.18, 4.4}
    assert fp.water_l.central == pytest.approx(144 + 2982.24)
    assert fp.water_l.low == pytest.approx(144 + 1710.0)
    assert fp.water_l.high == pytest.approx(144 + 6019.2)
    assert fp.water_l.provenance is Provenance.ASSUMED  # grid water outside the US is a proxy


def test_local_machine_pue_is_assumed_one_and_us_water() -> None:
    fp = footprint(10, region="US")
    assert fp.assumptions["pue"]["value"] == 1.0
    assert fp.assumptions["pue"]["provenance"] == "assumed"
    assert fp.emissions_kg.provenance is Provenance.ASSUMED
    assert fp.emissions_kg.central == pytest.approx(10 * 383.55 / 1000)
    assert fp.water_l.central == pytest.approx(10 * 2.18)  # no on-site water for a local machine
    assert fp.water_l.high == pytest.approx(10 * 1.8 + 10 * 2.18)


def test_user_intensity_and_wue_override() -> None:
    fp = footprint(2, intensity=500, pue=1.5, wue_l_per_kwh=1.0)
    assert fp.emissions_kg.central == pytest.approx(2 * 1.5 * 500 / 1000)
    assert fp.water_l.central == pytest.approx(2 * 1.0 + 2 * 1.5 * 2.18)
    assert fp.assumptions["intensity"]["source"] == "given by the user"
    assert fp.assumptions["warnings"]["value"] == []  # no world-average warning


def test_energy_range_and_provenance_propagate() -> None:
    energy = Range(80, 100, 130, Provenance.ESTIMATED)
    fp = footprint(energy, region="SE", pue=1.1)
    assert fp.emissions_kg.low == pytest.approx(80 * 1.1 * 35.82 / 1000)
    assert fp.emissions_kg.high == pytest.approx(130 * 1.1 * 35.82 / 1000)
    assert fp.emissions_kg.provenance is Provenance.ESTIMATED


def test_world_default_warns_once_and_records_it() -> None:
    with pytest.warns(AccountingWarning, match="W201"):
        first = footprint(1.0)
    assert first.assumptions["intensity"]["provenance"] == "assumed"
    assert first.emissions_kg.central == pytest.approx(472.99 / 1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = footprint(1.0)
    assert not [w for w in caught if "W201" in str(w.message)]
    assert second.assumptions["warnings"]["value"][0].startswith("W201")


@pytest.mark.parametrize("kwargs, match", [
    ({"energy_kwh": -1}, "energy_kwh must be"),
    ({"energy_kwh": float("nan")}, "energy_kwh must be"),
    ({"energy_kwh": Range(-1, 0, 1)}, "energy_kwh must be >= 0"),
    ({"energy_kwh": 1, "region": "FR", "pue": 0.9}, "pue must be"),
    ({"energy_kwh": 1, "intensity": -5}, "intensity must be"),
    ({"energy_kwh": 1, "region": "FR", "duration_s": -3}, "duration_s must be"),
    ({"energy_kwh": 1, "region": "FR", "year": 2031}, "years with data"),
    ({"energy_kwh": 1, "region": "FR", "hardware": "H100-SXM"}, "need the run time"),
    ({"energy_kwh": 1, "region": "FR", "devices": 0}, "devices must be"),
])
def test_bad_input_is_a_precise_error(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        footprint(**kwargs)  # type: ignore[arg-type]


def test_unknown_region_is_did_you_mean() -> None:
    with pytest.raises(UnknownNameError, match="did you mean"):
        footprint(1, region="Swedn")


@pytest.mark.usefixtures("fake_catalogue")
def test_embodied_amortised_with_host_share() -> None:
    fp = footprint(1200, region="aws:eu-west-3", duration_s=86_400, hardware="H100-SXM",
                   devices=8)
    # 8 devices x (164 board + 375 host share) x 1 day / 4 years
    assert fp.embodied_kg.central == pytest.approx(8 * (164 + 375) * 86_400 / LIFETIME_4Y_S)
    # low: (100 + 312.5) over 5 years; high: (200 + 712.5) over 3 years
    assert fp.embodied_kg.low == pytest.approx(8 * 412.5 / (5 * 365.25))
    assert fp.embodied_kg.high == pytest.approx(8 * 912.5 / (3 * 365.25))
    assert fp.embodied_kg.provenance is Provenance.ESTIMATED
    assert fp.assumptions["lifetime"]["value"] == 4.0
    assert fp.assumptions["host_share"]["value"] == pytest.approx(375.0)
    # SCI (ISO/IEC 21031) per 1,000 tokens: (E*I + M) / R
    sci = fp.per_unit(tokens=2e9)["sci_g"]
    total_g = (1200 * 1.14 * FR_2024 / 1000 + fp.embodied_kg.central) * 1000
    assert sci.central == pytest.approx(total_g / 2e6)


@pytest.mark.usefixtures("fake_catalogue")
def test_server_share_bound_widens_the_low_end_and_missing_figure_is_zero() -> None:
    fp = footprint(1, region="FR", duration_s=3600, hardware="A100-80GB", devices=2)
    # per accelerator: low min(143 + 312.5, 318) = 318, central 143 + 375, high 143 + 712.5
    assert fp.embodied_kg.central == pytest.approx(2 * 518 * 3600 / LIFETIME_4Y_S)
    assert fp.embodied_kg.low == pytest.approx(2 * 318 * 3600 / (5 * 365.25 * 86_400))
    assert fp.embodied_kg.high == pytest.approx(2 * 855.5 * 3600 / (3 * 365.25 * 86_400))
    none = footprint(1, region="FR", duration_s=3600, hardware="T4")
    assert none.embodied_kg.central == 0
    assert "no embodied figure" in none.assumptions["embodied"]["source"]


def test_embodied_with_the_real_catalogue() -> None:
    catalogue = pytest.importorskip("wattlm.catalog.hardware")
    item = catalogue.get_hardware("H100-SXM")
    assert item.embodied_kg is not None
    fp = footprint(1200, region="aws:eu-west-3", duration_s=86_400, hardware="H100-SXM",
                   devices=8)
    expected = 8 * (item.embodied_kg + 375) * 86_400 / LIFETIME_4Y_S
    assert fp.embodied_kg.central == pytest.approx(expected)
    assert fp.embodied_kg.low <= fp.embodied_kg.central <= fp.embodied_kg.high


def _series() -> IntensitySeries:
    return IntensitySeries.from_points([("2024-03-01T00:00:00Z", 100.0),
                                        ("2024-03-01T01:00:00Z", 300.0)])


T0 = 1_709_251_200.0  # 2024-03-01T00:00:00Z


def test_energy_weighted_series_in_footprint() -> None:
    # 1 kWh in the 100 g hour, 3 kWh in the 300 g hour: (100 + 900) / 4 = 250 g/kWh
    timeline = [(T0, 0.0), (T0 + 3600, 3.6e6), (T0 + 7200, 14.4e6)]
    fp = footprint(4, region="FR", intensity_series=_series(), energy_timeline=timeline)
    assert fp.emissions_kg.central == pytest.approx(4 * 250 / 1000)
    assert fp.assumptions["intensity_series"]["covered_fraction"] == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="go together"):
        footprint(4, region="FR", intensity_series=_series())


def test_account_run_uses_settings_region_and_pue() -> None:
    record = RunRecord(id=1, project="p", started_at="2024-03-01T00:00:00Z", duration_s=3600,
                       energy_j=7.2e6, region="SE", provenance=Provenance.MEASURED)
    fp = account_run(record, settings=resolve_settings(pue=1.5))
    assert fp.emissions_kg.central == pytest.approx(2 * 1.5 * 35.82 / 1000)
    assert fp.energy_kwh.provenance is Provenance.MEASURED
    assert fp.embodied_kg.central == 0


def test_account_run_matches_gpu_names_for_embodied() -> None:
    gpus = [DeviceEnergy("NVIDIA H100 80GB HBM3", "gpu", 3.6e6, Provenance.MEASURED)
            for _ in range(2)]
    cpu = DeviceEnergy("package-0", "cpu", 0.0, Provenance.MEASURED)
    record = RunRecord(id=1, project="p", started_at="", duration_s=86_400, energy_j=7.2e6,
                       devices=[*gpus, cpu], region="FR", provenance=Provenance.MEASURED)
    samples = [Sample(T0, (0.0, 0.0)), Sample(T0 + 86_400, (3.6e6, 3.6e6))]
    fp = account_run(record, samples, settings=resolve_settings())
    assert fp.assumptions["embodied"]["devices"] == 2
    assert fp.embodied_kg.central == pytest.approx(2 * (273 + 375) * 86_400 / LIFETIME_4Y_S)


def test_measured_gpus_are_matched_by_their_driver_name_for_embodied():
    """A run's GPUs are named gpu:N; their NVML model names find the catalogue part."""
    from wattlm.carbon.accounting import account_run, footprint
    from wattlm.catalog.hardware import match_device
    from wattlm.records import DeviceEnergy, RunRecord
    from wattlm.units import Provenance

    assert match_device("NVIDIA H100 80GB HBM3").name == "H100-SXM"
    assert match_device("NVIDIA A100-SXM4-80GB").name == "A100-80GB"
    assert match_device("Quantum Flux 9000") is None
    gpus = [DeviceEnergy(f"gpu:{i}", "gpu", 1.8e6, Provenance.MEASURED,
                         model="NVIDIA H100 80GB HBM3") for i in range(2)]
    record = RunRecord(id=None, project="p", started_at="", duration_s=3600.0, energy_j=3.6e6,
                       devices=gpus, region="FR")
    got = account_run(record)
    expected = footprint(1.0, region="FR", duration_s=3600.0, hardware="H100-SXM", devices=2)
    assert got.embodied_kg.central == pytest.approx(expected.embodied_kg.central)
    assert got.embodied_kg.central > 0
