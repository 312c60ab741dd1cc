"""Every packaged carbon table loads, has its columns, no duplicate keys, and a cited source."""

from __future__ import annotations

from importlib import resources

import pytest

from wattlm.carbon._tables import TABLES, read_table
from wattlm.carbon.intensity import resolve_region, search_regions

KEYS = {
    "grid_intensity_country.csv": ("iso3", "iso2", "name", "year"),
    "grid_intensity_subnational.csv": ("country_iso3", "subdivision", "year"),
    "cloud_regions.csv": ("provider", "region"),
    "cloud_pue.csv": ("provider", "region"),
    "water.csv": ("key", "metric"),
    "host_embodied.csv": ("server",),
    "equivalents.csv": ("key",),
}


def _sources_md() -> str:
    return resources.files("wattlm.carbon").joinpath("data", "SOURCES.md").read_text("utf-8")


def test_every_table_is_listed_with_keys() -> None:
    assert set(KEYS) == set(TABLES)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_loads_without_duplicate_keys(name: str) -> None:
    rows = read_table(name)
    assert len(rows) >= 3
    keys = [tuple(row[k] for k in KEYS[name]) for row in rows]
    duplicates = {k for k in keys if keys.count(k) > 1}
    assert not duplicates


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_has_source_and_licence_in_sources_md(name: str) -> None:
    text = _sources_md()
    section = text.split(f"`{name}`", 1)
    assert len(section) == 2, f"{name} not described in SOURCES.md"
    following = section[1][:3000]
    assert "Licence" in following or "licence" in following
    assert "Source" in following or "source" in following


@pytest.mark.parametrize("name", ["cloud_pue.csv", "water.csv", "host_embodied.csv",
                                  "equivalents.csv"])
def test_every_row_of_fact_tables_names_its_source(name: str) -> None:
    for row in read_table(name):
        assert row["source"].strip()
        assert row["source_url"].startswith("https://")


def test_every_cloud_region_resolves_to_a_country_grid() -> None:
    regions = read_table("cloud_regions.csv")
    assert {r["provider"] for r in regions} == {"aws", "gcp", "azure"}
    for row in regions:
        grid = resolve_region(f"{row['provider']}:{row['region']}")
        assert grid.country_iso2 and grid.intensity_g_per_kwh > 0
        assert grid.pue is not None and 1.0 <= grid.pue < 1.3


def test_search_lists_every_country_and_region() -> None:
    everything = search_regions()
    codes = [g.code for g in everything]
    assert len(codes) == len(set(codes))
    assert len([c for c in codes if ":" in c]) == len(read_table("cloud_regions.csv"))
    assert "WORLD" in codes and "FR" in codes and "NA" in codes  # Namibia is not NaN
