"""Prometheus metrics of a running tracker (``pip install 'wattlm[prometheus]'``).

``serve_metrics(tracker)`` exposes, on every scrape, the tracker's cumulative energy per device,
its power since the previous scrape and its operational emissions so far::

    wattlm_energy_joules_total{device="gpu:0",kind="gpu",provenance="measured",project="p"}
    wattlm_power_watts{device="gpu:0",...}
    wattlm_emissions_grams_total{project="p",region="FR"}
    wattlm_run_duration_seconds{project="p"}

Emissions so far are energy x PUE x the grid's annual intensity (the final run record may use an
intensity series instead). A scrape never raises into the training job: a tracker that has
stopped exports nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from wattlm.errors import MissingExtraError
from wattlm.tracking.tracker import Tracker, active_tracker

__all__ = ["TrackerCollector", "serve_metrics"]


def _client() -> Any:
    try:
        import prometheus_client
        import prometheus_client.core  # noqa: F401 - the metric families live here
    except ImportError as e:
        raise MissingExtraError("prometheus-client", "prometheus", "Prometheus metrics") from e
    return prometheus_client


class TrackerCollector:
    """A Prometheus collector that reads ``tracker`` (or the active tracker) at scrape time."""

    def __init__(self, tracker: Tracker | None = None) -> None:
        self._tracker = tracker
        self._lock = threading.Lock()
        self._previous: tuple[float, tuple[float, ...]] | None = None

    def _target(self) -> Tracker | None:
        tracker = self._tracker or active_tracker()
        return tracker if tracker is not None and tracker.running else None

    def describe(self) -> list[Any]:
        """Nothing up front: registering must not read the sensors."""
        return []

    def collect(self) -> Iterator[Any]:
        """Yield the metric families (called by the Prometheus client on each scrape)."""
        core = _client().core
        tracker = self._target()
        if tracker is None:
            return
        try:
            sample = tracker.read()
        except Exception:  # noqa: BLE001 - the run stopped between the check and the read
            return
        project = tracker.settings.project
        names = [s.info for s in tracker.sensors]
        with self._lock:
            previous, self._previous = self._previous, (sample.time_s, sample.energy_j)
        energy = core.CounterMetricFamily(
            "wattlm_energy_joules", "Energy since the run started, per device (J).",
            labels=["device", "kind", "provenance", "project"])
        power = core.GaugeMetricFamily(
            "wattlm_power_watts", "Mean power since the previous scrape, per device (W).",
            labels=["device", "kind", "provenance", "project"])
        for i, info in enumerate(names):
            labels = [info.name, info.kind, info.provenance.value, project]
            energy.add_metric(labels, sample.energy_j[i])
            if previous is not None and sample.time_s > previous[0] and i < len(previous[1]):
                dt = sample.time_s - previous[0]
                power.add_metric(labels, (sample.energy_j[i] - previous[1][i]) / dt)
        yield energy
        yield power
        grid = tracker.grid
        if grid is not None:
            pue = tracker.settings.pue or grid.pue or 1.0
            intensity = tracker.settings.intensity_g_per_kwh or grid.intensity_g_per_kwh
            grams = sum(sample.energy_j) / 3.6e6 * pue * intensity
            emissions = core.CounterMetricFamily(
                "wattlm_emissions_grams", "Operational emissions so far (g CO2e).",
                labels=["project", "region"])
            emissions.add_metric([project, grid.code], grams)
            yield emissions
        duration = core.GaugeMetricFamily("wattlm_run_duration_seconds",
                                          "Seconds since the run started.", labels=["project"])
        duration.add_metric([project], tracker.elapsed_s(sample))
        yield duration


def serve_metrics(tracker: Tracker | None = None, *, port: int = 9464,
                  addr: str = "127.0.0.1", registry: Any = None) -> Any:
    """Serve ``/metrics`` for ``tracker`` (default: whichever tracker is running).

    Returns the registry the collector was added to (a new one unless given), so tests and
    callers can also render it with ``prometheus_client.generate_latest(registry)``.
    """
    client = _client()
    registry = registry if registry is not None else client.CollectorRegistry()
    registry.register(TrackerCollector(tracker))
    if port >= 0:
        client.start_http_server(port, addr=addr, registry=registry)
    return registry
