"""Grid carbon intensity of countries, Ember aggregates and cloud regions (packaged, offline).

Countries are found by ISO 3166-1 alpha-2, alpha-3 or name; Ember aggregates by name or code
(``WORLD``, ``EU``, ``G20``); cloud regions as ``provider:region`` (``aws:us-east-1``,
``gcp:europe-west1``, ``azure:westeurope``). The latest year with data is used unless a year is
given. Figures are Ember's lifecycle, production-based annual averages (gCO2e/kWh).

Provenance: a value from the tables is ``estimated`` (an annual grid average standing in for
the electricity actually drawn); the world average used when no region is given is ``assumed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from wattlm._caches import cached
from wattlm.carbon._tables import parse_float, read_table
from wattlm.errors import InvalidInputError, UnknownNameError, did_you_mean
from wattlm.units import Provenance

__all__ = [
    "EMBER_SOURCE",
    "PROVIDERS",
    "GridIntensity",
    "resolve_region",
    "search_regions",
]

EMBER_SOURCE = "Ember Yearly Electricity Data (CC BY 4.0)"
EMBER_STATE_SOURCE = (
    "Ember US/India state data scaled to Ember's national lifecycle basis (CC BY 4.0)"
)
PROVIDERS: dict[str, str] = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure"}
WORLD_CODE = "WORLD"


@dataclass(frozen=True)
class GridIntensity:
    """The carbon intensity of the electricity at a place, with where it came from.

    Attributes:
        code: canonical code: ISO-2 for a country (``"FR"``), ``provider:region`` for a cloud
            region (``"aws:eu-west-3"``), an upper-case code for an aggregate (``"WORLD"``).
        name: display name (``"France"``, ``"AWS Europe (Paris)"``).
        intensity_g_per_kwh: grams CO2e per kWh of electricity.
        year: data year (None when the source gives none).
        source: short citation.
        provenance: ``assumed`` for the default world average, ``estimated`` otherwise.
        provider: ``aws``, ``gcp`` or ``azure`` for cloud regions.
        pue: the provider's published PUE for a cloud region (None elsewhere).
        wue_l_per_kwh: the provider's published on-site WUE, L per kWh of IT energy.
        country_iso2: ISO-2 code of the country whose grid is used.
    """

    code: str
    name: str
    intensity_g_per_kwh: float
    year: int | None
    source: str
    provenance: Provenance
    provider: str | None = None
    pue: float | None = None
    wue_l_per_kwh: float | None = None
    country_iso2: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {
            "code": self.code, "name": self.name,
            "intensity_g_per_kwh": self.intensity_g_per_kwh, "year": self.year,
            "source": self.source, "provenance": self.provenance.value,
            "provider": self.provider, "pue": self.pue, "wue_l_per_kwh": self.wue_l_per_kwh,
            "country_iso2": self.country_iso2,
        }


@dataclass(frozen=True)
class _Entity:
    code: str
    iso2: str
    iso3: str
    name: str
    years: dict[int, float]


@dataclass(frozen=True)
class _CloudRegion:
    provider: str
    region: str
    region_name: str
    location: str
    country_iso3: str
    subdivision: str

    @property
    def code(self) -> str:
        return f"{self.provider}:{self.region}"

    @property
    def display_name(self) -> str:
        label = PROVIDERS[self.provider]
        if self.region_name:
            prefixed = self.region_name.startswith(label)
            return self.region_name if prefixed else f"{label} {self.region_name}"
        where = f" ({self.location})" if self.location else ""
        return f"{label} {self.region}{where}"


@cached
def _entities() -> dict[str, _Entity]:
    """Countries and aggregates, keyed by canonical code."""
    table = "grid_intensity_country.csv"
    out: dict[str, _Entity] = {}
    for row in read_table(table):
        if row["entity_type"] == "aggregate":
            code = row["name"].upper().replace(" ", "_")
        else:
            code = row["iso2"] or row["iso3"]
        entity = out.setdefault(code, _Entity(code, row["iso2"], row["iso3"], row["name"], {}))
        year = int(row["year"])
        entity.years[year] = parse_float(row["intensity_g_per_kwh"], table, "intensity_g_per_kwh")
    return out


@cached
def _entity_aliases() -> dict[str, str]:
    """Lower-cased ISO-2, ISO-3, name and code -> canonical code."""
    aliases: dict[str, str] = {}
    for code, entity in _entities().items():
        for alias in (code, entity.iso2, entity.iso3, entity.name):
            if alias:
                aliases[alias.lower()] = code
    return aliases


@cached
def _iso3_to_code() -> dict[str, str]:
    return {e.iso3: code for code, e in _entities().items() if e.iso3}


@cached
def _states() -> dict[tuple[str, str], dict[int, float]]:
    """(country ISO-3, subdivision) -> {year: g/kWh}, Ember's state series (not lifecycle)."""
    table = "grid_intensity_subnational.csv"
    out: dict[tuple[str, str], dict[int, float]] = {}
    for row in read_table(table):
        key = (row["country_iso3"], row["subdivision"])
        out.setdefault(key, {})[int(row["year"])] = parse_float(
            row["intensity_g_per_kwh"], table, "intensity_g_per_kwh")
    return out


@cached
def _cloud_regions() -> dict[str, _CloudRegion]:
    out: dict[str, _CloudRegion] = {}
    for row in read_table("cloud_regions.csv"):
        region = _CloudRegion(row["provider"], row["region"], row["region_name"],
                              row["location"], row["country_iso3"], row["subdivision"])
        out[region.code] = region
    return out


def _check_provider(provider: str) -> str:
    key = provider.strip().lower()
    if key not in PROVIDERS:
        raise did_you_mean(provider, PROVIDERS, "cloud provider")
    return key


