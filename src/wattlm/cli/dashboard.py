"""``wattlm dashboard``: serve a local, read-only web page over the run store until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wattlm.cli.runs import add_db_option


def register(subparsers: Any) -> None:
    """Add the ``dashboard`` command."""
    parser = subparsers.add_parser(
        "dashboard", help="local web page over the store (binds 127.0.0.1)",
        description="Serve a read-only web page over the run store: the runs (newest first, "
        "filter by project), each run with its totals, devices and provenance, phases, "
        "footprint, warnings and a power-over-time chart, and JSON at /api/runs. It binds "
        "127.0.0.1 unless --host says otherwise; no JavaScript, no network. Ctrl-C stops it.")
    parser.add_argument("--host", default=None, metavar="ADDR",
                        help="address to bind (default 127.0.0.1; any other address lets other "
                        "machines read your runs)")
    parser.add_argument("--port", type=int, default=8177, metavar="N",
                        help="TCP port (default 8177; 0 picks a free one)")
    add_db_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Check everything and bind, then warn about a remote host, print the URL and serve.

    Errors of requests are logged to stderr (``wattlm dashboard: error: ...``), which is
    "the server's log" that a 500 page points to.
    """
    import logging

    from wattlm._validate import text
    from wattlm.config import resolve_settings
    from wattlm.dashboard.server import DEFAULT_HOST, is_loopback, make_server

    host = DEFAULT_HOST if args.host is None else text(args.host, "host",
                                                       origin="argument --host")
    server = make_server(resolve_settings(db=args.db).db_path, host=host, port=args.port,
                         allow_remote=args.host is not None)  # bad host, port or store: exit 2
    if not is_loopback(host):
        print(f"wattlm: warning: the dashboard listens on {host}: anyone who can reach this "
              "machine on that address can read your runs", file=sys.stderr)
    log = logging.getLogger("wattlm.dashboard")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("wattlm dashboard: %(levelname)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    log.addHandler(handler)
    if log.getEffectiveLevel() > logging.WARNING:
        log.setLevel(logging.WARNING)
    try:
        print(f"wattlm dashboard at {server.url} (store {server.store.location}); "
              "Ctrl-C stops it", flush=True)
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.removeHandler(handler)
    print("wattlm dashboard stopped", file=sys.stderr)
    return 0
