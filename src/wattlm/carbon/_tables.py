"""Load the packaged carbon tables (``carbon/data/*.csv``) lazily, once per process."""

from __future__ import annotations

import csv
import io
from importlib import resources

from wattlm._caches import cached
from wattlm.errors import DataError

__all__ = ["TABLES", "parse_float", "read_table"]

# every packaged table and the columns it must have
TABLES: dict[str, tuple[str, ...]] = {
    "grid_intensity_country.csv": ("iso3", "iso2", "name", "entity_type", "year",
                                   "intensity_g_per_kwh"),
    "grid_intensity_subnational.csv": ("country_iso3", "subdivision", "year",
                                       "intensity_g_per_kwh"),
    "cloud_regions.csv": ("provider", "region", "region_name", "location", "country_iso3",
                          "subdivision"),
    "cloud_pue.csv": ("provider", "region", "pue", "period", "source_kind", "source",
                      "source_url"),
    "water.csv": ("key", "metric", "low_l_per_kwh", "central_l_per_kwh", "high_l_per_kwh",
                  "period", "source_kind", "source", "source_url"),
    "host_embodied.csv": ("server", "accelerators_per_server", "embodied_kg", "source",
                          "source_url"),
    "equivalents.csv": ("key", "label", "unit", "basis", "amount_per_unit", "amount_unit",
                        "period", "source", "source_url"),
}


@cached
def read_table(name: str) -> tuple[dict[str, str], ...]:
    """Rows of the packaged table ``name`` as dicts of strings (empty string: not given).

    Raises:
        DataError: the table is missing, unreadable or lacks a required column.
    """
    if name not in TABLES:
        raise DataError(f"no packaged carbon table named {name!r}; known: {', '.join(TABLES)}")
    try:
        text = resources.files("wattlm.carbon").joinpath("data", name).read_text("utf-8")
    except OSError as e:
        raise DataError(f"cannot read packaged table carbon/data/{name}: {e}") from e
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in TABLES[name] if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"carbon/data/{name} lacks column(s) {', '.join(missing)}")
    return tuple(dict(row) for row in reader)


def parse_float(value: str, table: str, column: str) -> float:
    """Parse a number from a table cell; a :class:`DataError` names the table and column."""
    try:
        return float(value)
    except ValueError as e:
        raise DataError(f"carbon/data/{table}: column {column} has {value!r}, not a number") from e