def _year_value(years: dict[int, float], year: int | None, what: str) -> tuple[int, float]:
    if year is None:
        latest = max(years)
        return latest, years[latest]
    if year not in years:
        have = ", ".join(str(y) for y in sorted(years))
        raise InvalidInputError(f"no carbon-intensity data for {what} in {year}; "
                                f"years with data: {have}")
    return year, years[year]


def _country_intensity(code: str, year: int | None) -> GridIntensity:
    entity = _entities()[code]
    used_year, value = _year_value(entity.years, year, entity.name)
    return GridIntensity(
        code=code, name=entity.name, intensity_g_per_kwh=value, year=used_year,
        source=EMBER_SOURCE, provenance=Provenance.ESTIMATED,
        country_iso2=entity.iso2 or None,
    )


def _state_national_total(country_iso3: str) -> dict[int, float]:
    label = {"USA": "US Total", "IND": "India Total"}.get(country_iso3, "")
    return _states().get((country_iso3, label), {})


def _cloud_intensity(region: _CloudRegion, year: int | None) -> GridIntensity:
    from wattlm.carbon.pue import provider_pue
    from wattlm.carbon.water import provider_wue

    code = _iso3_to_code().get(region.country_iso3)
    if code is None:  # pragma: no cover - every packaged region maps to a country (tested)
        raise InvalidInputError(f"cloud region {region.code} has no country grid data")
    country = _entities()[code]
    used_year, value = _year_value(country.years, year, f"{region.code} ({country.name})")
    source = EMBER_SOURCE
    state = _states().get((region.country_iso3, region.subdivision), {})
    total = _state_national_total(region.country_iso3)
    if used_year in state and total.get(used_year):
        # state series is CO2-only; scale it to the national lifecycle basis of the same year
        value = round(state[used_year] * value / total[used_year], 2)
        source = EMBER_STATE_SOURCE
    return GridIntensity(
        code=region.code, name=region.display_name, intensity_g_per_kwh=value,
        year=used_year, source=source, provenance=Provenance.ESTIMATED,
        provider=region.provider, pue=provider_pue(region.provider, region.region),
        wue_l_per_kwh=provider_wue(region.provider), country_iso2=country.iso2 or None,
    )


def _world(year: int | None) -> GridIntensity:
    return _country_intensity(WORLD_CODE, year)


def resolve_region(region: str | None, *, year: int | None = None) -> GridIntensity:
    """Find the grid carbon intensity of a country, aggregate or cloud region.

    Args:
        region: ISO-2 / ISO-3 code or name of a country (``"FR"``, ``"FRA"``, ``"France"``), an
            Ember aggregate (``"WORLD"``, ``"EU"``), or ``provider:region`` (``"aws:us-east-1"``).
            None gives the world average, labelled ``assumed``.
        year: data year; the latest year with data when None.

    Returns:
        The :class:`GridIntensity` found.

    Raises:
        UnknownNameError: unknown region or provider, with "did you mean".
        InvalidInputError: no data for ``year``; the message lists the years that exist.
    """
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        raise InvalidInputError(f"year must be an integer such as 2023, got {year!r}")
    if region is None:
        return replace(_world(year), provenance=Provenance.ASSUMED,
                       source=f"{EMBER_SOURCE}; world average, no region given")
    text = str(region).strip()
    if not text:
        raise InvalidInputError("region is empty; give a country (FR, FRA, France), "
                                "a cloud region (aws:us-east-1) or leave it unset")
    if ":" in text:
        provider, _, name = text.partition(":")
        key = _check_provider(provider)
        code = f"{key}:{name.strip().lower()}"
        regions = _cloud_regions()
        if code not in regions:
            choices = [c for c in regions if c.startswith(f"{key}:")]
            raise did_you_mean(code, choices, f"{PROVIDERS[key]} region")
        return _cloud_intensity(regions[code], year)
    found = _entity_aliases().get(text.lower())
    if found is None:
        bare = [c for c, r in _cloud_regions().items() if r.region.lower() == text.lower()]
        if bare:
            raise UnknownNameError(f"unknown region {text!r}: a cloud region needs its provider "
                                   f"prefix; did you mean {' or '.join(bare)}?")
        choices = sorted({*_entities(), *(e.name for e in _entities().values()),
                          *_cloud_regions()})
        raise did_you_mean(text, choices, "region")
    return _country_intensity(found, year)


def _matches(query: str, codes: Iterable[str], names: Iterable[str]) -> bool:
    """Codes must match exactly, names may contain the query."""
    return any(query == c.lower() for c in codes if c) or any(
        query in n.lower() for n in names if n)


def search_regions(query: str | None = None, *, provider: str | None = None) -> list[GridIntensity]:
    """Countries, aggregates and cloud regions whose code, name or place contains ``query``.

    A country that matches also brings the cloud regions located in it (``"france"`` finds
    ``FR`` and ``aws:eu-west-3``). With ``provider`` only that provider's regions are listed.
    Values are for the latest year.

    Raises:
        UnknownNameError: ``provider`` is not aws, gcp or azure.
    """
    key = _check_provider(provider) if provider is not None else None
    q = (query or "").strip().lower()
    results: list[GridIntensity] = []
    matched_iso3: set[str] = set()
    if key is None:
        for code, entity in _entities().items():
            if not q or _matches(q, (code, entity.iso2, entity.iso3), (entity.name,)):
                results.append(_country_intensity(code, None))
                if entity.iso3:
                    matched_iso3.add(entity.iso3)
    for code, region in _cloud_regions().items():
        if key is not None and region.provider != key:
            continue
        names = (code, region.region_name, region.location, region.subdivision,
                 region.display_name)
        if not q or _matches(q, (region.region,), names) or region.country_iso3 in matched_iso3:
            results.append(_cloud_intensity(region, None))
    return results
