"""Optional live carbon intensity from the Electricity Maps API (opt-in, short timeout, cached).

Never called unless a token is configured (``electricitymaps_token`` setting or
``WATTLM_ELECTRICITYMAPS_TOKEN``). Responses are cached on disk under
``$XDG_CACHE_HOME/wattlm/electricitymaps/`` (the token is never written). Any failure (network,
timeout, HTTP error, unexpected JSON) falls back to the packaged annual value with warning W203;
it never breaks a run. Cloud regions use their country's zone (no authoritative region-to-zone
mapping exists).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from wattlm._format import format_number
from wattlm.carbon.intensity import GridIntensity
from wattlm.carbon.series import IntensitySeries
from wattlm.errors import AccountingWarning, DataError, WattlmError, warn

__all__ = [
    "DEFAULT_BASE_URL",
    "ElectricityMapsClient",
    "LiveProviderError",
    "default_cache_dir",
    "live_intensity",
    "live_series",
]

DEFAULT_BASE_URL = "https://api.electricitymap.org/v3"
DEFAULT_TIMEOUT_S = 3.0
SOURCE = "Electricity Maps API (live)"


class LiveProviderError(WattlmError):
    """The live intensity provider could not answer (network, HTTP, timeout or bad JSON)."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/wattlm/electricitymaps`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wattlm" / "electricitymaps"


def _intensity(item: Any, what: str) -> float:
    value = item.get("carbonIntensity") if isinstance(item, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or value < 0:
        raise LiveProviderError(f"Electricity Maps {what}: carbonIntensity missing or invalid "
                                f"({value!r})")
    return float(value)


class ElectricityMapsClient:
    """A small client for the Electricity Maps v3 carbon-intensity endpoints.

    Args:
        token: the API token (sent as the ``auth-token`` header).
        base_url: API root; tests point it at a local server.
        timeout_s: per-request timeout in seconds.
        cache_dir: where responses are cached (``None``: :func:`default_cache_dir`).
        cache_ttl_s: how long a cached answer is reused.
        clock: time source (seconds), injectable for tests.
    """

    def __init__(self, token: str, *, base_url: str = DEFAULT_BASE_URL,
                 timeout_s: float = DEFAULT_TIMEOUT_S, cache_dir: Path | None = None,
                 cache_ttl_s: float = 900.0, clock: Callable[[], float] = time.time) -> None:
        if not token:
            raise LiveProviderError("an Electricity Maps token is needed "
                                    "(WATTLM_ELECTRICITYMAPS_TOKEN)")
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.cache_ttl_s = cache_ttl_s
        self._clock = clock

    def _cache_file(self, endpoint: str, zone: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in zone)
        return self.cache_dir / f"{endpoint}-{safe}.json"

    def _cached(self, endpoint: str, zone: str) -> Any | None:
        try:
            data = json.loads(self._cache_file(endpoint, zone).read_text("utf-8"))
            if self._clock() - float(data["fetched_at"]) <= self.cache_ttl_s:
                return data["response"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return None

    def _store(self, endpoint: str, zone: str, response: Any) -> None:
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            self._cache_file(endpoint, zone).write_text(
                json.dumps({"fetched_at": self._clock(), "response": response}), "utf-8")
        except OSError:  # a read-only cache must not break accounting
            pass

    def _get(self, endpoint: str, zone: str) -> Any:
        cached = self._cached(endpoint, zone)
        if cached is not None:
            return cached
        query = urllib.parse.urlencode({"zone": zone})
        request = urllib.request.Request(
            f"{self.base_url}/carbon-intensity/{endpoint}?{query}",
            headers={"auth-token": self._token, "User-Agent": "wattlm"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310
                body = answer.read()
        except urllib.error.HTTPError as e:
            raise LiveProviderError(f"Electricity Maps answered HTTP {e.code} for zone "
                                    f"{zone}") from e
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            raise LiveProviderError(f"Electricity Maps unreachable ({e})") from e
        try:
            response = json.loads(body)
        except ValueError as e:
            raise LiveProviderError("Electricity Maps sent a response that is not JSON") from e
        self._store(endpoint, zone, response)
        return response

    def latest(self, zone: str) -> float:
        """Latest carbon intensity of ``zone`` in gCO2e/kWh.

        Raises:
            LiveProviderError: on any failure.
        """
        return _intensity(self._get("latest", zone), f"latest for {zone}")

    def history(self, zone: str) -> IntensitySeries:
        """Fetch the last 24 hours of hourly intensity of ``zone``.

        Raises:
            LiveProviderError: on any failure.
        """
        response = self._get("history", zone)
        items = response.get("history") if isinstance(response, dict) else None
        if not isinstance(items, list) or not items:
            raise LiveProviderError(f"Electricity Maps history for {zone}: no 'history' list")
        points = []
        for item in items:
            stamp = item.get("datetime") if isinstance(item, dict) else None
            if not isinstance(stamp, str):
                raise LiveProviderError(f"Electricity Maps history for {zone}: entry without "
                                        "datetime")
            points.append((stamp, _intensity(item, f"history for {zone}")))
        try:
            return IntensitySeries.from_points(points, source=f"{SOURCE}, zone {zone}",
                                               allow_gaps=True)
        except DataError as e:
            raise LiveProviderError(f"Electricity Maps history for {zone}: {e}") from e


def _zone(grid: GridIntensity) -> str | None:
    return grid.country_iso2


def live_intensity(grid: GridIntensity, client: ElectricityMapsClient) -> tuple[
        GridIntensity, list[str]]:
    """``grid`` with its intensity replaced by the live value; on failure ``grid`` + a warning.

    Never raises for provider failures.
    """
    zone = _zone(grid)
    if zone is None:
        return grid, [warn(f"no Electricity Maps zone for {grid.code}; using the annual value",
                           AccountingWarning, "W203")]
    try:
        value = client.latest(zone)
    except LiveProviderError as e:
        return grid, [warn(f"{e}; using the annual value "
                           f"{format_number(grid.intensity_g_per_kwh)} g/kWh "
                           f"({grid.source}, {grid.year})",
                           AccountingWarning, "W203")]
    return replace(grid, intensity_g_per_kwh=value, year=None,
                   source=f"{SOURCE}, zone {zone}"), []


def live_series(grid: GridIntensity, client: ElectricityMapsClient) -> tuple[
        IntensitySeries | None, list[str]]:
    """Fetch the last 24 h of ``grid``'s zone as a series (None and a warning on failure)."""
    zone = _zone(grid)
    if zone is None:
        return None, [warn(f"no Electricity Maps zone for {grid.code}; using the annual value",
                           AccountingWarning, "W203")]
    try:
        return client.history(zone), []
    except LiveProviderError as e:
        return None, [warn(f"{e}; using the annual value "
                           f"{format_number(grid.intensity_g_per_kwh)} g/kWh "
                           f"({grid.source}, {grid.year})",
                           AccountingWarning, "W203")]
