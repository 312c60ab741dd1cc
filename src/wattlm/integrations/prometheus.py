"""Prometheus metrics of a running tracker (``pip install 'wattlm[prometheus]'``).

``serve_metrics(tracker)`` exposes, on every scrape, the tracker's cumulative energy per device,
its recent power and its operational emissions so far::

    wattlm_energy_joules_total{device="gpu:0",kind="gpu",provenance="measured",project="p",
                               rank="0",host="node-1"}
    wattlm_power_watts{device="gpu:0",...}
    wattlm_emissions_grams_total{project="p",region="FR",rank="0",host="node-1"}
    wattlm_run_duration_seconds{project="p",rank="0",host="node-1"}

Emissions so far come from the run's :class:`~wattlm.carbon.accounting.Accountant` (the same
intensity and PUE as the stored run, 0 g/kWh included). Power is the mean over the trailing
``window_s`` seconds (at least one sampling interval), from readings the collector keeps, so it
is the same whichever scraper asks and however often. A scrape never raises into the training
job: a tracker that has stopped exports nothing.

``serve_metrics`` returns a :class:`MetricsServer` whose ``stop()`` closes the port. Two runs of
one process share the port; a port another process holds (a second rank on the node) becomes
warning W460 and the run goes on without an endpoint. With ``LOCAL_RANK`` set, each local rank
serves on ``port + LOCAL_RANK``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

from wattlm.errors import InvalidInputError, MeasurementWarning, MissingExtraError, warn
from wattlm.tracking.tracker import Tracker, active_tracker

__all__ = ["MetricsServer", "TrackerCollector", "serve_metrics"]

DEFAULT_WINDOW_S = 10.0


def _client() -> Any:
    try:
        import prometheus_client
        import prometheus_client.core  # noqa: F401 - the metric families live here
    except ImportError as e:
        raise MissingExtraError("prometheus-client", "prometheus", "Prometheus metrics") from e
    return prometheus_client


def _rank() -> str:
    return os.environ.get("RANK", "").strip() or "0"


class TrackerCollector:
    """A Prometheus collector that reads ``tracker`` (or the active tracker) at scrape time.

    Args:
        tracker: the tracker to read; None follows whichever tracker is running.
        window_s: power is the mean over at least this many trailing seconds (and at least
            one sampling interval).
    """

    def __init__(self, tracker: Tracker | None = None, *,
                 window_s: float = DEFAULT_WINDOW_S) -> None:
        if not window_s > 0:
            raise InvalidInputError(f"window_s must be > 0 seconds, got {window_s!r}")
        self._tracker = tracker
        self._window_s = float(window_s)
        self._lock = threading.Lock()
        self._history: deque[tuple[float, tuple[float, ...]]] = deque(maxlen=256)
        self._accountant: tuple[int, Any] | None = None
        self._host = socket.gethostname()

    def _target(self) -> Tracker | None:
        tracker = self._tracker or active_tracker()
        return tracker if tracker is not None and tracker.running else None

    def describe(self) -> list[Any]:
        """Nothing up front: registering must not read the sensors."""
        return []

    def _accountant_of(self, tracker: Tracker) -> Any:
        """The tracker's accountant, resolved once per tracker."""
        if self._accountant is None or self._accountant[0] != id(tracker):
            from wattlm.carbon.accounting import Accountant

            region = tracker.grid.code if tracker.grid is not None else None
            self._accountant = (id(tracker), Accountant.from_settings(
                tracker.settings, region=region if tracker.settings.region else None))
            self._history.clear()
        return self._accountant[1]

    def _power(self, tracker: Tracker, sample: Any) -> list[float] | None:
        """Mean power per device over the trailing window, from the kept readings."""
        now_s, energy_j = sample.time_s, sample.energy_j
        window = max(self._window_s, float(tracker.settings.interval_s))
        start_s = now_s - tracker.elapsed_s(sample)
        with self._lock:
            history = list(self._history)
            if not history or now_s - history[-1][0] >= 0.5 * tracker.settings.interval_s:
                self._history.append((now_s, energy_j))
        reference = (start_s, (0.0,) * len(energy_j))  # counters start at 0 with the run
        for point in history:
            if point[0] <= now_s - window:
                reference = point
        dt = now_s - reference[0]
        if dt <= 0 or len(reference[1]) != len(energy_j):
            return None
        return [(e - r) / dt for e, r in zip(energy_j, reference[1], strict=True)]

    def collect(self) -> Iterator[Any]:
        """Yield the metric families (called by the Prometheus client on each scrape)."""
        core = _client().core
        tracker = self._target()
        if tracker is None:
            return
        try:
            sample = tracker.read()
            accountant = self._accountant_of(tracker)
        except Exception:  # noqa: BLE001 - the run stopped between the check and the read
            return
        project, rank = tracker.settings.project, _rank()
        names = [s.info for s in tracker.sensors]
        device_labels = ["device", "kind", "provenance", "project", "rank", "host"]
        energy = core.CounterMetricFamily(
            "wattlm_energy_joules", "Energy since the run started, per device (J).",
            labels=device_labels)
        power = core.GaugeMetricFamily(
            "wattlm_power_watts", "Mean power over the trailing window, per device (W).",
            labels=device_labels)
        powers = self._power(tracker, sample)
        for i, info in enumerate(names):
            labels = [info.name, info.kind, info.provenance.value, project, rank, self._host]
            energy.add_metric(labels, sample.energy_j[i])
            if powers is not None and i < len(powers):
                power.add_metric(labels, powers[i])
        yield energy
        yield power
        run_labels = [project, rank, self._host]
        total_j = float(sum(sample.energy_j))
        start_s = sample.time_s - tracker.elapsed_s(sample)
        emissions = core.CounterMetricFamily(
            "wattlm_emissions_grams", "Operational emissions so far (g CO2e).",
            labels=["project", "region", *["rank", "host"]])
        emissions.add_metric([project, accountant.region or "-", rank, self._host],
                             accountant.emissions_so_far_g(total_j, start_s, sample.time_s))
        yield emissions
        duration = core.GaugeMetricFamily(
            "wattlm_run_duration_seconds", "Seconds since the run started.",
            labels=["project", "rank", "host"])
        duration.add_metric(run_labels, tracker.elapsed_s(sample))
        yield duration


