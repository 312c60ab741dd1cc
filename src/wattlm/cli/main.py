"""``wattlm`` command line: one module per command, errors become one line and exit code 2.

Each command module has ``register(subparsers)``, which adds its parser and sets ``handler``
to a function ``(args) -> int``. Modules import their heavy dependencies inside the handler so
``wattlm --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn, TextIO

from wattlm import __version__
from wattlm.errors import WattlmError, WattlmWarning

# command modules, in the order ``wattlm --help`` lists them
COMMANDS = (
    "run",
    "runs",
    "show",
    "env",
    "config_cmd",
    "regions",
    "estimate",
    "validate",
    "catalog",
    "report",
    "compare",
    "serve_bench",
    "tasks",
    "whatif",
    "dashboard",
)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line: ``wattlm: error: PROG: MESSAGE (see --help)``."""

    def error(self, message: str) -> NoReturn:
        print(f"wattlm: error: {self.prog}: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every command registered."""
    parser = _Parser(
        prog="wattlm",
        description="Measure, estimate, account for and reduce the energy, carbon and water "
        "footprint of LLM training and inference.",
    )
    parser.add_argument("--version", action="version", version=f"wattlm {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"wattlm.cli.{name}").register(sub)
    return parser


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """Print wattlm's warnings as one line (``wattlm: warning: W201: ...``), others as usual."""
    if issubclass(category, WattlmWarning):
        print(f"wattlm: warning: {message}", file=file or sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Returns the exit code (also used by ``python -m wattlm``)."""
    warnings.showwarning = _show_warning
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return int(e.code or 0)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except WattlmError as e:
        if os.environ.get("WATTLM_DEBUG") == "1":
            raise
        from wattlm._secrets import mask_text

        print(f"wattlm: error: {mask_text(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wattlm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def entry() -> None:
    """Console-script entry: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
