"""Hosted LLM API models (``hosted_models.csv``) and their providers (``hosted_providers.csv``).

Parameters are Ranges in parameters (not billions), provenance ``estimated`` for a documented
guess and none for a published figure. A provider's resolved model name
(``gpt-4o-2024-08-06``, ``claude-3-5-sonnet-20241022``, ``openai/gpt-4o`` from LiteLLM) is
matched after dropping date and ``-latest`` suffixes and any ``provider/`` prefix. Sources:
``data/SOURCES.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wattlm._caches import cached
from wattlm.catalog._lookup import NameIndex, aliases, optional_float, read_rows
from wattlm.errors import DataError, UnknownNameError
from wattlm.units import Provenance, Range

__all__ = ["UNKNOWN_PARAMS", "HostedModel", "Provider", "get_hosted_model", "get_provider",
           "list_hosted_models"]

_SUFFIXES = (re.compile(r"[-@]\d{4}-\d{2}-\d{2}$"), re.compile(r"[-@]\d{8}$"),
             re.compile(r"-latest$"), re.compile(r":\w+$"))

#: Parameters given to a model the catalogue does not know: from the smallest published hosted
#: size here (Ministral 3B) to the largest documented guess (GPT-4, 1.76T); central 100B.
UNKNOWN_PARAMS = Range(3e9, 1e11, 1.76e12, Provenance.ASSUMED)


@dataclass(frozen=True)
class HostedModel:
    """A hosted model: total and active parameters as Ranges, where they come from."""

    provider: str
    name: str
    aliases: tuple[str, ...]
    params: Range
    active_params: Range
    basis: str
    source: str


@dataclass(frozen=True)
class Provider:
    """Where a provider's models run: region, PUE, on-site WUE, estimator hardware and batch."""

    name: str
    region: str
    pue: float
    wue_l_per_kwh: float
    hardware: str
    batch_size: int
    source: str


def _range(row: dict[str, str], prefix: str, provenance: Provenance | None) -> Range:
    values = [optional_float(row, f"{prefix}{s}", "hosted_models.csv") for s in
              ("_low", "", "_high")]
    if any(v is None or v <= 0 for v in values):
        raise DataError(f"hosted_models.csv: {row.get('name')!r} needs positive {prefix} "
                        "low, central and high")
    low, central, high = (float(v) * 1e9 for v in values if v is not None)
    return Range(low, central, high, provenance)


def _parse(row: dict[str, str]) -> HostedModel:
    basis = row["basis"].strip()
    if basis not in ("published", "guess"):
        raise DataError(f"hosted_models.csv: {row['name']!r} has basis {basis!r}")
    provenance = Provenance.ESTIMATED if basis == "guess" else None
    return HostedModel(row["provider"].strip(), row["name"].strip(), aliases(row),
                       _range(row, "params_b", provenance), _range(row, "active_b", provenance),
                       basis, row["source"].strip())


@cached
def _index() -> NameIndex[HostedModel]:
    items = [_parse(r) for r in read_rows("hosted_models.csv")]
    return NameIndex(items, lambda m: (m.name, *m.aliases), lambda m: m.name, "hosted model")


@cached
def _providers() -> dict[str, Provider]:
    out = {}
    for row in read_rows("hosted_providers.csv"):
        out[row["provider"]] = Provider(row["provider"], row["region"], float(row["pue"]),
                                        float(row["wue_l_per_kwh"]), row["hardware"],
                                        int(row["batch_size"]), row["source"])
    return out


def _candidates(name: str) -> list[str]:
    found = [name]
    bare = name.rsplit("/", 1)[-1]
    for text in (name, bare):
        for pattern in _SUFFIXES:
            stripped = pattern.sub("", text)
            if stripped != text and stripped not in found:
                found.append(stripped)
    return found


def get_hosted_model(name: str) -> HostedModel:
    """The catalogue row for an API model name (date/``-latest`` suffixes dropped).

    Raises:
        UnknownNameError: not in the catalogue; the message suggests the closest names.
    """
    index = _index()
    first: UnknownNameError | None = None
    for candidate in _candidates(str(name)):
        try:
            return index.get(candidate)
        except UnknownNameError as e:
            first = first or e
    assert first is not None
    raise first


def get_provider(name: str) -> Provider:
    """The provider's row (``openai``, ``anthropic``, ``mistral``); ``unknown`` otherwise."""
    table = _providers()
    return table.get(name, table["unknown"])


def list_hosted_models(query: str | None = None) -> list[HostedModel]:
    """Every hosted model, or those whose name or alias contains ``query``."""
    return _index().search(query)
