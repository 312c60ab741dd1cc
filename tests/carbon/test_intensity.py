"""Region lookup: countries by ISO-2/ISO-3/name, years, cloud regions, did-you-mean."""

from __future__ import annotations

import pytest

from wattlm.carbon.intensity import resolve_region, search_regions
from wattlm.errors import InvalidInputError, UnknownNameError
from wattlm.units import Provenance


@pytest.mark.parametrize("name", ["FR", "fr", "FRA", "France", " france "])
def test_country_by_iso2_iso3_and_name(name: str) -> None:
    grid = resolve_region(name)
    assert grid.code == "FR"
    assert grid.name == "France"
    assert grid.year == 2024
    assert grid.intensity_g_per_kwh == pytest.approx(44.18)  # Ember 2024, France
    assert grid.provenance is Provenance.ESTIMATED
    assert "Ember" in grid.source and "CC BY 4.0" in grid.source
    assert grid.pue is None and grid.provider is None


def test_given_year() -> None:
    assert resolve_region("FR", year=2022).intensity_g_per_kwh == pytest.approx(78.55)
    assert resolve_region("SE", year=2019).intensity_g_per_kwh == pytest.approx(42.34)


def test_year_without_data_names_the_years_that_exist() -> None:
    with pytest.raises(InvalidInputError, match=r"2031.*2019, 2020, 2021, 2022, 2023, 2024"):
        resolve_region("FR", year=2031)


def test_no_region_is_the_assumed_world_average() -> None:
    grid = resolve_region(None)
    assert grid.code == "WORLD"
    assert grid.intensity_g_per_kwh == pytest.approx(472.99)
    assert grid.provenance is Provenance.ASSUMED
    # asking for the world explicitly is the user's choice, not an assumption
    assert resolve_region("world").provenance is Provenance.ESTIMATED


def test_misspelled_country_gets_did_you_mean() -> None:
    with pytest.raises(UnknownNameError, match="did you mean.*France"):
        resolve_region("Frnace")


def test_unknown_provider_and_region() -> None:
    with pytest.raises(UnknownNameError, match="cloud provider 'awz'.*aws"):
        resolve_region("awz:us-east-1")
    with pytest.raises(UnknownNameError, match="AWS region.*did you mean.*aws:us-east-1"):
        resolve_region("aws:us-east-9")
    with pytest.raises(InvalidInputError):
        resolve_region("  ")


def test_cloud_region_uses_its_country_grid_and_provider_pue() -> None:
    grid = resolve_region("aws:eu-west-3")
    assert grid.name == "AWS Europe (Paris)"
    assert grid.intensity_g_per_kwh == pytest.approx(44.18)
    assert grid.provider == "aws" and grid.pue == pytest.approx(1.14)
    assert grid.wue_l_per_kwh == pytest.approx(0.12)
    assert grid.country_iso2 == "FR"
    assert resolve_region("gcp:europe-west1").pue == pytest.approx(1.09)  # region-level
    assert resolve_region("gcp:europe-west9").pue == pytest.approx(1.10)  # fleet fallback
    azure = resolve_region("azure:westeurope")
    assert azure.country_iso2 == "NL" and azure.pue == pytest.approx(1.18)


def test_us_state_region_is_scaled_to_the_lifecycle_basis() -> None:
    # Virginia 2024 state series 321.47, US Total 345.61, USA lifecycle 383.55
    grid = resolve_region("aws:us-east-1")
    assert grid.intensity_g_per_kwh == pytest.approx(321.47 * 383.55 / 345.61, abs=0.01)
    assert grid.year == 2024
    assert "scaled" in grid.source
    older = resolve_region("aws:us-east-1", year=2023)
    assert older.intensity_g_per_kwh == pytest.approx(302.97 * 392.85 / 353.66, abs=0.01)


def test_search_by_country_brings_its_cloud_regions() -> None:
    codes = [g.code for g in search_regions("france")]
    assert codes[0] == "FR"
    assert {"aws:eu-west-3", "gcp:europe-west9", "azure:francecentral"} <= set(codes)
    assert "ZA" not in codes  # 'fr' in 'South Africa' is not a code match


def test_search_by_provider() -> None:
    found = search_regions(provider="gcp")
    assert found and all(g.provider == "gcp" for g in found)
    codes = {g.code for g in search_regions("us-east", provider="aws")}
    assert codes == {"aws:us-east-1", "aws:us-east-2", "aws:us-gov-east-1"}
    assert resolve_region("aws:us-gov-east-1").name == "AWS GovCloud (US-East)"
    with pytest.raises(UnknownNameError, match="did you mean gcp"):
        search_regions(provider="gpc")
