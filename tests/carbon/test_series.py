"""User intensity series: validation and the energy-weighted match (worked examples)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattlm.carbon.series import IntensitySeries, load_series
from wattlm.errors import DataError, InvalidInputError

T0 = 1_709_251_200.0  # 2024-03-01T00:00:00Z


def _hourly(values: list[float]) -> IntensitySeries:
    return IntensitySeries.from_points(
        [(f"2024-03-01T{h:02d}:00:00Z", v) for h, v in enumerate(values)])


def test_energy_weighted_not_plain_average() -> None:
    series = _hourly([100, 300])
    timeline = [(T0, 0.0), (T0 + 3600, 3.6e6), (T0 + 7200, 14.4e6)]  # 1 kWh then 3 kWh
    result = series.energy_weighted(timeline, fallback_g_per_kwh=50)
    assert result.intensity_g_per_kwh == pytest.approx(250.0)  # plain average would be 200
    assert result.covered_fraction == pytest.approx(1.0)
    assert result.warnings == []


def test_interval_straddling_two_hours_is_split_by_time() -> None:
    series = _hourly([100, 300])
    # one sampling interval 00:30-01:30 with 1 kWh: half in each hour -> 200
    result = series.energy_weighted([(T0 + 1800, 0.0), (T0 + 5400, 3.6e6)], 50)
    assert result.intensity_g_per_kwh == pytest.approx(200.0)


def test_energy_outside_the_series_uses_the_fallback() -> None:
    series = _hourly([100, 300])
    timeline = [(T0, 0.0), (T0 + 3600, 3.6e6), (T0 + 7200, 14.4e6), (T0 + 10_800, 18e6)]
    result = series.energy_weighted(timeline, fallback_g_per_kwh=44.18, fallback_source="FR")
    assert result.intensity_g_per_kwh == pytest.approx((100 + 900 + 44.18) / 5)
    assert result.covered_fraction == pytest.approx(0.8)
    assert "80%" in result.warnings[0] and "44.2" in result.warnings[0]


def test_no_energy_falls_back_to_time_weighting() -> None:
    series = _hourly([100, 300])
    result = series.energy_weighted([(T0, 5.0), (T0 + 7200, 5.0)], 50)
    assert result.intensity_g_per_kwh == pytest.approx(200.0)


def test_gaps_are_an_error_unless_allowed_then_fallback() -> None:
    points = [("2024-03-01T00:00:00Z", 100), ("2024-03-01T01:00:00Z", 100),
              ("2024-03-01T03:00:00Z", 300)]
    with pytest.raises(DataError, match="gap of 2.00 h"):
        IntensitySeries.from_points(points)
    series = IntensitySeries.from_points(points, allow_gaps=True)
    assert series.value_at(T0 + 2 * 3600 + 10) is None
    timeline = [(T0, 0.0), (T0 + 4 * 3600, 4 * 3.6e6)]  # 1 kWh per hour
    result = series.energy_weighted(timeline, fallback_g_per_kwh=40)
    assert result.intensity_g_per_kwh == pytest.approx((100 + 100 + 40 + 300) / 4)


@pytest.mark.parametrize("points, match", [
    ([("2024-03-01T00:00:00Z", 1), ("2024-03-01T00:00:00+00:00", 2)], "duplicate timestamp"),
    ([("2024-03-01T00:00:00Z", -1)], "must be a finite number >= 0"),
    ([("2024-03-01T00:00:00", 1)], "no time zone"),
    ([("2024-03-01T00:00:00Z", 1), ("2024-03-01T02:00:00+01:00", 2)], "different UTC offsets"),
    ([("2024-03-01T00:00:00Z", 1), ("2024-03-01T02:00:00Z", 2)], "hourly or finer"),
    ([("yesterday", 1)], "cannot read timestamp"),
    ([], "no rows"),
])
def test_bad_series_is_a_precise_data_error(points: list[tuple[str, float]], match: str) -> None:
    with pytest.raises(DataError, match=match):
        IntensitySeries.from_points(points)


def test_bad_timeline_is_invalid_input() -> None:
    series = _hourly([100])
    with pytest.raises(InvalidInputError, match="at least two"):
        series.energy_weighted([(T0, 0.0)], 50)
    with pytest.raises(InvalidInputError, match="must not decrease"):
        series.energy_weighted([(T0, 10.0), (T0 + 60, 5.0)], 50)
    with pytest.raises(InvalidInputError, match="must increase"):
        series.energy_weighted([(T0, 0.0), (T0, 5.0)], 50)


def test_load_series_csv(tmp_path: Path) -> None:
    path = tmp_path / "grid.csv"
    path.write_text("timestamp,g_per_kwh\n2024-03-01T00:30:00Z,120\n2024-03-01T00:00:00Z,80\n"
                    f"{T0 + 3600:.0f},60\n")
    series = load_series(path)
    assert series.step_s == 1800
    assert series.values_g_per_kwh == (80.0, 120.0, 60.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("time,value\n2024-03-01T00:00:00Z,80\n")
    with pytest.raises(DataError, match="header must be 'timestamp,g_per_kwh'"):
        load_series(bad)
    with pytest.raises(DataError, match="intensity series .*missing.csv does not exist"):
        load_series(tmp_path / "missing.csv")
