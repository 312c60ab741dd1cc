"""``wattlm dashboard``: a local, read-only web page over the run store (standard library only).

Routes (GET and HEAD; OPTIONS answers 204 with ``Allow``; every other method answers 405):

=================================  ==========================================================
``/``                              runs, newest first; ``?project=P`` filters, ``?limit=N``
``/runs/<id>``                     one run: totals, devices with provenance, phases, footprint,
                                   warnings and an SVG power-over-time chart
``/api/runs``                      the runs as JSON (``project``, ``limit``, ``before=ID`` pages;
                                   a ``Link: <...>; rel="next"`` header names the next page)
``/api/runs/<id>``                 one run record as JSON (``RunRecord.to_dict()``)
``/api/runs/<id>/samples``         its devices and stored cumulative samples as JSON
``/static/dashboard.css``          the style sheet, from the package
=================================  ==========================================================

A malformed id or parameter answers 400, an unknown run or path 404, a store failure 500 (one
line of text, no traceback; the error is logged to the ``wattlm.dashboard`` logger, which
``wattlm dashboard`` sends to stderr). The server listens with a backlog of
:data:`LISTEN_BACKLOG`, serves requests on at most :data:`WORKERS` threads (further
connections wait in the backlog) and closes a connection idle for :data:`CONNECTION_TIMEOUT_S`.
The server binds 127.0.0.1 unless told otherwise
(``allow_remote=True``), and while it is bound to a loopback address it answers only requests
whose ``Host`` names a loopback address, so a web page elsewhere cannot read the store through
DNS rebinding. Pages carry a Content-Security-Policy without scripts: there is no JavaScript.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import socket
import socketserver
import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from wattlm.errors import InvalidInputError, UnknownNameError, WattlmError
from wattlm.store import MAX_RUN_ID, DamagedRunError, Store, open_store

__all__ = ["CONNECTION_TIMEOUT_S", "DEFAULT_HOST", "LISTEN_BACKLOG", "MAX_LIMIT", "WORKERS",
           "DashboardServer", "is_loopback", "make_server"]

_log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
#: the most runs one page or API call lists
MAX_LIMIT = 10_000
#: connections the kernel queues while every worker is busy
LISTEN_BACKLOG = 1024
#: threads that serve requests
WORKERS = 16
#: a connection that sends nothing for this long is closed
CONNECTION_TIMEOUT_S = 10.0
_METHODS = "GET, HEAD, OPTIONS"
_DIGITS = re.compile(r"[0-9]{1,19}")
_DEFAULT_LIMIT = 100
_STATIC = {"dashboard.css": "text/css; charset=utf-8"}
_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_RUN_PATH = re.compile(r"^/(api/)?runs/([^/]*)(/samples)?$")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) names this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class _HTTPError(Exception):
    """An HTTP error answer (status and message) raised inside a route."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DashboardServer(ThreadingHTTPServer):
    """An HTTP server with bounded worker threads that holds an open, read-only store.

    Build one with :func:`make_server`; call ``serve_forever()`` and, when done,
    ``server_close()`` (which also closes the store). ``url`` says where it listens.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], store: Store) -> None:
        self.store = store
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._pool = ThreadPoolExecutor(max_workers=WORKERS,
                                        thread_name_prefix="wattlm-dashboard")
        # at most this many accepted connections wait for a worker; beyond it the accept
        # loop waits and new connections stay in the kernel's backlog
        self._slots = threading.BoundedSemaphore(WORKERS * 4)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a worker thread (bounded), never one thread per request."""
        self._slots.acquire()
        try:
            self._pool.submit(self._serve, request, client_address)
        except RuntimeError:  # the pool is shut down: the server is closing
            self._slots.release()
            self.shutdown_request(request)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one broken connection must not stop the server
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a failed connection (to the ``wattlm.dashboard`` logger, not stdout)."""
        _log.exception("dashboard connection from %s failed", client_address)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup that ``HTTPServer.server_bind`` does."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def loopback_only(self) -> bool:
        """Whether the server listens on a loopback address."""
        return is_loopback(str(self.server_address[0]))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/`` (IPv6 hosts in brackets)."""
        host = str(self.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.server_address[1]}/"

    def server_close(self) -> None:
        """Stop listening, let the workers finish, and close the store."""
        super().server_close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.store.close()