class _Fanout:
    """The collector a shared port serves: every live collector of this process, in turn."""

    def __init__(self) -> None:
        self.collectors: list[TrackerCollector] = []

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        seen: set[int] = set()
        for collector in list(self.collectors):
            tracker = collector._target()
            if tracker is None or id(tracker) in seen:
                continue  # two handles on one run: export it once
            seen.add(id(tracker))
            yield from collector.collect()


_servers: dict[tuple[str, int], tuple[Any, _Fanout]] = {}
_servers_lock = threading.Lock()


class MetricsServer:
    """What :func:`serve_metrics` started: the registry, the port, and ``stop()``.

    Attributes:
        registry: the registry the collector was added to (render it with
            ``prometheus_client.generate_latest(server.registry)``).
        port: the port served, or None (no endpoint: ``port=-1``, or the port was busy).
        collector: the :class:`TrackerCollector`.
    """

    def __init__(self, registry: Any, collector: TrackerCollector, port: int | None,
                 key: tuple[str, int] | None) -> None:
        self.registry = registry
        self.collector = collector
        self.port = port
        self._key = key

    def stop(self) -> None:
        """Stop exporting this run; the port closes when no other run of the process uses it."""
        with contextlib.suppress(KeyError):
            self.registry.unregister(self.collector)
        key, self._key = self._key, None
        if key is None:
            return
        with _servers_lock:
            entry = _servers.get(key)
            if entry is None:
                return
            server, fanout = entry
            if self.collector in fanout.collectors:
                fanout.collectors.remove(self.collector)
            if not fanout.collectors:
                del _servers[key]
                server.shutdown()
                server.server_close()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_port(port: Any) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not -1 <= port <= 65535:
        raise InvalidInputError(f"port must be an integer 0-65535 (or -1 for no endpoint), "
                                f"got {port!r}")
    return port


def _bind(client: Any, addr: str, port: int, collector: TrackerCollector) -> tuple[
        int | None, tuple[str, int] | None]:
    """Serve ``collector`` on ``addr:port`` (shared within the process); busy: W460."""
    key = (addr, port)
    with _servers_lock:
        entry = _servers.get(key)
        if entry is None:
            fanout = _Fanout()
            registry = client.CollectorRegistry(auto_describe=False)
            registry.register(fanout)
            try:
                server, _thread = client.start_wsgi_server(port, addr=addr, registry=registry)
            except OSError as e:
                warn(f"Prometheus metrics not served: {addr}:{port} is in use or cannot be "
                     f"bound ({e.strerror or e}); the run goes on (give another --metrics-port, "
                     "or one per rank)", MeasurementWarning, "W460")
                return None, None
            entry = (server, fanout)
            _servers[key] = entry
        entry[1].collectors.append(collector)
        return int(entry[0].server_port), key


def serve_metrics(tracker: Tracker | None = None, *, port: int = 9464,
                  addr: str = "127.0.0.1", registry: Any = None,
                  window_s: float = DEFAULT_WINDOW_S) -> MetricsServer:
    """Serve ``/metrics`` for ``tracker`` (default: whichever tracker is running).

    Args:
        tracker: the run to export; None follows the active tracker.
        port: TCP port (``port + LOCAL_RANK`` in a multi-process job); 0 picks a free one; -1
            serves nothing (render ``server.registry`` yourself).
        addr: address to bind (default 127.0.0.1).
        registry: a registry to add the collector to (a new one unless given).
        window_s: trailing window of the power gauge, seconds.

    Returns:
        A :class:`MetricsServer`; call ``stop()`` (or use it in ``with``) to close the port.

    Raises:
        InvalidInputError: a port outside 0-65535 (-1 allowed), a window <= 0.
        MissingExtraError: ``prometheus-client`` is not installed.
    """
    client = _client()
    port = _check_port(port)
    collector = TrackerCollector(tracker, window_s=window_s)
    registry = registry if registry is not None else client.CollectorRegistry()
    registry.register(collector)
    served: int | None = None
    key: tuple[str, int] | None = None
    if port >= 0:
        local_rank = os.environ.get("LOCAL_RANK", "").strip()
        if local_rank.isdigit() and port > 0:
            port = min(port + int(local_rank), 65535)
        served, key = _bind(client, addr, port, collector)
    return MetricsServer(registry, collector, served, key)
