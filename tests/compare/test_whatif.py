"""What-if scenarios against hand-computed values."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from wattlm.carbon.intensity import resolve_region, search_regions
from wattlm.carbon.series import IntensitySeries
from wattlm.compare.whatif import Basis, basis_of, hardware_energy_ratio, whatif
from wattlm.errors import InvalidInputError
from wattlm.records import DeviceEnergy, RunRecord
from wattlm.units import Provenance

# 2 kWh of IT energy, PUE 1.2, 400 g/kWh over 2 h: 2 x 1.2 x 400 = 960 g
BASIS = Basis(energy_kwh=2.0, pue=1.2, intensity_g_per_kwh=400.0, duration_s=7200.0,
              region="PL", hardware="A100-80GB", label="run 1")
T0 = 1_699_999_200  # 2023-11-14T22:00Z, a whole hour (Unix seconds)


def test_hours_hardware_and_pue_sorted_by_saving() -> None:
    series = IntensitySeries.from_points(
        [(T0 + 3600 * i, v) for i, v in enumerate([500, 300, 100, 200, 600])])
    result = whatif(BASIS, regions=None, series=series, hardware=["H100-SXM"], pue=1.1)
    rows = {s.kind: s for s in result.scenarios}
    # best 2-hour window: 100 and 200 -> mean 150 -> 2 x 1.2 x 150 = 360 g, saves 600 g
    assert rows["hours"].emissions_g == pytest.approx(360.0)
    assert rows["hours"].saving_g == pytest.approx(600.0)
    # H100-SXM vs A100-80GB: (700 W / 989.4 TF) / (400 W / 312 TF) = 0.55185
    ratio = (700 / 989.4) / (400 / 312)
    assert rows["hardware"].emissions_g == pytest.approx(960.0 * ratio, rel=1e-6)
    # PUE 1.1: 2 x 1.1 x 400 = 880 g, saves 80 g
    assert rows["pue"].emissions_g == pytest.approx(880.0)
    assert [s.kind for s in result.scenarios] == ["hours", "hardware", "pue"]
    assert result.best() is rows["hours"]


def test_best_window_start_time() -> None:
    series = IntensitySeries.from_points(
        [(T0 + 3600 * i, v) for i, v in enumerate([500, 300, 100, 200, 600])])
    scenario = whatif(BASIS, regions=None, series=series).scenarios[0]
    start = datetime.fromtimestamp(T0 + 2 * 3600, tz=timezone.utc)  # the cells 100 and 200
    assert scenario.label == f"start at {start.isoformat(timespec='minutes')}"
    assert scenario.intensity_g_per_kwh == pytest.approx(150.0)


def test_regions_use_the_same_energy_and_pue() -> None:
    result = whatif(BASIS, regions=["FR", "SE", "DE"], top=3)
    expected = {g.code: 2.0 * 1.2 * g.intensity_g_per_kwh for g in
                (resolve_region(c) for c in ("FR", "SE", "DE"))}
    got = {s.label.split("(")[-1].rstrip(")"): s.emissions_g for s in result.scenarios}
    assert got == pytest.approx(expected)
    savings = [s.saving_g for s in result.scenarios]
    assert savings == sorted(savings, reverse=True)


def test_lowest_regions_of_one_provider() -> None:
    result = whatif(BASIS, regions="gcp", top=3)
    assert len(result.scenarios) == 3
    assert all(s.label.endswith(")") and "(gcp:" in s.label for s in result.scenarios)
    every = sorted(g.intensity_g_per_kwh for g in search_regions(None, provider="gcp"))
    assert [s.intensity_g_per_kwh for s in result.scenarios] == pytest.approx(every[:3])


def test_basis_of_a_run_record() -> None:
    record = RunRecord(id=7, project="p", started_at="", duration_s=3600.0, energy_j=7.2e6,
                       devices=[DeviceEnergy("A100-80GB", "gpu", 7.2e6, Provenance.MEASURED)],
                       region="FR", intensity_g_per_kwh=50.0, pue=1.1)
    basis = basis_of(record)
    assert basis.energy_kwh == pytest.approx(2.0)
    assert basis.emissions_g == pytest.approx(2.0 * 1.1 * 50.0)
    assert basis.hardware == "A100-80GB"


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInputError, match="top"):
        whatif(BASIS, top=0)
    with pytest.raises(InvalidInputError, match="pue"):
        whatif(BASIS, pue=0.9)
    with pytest.raises(InvalidInputError, match="regions must be"):
        whatif(BASIS, regions="mars")
    short = IntensitySeries.from_points([(T0, 100.0)])
    with pytest.raises(InvalidInputError, match="shorter than the run"):
        whatif(BASIS, regions=None, series=short)
    no_hw = Basis(1.0, 1.0, 100.0, 10.0, None, None, "x")
    with pytest.raises(InvalidInputError, match="current_hardware"):
        whatif(no_hw, regions=None, hardware=["H100-SXM"])
    assert hardware_energy_ratio("A100-80GB", "A100-80GB") == pytest.approx(1.0)


def test_basis_from_a_json_report_of_an_estimate(tmp_path: Path) -> None:
    import wattlm
    from wattlm.compare.whatif import basis_from_report
    from wattlm.report import render

    est = wattlm.estimate_training(model="llama-2-70b", hardware="A100-80GB", region="FR",
                                   pue=1.1)
    path = tmp_path / "est.json"
    path.write_text(render(est, "json"), encoding="utf-8")
    basis = basis_from_report(str(path))
    # the report's energy is IT energy (before PUE); est.energy_kwh includes PUE 1.1
    assert basis.energy_kwh == pytest.approx(est.energy_kwh.central / 1.1, rel=1e-6)
    assert basis.pue == pytest.approx(1.1)
    assert basis.emissions_g == pytest.approx(est.emissions_kg.central * 1000.0, rel=1e-6)
    assert basis.hardware == "A100-80GB" and basis.region == "FR"
    (path.parent / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not a wattlm JSON report"):
        basis_from_report(str(path.parent / "bad.json"))


def test_default_regions_are_the_runs_provider_at_its_published_pue() -> None:
    from wattlm.carbon.pue import provider_pue

    on_aws = Basis(2.0, 1.14, 400.0, 7200.0, "aws:us-east-1", None, "run 2")
    result = whatif(on_aws, top=3)
    assert len(result.scenarios) == 3
    assert all("(aws:" in s.label for s in result.scenarios)
    assert any("aws" in n for n in result.notes)
    for s in result.scenarios:
        assert s.pue == pytest.approx(provider_pue("aws", s.label.split("aws:")[1].rstrip(")")))


def test_a_local_run_is_offered_cloud_regions_not_countries_and_told_which() -> None:
    """A French job was offered a 0 g/kWh Central African Republic."""
    result = whatif(BASIS, top=5)  # BASIS: region "PL", not a cloud region
    assert all(s.label.split("(")[-1].split(":")[0] in ("aws", "gcp", "azure")
               for s in result.scenarios)
    assert any("aws, gcp, azure" in n for n in result.notes)
    gcp = whatif(BASIS, regions="gcp", top=40)
    # Google's published PUE (fleet 1.10, or the region's own), never 1.0 or the run's 1.2
    assert all(1.05 <= s.pue <= 1.15 for s in gcp.scenarios)
    first = gcp.scenarios[0]
    assert first.emissions_g == pytest.approx(2.0 * first.pue * first.intensity_g_per_kwh)
