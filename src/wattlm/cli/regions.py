"""``wattlm regions [QUERY] [--provider aws|gcp|azure]``: grid carbon intensity, searchable."""

from __future__ import annotations

import argparse
from typing import Any

from wattlm.cli._output import add_format_option, emit, table


def register(subparsers: Any) -> None:
    """Add the ``regions`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "regions", help="search countries and cloud regions: grid carbon intensity, PUE",
        description="List countries, Ember aggregates and cloud regions (aws:, gcp:, azure:) "
        "whose code, name or place contains QUERY, with grid carbon intensity (gCO2e/kWh), "
        "data year, source and the provider's published PUE.")
    parser.add_argument("query", nargs="?", default=None,
                        help="text to search for (e.g. france, us-east, FR); nothing found: exit 2 "
                        "with the closest names")
    parser.add_argument("--provider", default=None,
                        help="only this cloud provider's regions: aws, gcp or azure")
    add_format_option(parser)
    parser.set_defaults(handler=_handle)


def _human(rows: list[dict[str, Any]]) -> str:
    from wattlm._format import format_number

    body = [[r["code"], r["name"], format_number(r["intensity_g_per_kwh"]), r["year"],
             format_number(r["pue"]), r["source"]] for r in rows]
    return table(["code", "name", "gCO2e/kWh", "year", "PUE", "source"], body)


def _no_match(query: str, provider: str | None) -> None:
    """Raise a precise error for a search that found nothing, with "did you mean"."""
    from wattlm.carbon.intensity import resolve_region
    from wattlm.errors import UnknownNameError

    if provider is not None:
        raise UnknownNameError(f"no {provider} region matches {query!r}; run `wattlm regions "
                               f"--provider {provider}` to list them all")
    resolve_region(query)  # raises UnknownNameError with "did you mean"
    raise UnknownNameError(f"no region matches {query!r}; run `wattlm regions` to list them all")


def _handle(args: argparse.Namespace) -> int:
    from wattlm._validate import text
    from wattlm.carbon.intensity import search_regions

    if args.query is not None:  # an empty query would list everything: say so instead
        args.query = text(args.query, "QUERY", origin="argument QUERY")
    found = search_regions(args.query, provider=args.provider)
    if not found and args.query:
        _no_match(args.query, args.provider)
    emit([g.to_dict() for g in found], args.format, _human)
    return 0
