"""``wattlm config show``: every setting, its value and where it came from."""

from __future__ import annotations

import argparse
from typing import Any

from wattlm.cli._output import add_format_option, emit, table


def register(sub: Any) -> None:
    """Add the ``config`` command."""
    parser = sub.add_parser("config", help="show the resolved settings and their sources",
                            description="Show every setting, its value and where it came from "
                            "(default < ~/.config/wattlm/config.toml < ./wattlm.toml < WATTLM_* "
                            "environment < arguments).")
    parser.add_argument("action", choices=["show"], nargs="?", default="show")
    add_format_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the settings."""
    from dataclasses import fields

    from wattlm._secrets import MASK, is_secret_name, mask_text
    from wattlm.config import resolve_settings

    settings = resolve_settings()
    rows = []
    for f in fields(settings):
        if f.name == "sources":
            continue
        value = getattr(settings, f.name)
        if f.name == "db" and value is None:
            value = settings.db_path
        if isinstance(value, str) and value:
            value = MASK if is_secret_name(f.name) else mask_text(value)
        rows.append({"name": f.name, "value": value, "source": settings.sources.get(f.name)})
    emit(rows, args.format,
         lambda data: table(["setting", "value", "source"],
                            [[r["name"], r["value"], r["source"]] for r in data]))
    return 0