def make_server(db: str | os.PathLike[str] | None = None, *, host: str = DEFAULT_HOST,
                port: int = 0, allow_remote: bool = False) -> DashboardServer:
    """Open the store and bind the dashboard (it serves once ``serve_forever()`` runs).

    Args:
        db: the store (``None``: the configured one, see :func:`wattlm.store.open_store`).
        host: address to bind; anything but a loopback address needs ``allow_remote``.
        port: TCP port; 0 picks a free one (read it from ``server.url``).
        allow_remote: allow a non-loopback ``host`` (anyone who reaches it can read the runs).

    Raises:
        InvalidInputError: bad port, a non-loopback host without ``allow_remote``, or the
            address cannot be bound (port in use, unknown host).
        StoreError: the store cannot be opened.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidInputError(f"port must be a whole number from 0 to 65535 (0 picks a free "
                                f"one), got {port!r}")
    if not host.strip():
        raise InvalidInputError("host must be an address such as 127.0.0.1, got an empty one")
    if not is_loopback(host) and not allow_remote:
        raise InvalidInputError(
            f"the dashboard binds a loopback address (127.0.0.1) unless told otherwise; {host!r} "
            "would let other machines read the runs: pass --host explicitly (allow_remote=True) "
            "to do that on purpose")
    store = open_store(db, read_only=True)
    try:
        return DashboardServer((host.strip().strip("[]"), port), store)
    except OSError as e:
        store.close()
        raise InvalidInputError(
            f"cannot listen on {host} port {port}: {e.strerror or e}; choose another with "
            "--port N (0 picks a free one) or --host") from e


def _whole(text: str, low: int, high: int, what: str) -> int:
    """An ASCII whole number from ``low`` to ``high``, or a 400 answer."""
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise _HTTPError(HTTPStatus.BAD_REQUEST,
                         f"{what} must be a whole number from {low} to {high}, got {text[:40]!r}")
    return int(text)


def _limit(query: dict[str, list[str]]) -> int:
    values = query.get("limit")
    if not values or not values[-1].strip():
        return _DEFAULT_LIMIT
    return _whole(values[-1].strip(), 1, MAX_LIMIT, "limit")


def _before(query: dict[str, list[str]]) -> int | None:
    values = query.get("before")
    if not values or not values[-1].strip():
        return None
    return _whole(values[-1].strip(), 1, MAX_RUN_ID, "before (a run id)")


def _project(query: dict[str, list[str]]) -> str | None:
    values = query.get("project")
    return values[-1] if values and values[-1] != "" else None


def _run_id(text: str) -> int:
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_RUN_ID:
        raise _HTTPError(HTTPStatus.BAD_REQUEST,
                         f"a run id is a whole number from 1 to {MAX_RUN_ID} (see the runs "
                         f"page), got {text[:40]!r}")
    return int(text)


class _Handler(BaseHTTPRequestHandler):
    """Routes one request; read-only."""

    server: DashboardServer
    server_version = "wattlm-dashboard"
    sys_version = ""
    timeout = CONNECTION_TIMEOUT_S  # an idle or slow connection is closed after this

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        _log.debug("%s " + format, self.address_string(), *args)

    # -- methods -------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._answer(send_body=False)

    def do_OPTIONS(self) -> None:  # noqa: N802 - stdlib naming
        self._send(HTTPStatus.NO_CONTENT, "text/plain; charset=utf-8", b"", False,
                   {"Allow": _METHODS})

    def _not_allowed(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                   b"the dashboard is read-only: GET, HEAD and OPTIONS only\n",
                   self.command != "HEAD", {"Allow": _METHODS})

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up do_<METHOD>; any method not defined above (POST,
        # PUT, DELETE, TRACE, made-up ones) is answered 405 instead of the stdlib's 501
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    # -- routing -------------------------------------------------------------------------
    def _answer(self, send_body: bool) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        is_api = path == "/api" or path.startswith("/api/")
        extra: dict[str, str] | None = None
        self._links: dict[str, str] | None = None
        try:
            self._check_host()
            query = parse_qs(parts.query, keep_blank_values=True)
            status, content_type, body = self._route(path, query)
            extra = self._links
        except _HTTPError as e:
            status, content_type, body = self._error(e.status, e.message, is_api)
        except UnknownNameError as e:
            status, content_type, body = self._error(HTTPStatus.NOT_FOUND, str(e), is_api)
        except InvalidInputError as e:
            status, content_type, body = self._error(HTTPStatus.BAD_REQUEST, str(e), is_api)
        except WattlmError as e:
            if not isinstance(e, DamagedRunError):
                _log.error("dashboard request %s failed: %s", self.path[:200], e)
            else:
                _log.warning("dashboard request %s: %s", self.path[:200], e)
            status, content_type, body = self._error(HTTPStatus.INTERNAL_SERVER_ERROR, str(e),
                                                     is_api)
        except Exception:  # noqa: BLE001 - one bad request must not stop the server
            _log.exception("dashboard request %s failed", self.path)
            status, content_type, body = self._error(
                HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (see the server's log)", is_api)
        self._send(status, content_type, body, send_body, extra)

    def _check_host(self) -> None:
        host = self.headers.get("Host")
        if host is None or not self.server.loopback_only:
            return
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not is_loopback(name):
            raise _HTTPError(HTTPStatus.FORBIDDEN,
                          f"this dashboard answers requests for 127.0.0.1 or localhost only, "
                          f"not for host {host!r}")

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[HTTPStatus, str, bytes]:
        from wattlm.dashboard import pages

        store = self.server.store
        if path in ("/", "/runs"):
            limit, project = _limit(query), _project(query)
            records = store.list_summaries(limit=limit, project=project, before=_before(query))
            return self._html(pages.runs_page(records, project=project,
                                              projects=store.projects(),
                                              location=store.location, limit=limit))
        if path == "/api/runs":
            limit, project = _limit(query), _project(query)
            ids: list[int] = []
            documents = store.list_documents(limit=limit, project=project,
                                             before=_before(query), ids=ids)
            if len(documents) == limit:  # a full page: there may be more
                params = {"before": str(ids[-1]), "limit": str(limit),
                          **({"project": project} if project is not None else {})}
                self._links = {"Link": f'</api/runs?{urlencode(params)}>; rel="next"'}
            text = "[" + ",\n".join(documents) + "]\n"
            return HTTPStatus.OK, "application/json", text.encode("utf-8")
        if path.startswith("/static/"):
            return self._static(path[len("/static/"):])
        match = _RUN_PATH.match(path)
        if match is None:
            raise _HTTPError(HTTPStatus.NOT_FOUND, f"no page at {path}")
        api, samples_only = bool(match.group(1)), bool(match.group(3))
        if samples_only and not api:
            raise _HTTPError(HTTPStatus.NOT_FOUND, f"no page at {path}")
        run_id = _run_id(match.group(2))
        if api and samples_only:
            devices, samples = store.samples(run_id)
            return self._json({"run_id": run_id, "devices": [d.to_dict() for d in devices],
                               "samples": [{"time_s": s.time_s, "energy_j": list(s.energy_j)}
                                           for s in samples]})
        record = store.get_run(run_id)
        if api:
            return self._json(record.to_dict())
        devices, samples = store.samples(run_id)
        return self._html(pages.run_page(record, devices, samples))

    # -- bodies --------------------------------------------------------------------------
    @staticmethod
    def _html(text: str, status: HTTPStatus = HTTPStatus.OK) -> tuple[HTTPStatus, str, bytes]:
        return status, "text/html; charset=utf-8", text.encode("utf-8")

    @staticmethod
    def _json(data: Any, status: HTTPStatus = HTTPStatus.OK) -> tuple[HTTPStatus, str, bytes]:
        from wattlm.cli._output import to_jsonable

        text = json.dumps(to_jsonable(data), indent=2, allow_nan=False)
        return status, "application/json", (text + "\n").encode("utf-8")

    @staticmethod
    def _static(name: str) -> tuple[HTTPStatus, str, bytes]:
        if name not in _STATIC:
            raise _HTTPError(HTTPStatus.NOT_FOUND, f"no static file {name!r}")
        data = resources.files("wattlm.dashboard").joinpath("static").joinpath(name).read_bytes()
        return HTTPStatus.OK, _STATIC[name], data

    def _error(self, status: HTTPStatus, message: str,
               is_api: bool) -> tuple[HTTPStatus, str, bytes]:
        if is_api:
            return self._json({"error": status.phrase, "status": int(status),
                               "message": message}, status)
        from wattlm.dashboard.pages import error_page

        return self._html(error_page(int(status), status.phrase, message), status)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, send_body: bool,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

