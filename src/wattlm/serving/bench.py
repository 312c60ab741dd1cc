"""``serve-bench``: energy per token of an OpenAI-compatible server, one measured run per level.

For each load level a :class:`~wattlm.tracking.tracker.Tracker` runs with four phases:
``idle`` (no request: the server's idle power), ``ramp-up``, ``steady`` (the window every
figure comes from) and ``drain``. The tracker measures the whole machine's GPUs and RAPL
domains, and the modelled CPU/memory of a process tree: the server's (``pid``, or the server
wattlm started) or, without one, wattlm's own process (flagged, W601).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wattlm.config import Settings
from wattlm.errors import InvalidInputError, ServingWarning, warn
from wattlm.records import RunRecord
from wattlm.sensors.base import Sensor
from wattlm.serving.client import PATHS, ServerInfo, make_clients, preflight
from wattlm.serving.loadgen import MAX_INFLIGHT, Level, LevelTrace, run_level
from wattlm.serving.metrics import counter_delta, scrape
from wattlm.serving.stats import WindowStats, knee_index, window_stats
from wattlm.serving.workload import Workload
from wattlm.units import Provenance

__all__ = ["BenchConfig", "EXCLUDED", "check_server", "run_bench"]

EXCLUDED = ("ramp-up and drain are excluded: figures come from the steady-state window only "
            "(tokens whose chunks arrived in it, requests that completed in it)")


@dataclass(frozen=True)
class BenchConfig:
    """What to send and for how long (seconds); see ``wattlm serve-bench --help``."""

    url: str
    levels: tuple[Level, ...]
    workload: Workload
    model: str | None = None
    duration_s: float = 30.0
    ramp_s: float | None = None
    drain_timeout_s: float = 30.0
    idle_s: float = 2.0
    max_requests: int = 100_000
    request_timeout_s: float = 300.0
    hardware: str | None = None

    def __post_init__(self) -> None:
        for name in ("duration_s", "drain_timeout_s", "request_timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value <= 86_400):
                raise InvalidInputError(f"{name} must be > 0 s and at most a day, got {value!r}")
        for name in ("ramp_s", "idle_s"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float))
                                          and 0 <= value <= 86_400):
                raise InvalidInputError(f"{name} must be >= 0 s and at most a day, "
                                        f"got {value!r}")
        if not self.levels:
            raise InvalidInputError("give at least one load level (--rate or --concurrency)")
        if not 0 < self.max_requests <= 10_000_000:
            raise InvalidInputError(f"max requests must be > 0, got {self.max_requests!r}")

    @property
    def ramp_up_s(self) -> float:
        """Ramp-up before the window: as given, else 10 % of the window (1 s to 30 s)."""
        return self.ramp_s if self.ramp_s is not None else min(max(0.1 * self.duration_s, 1.0),
                                                               30.0)


def _clients(config: BenchConfig, count: int, connections: int) -> list[Any]:
    return make_clients(count, connections=connections, timeout_s=config.request_timeout_s,
                        https=config.url.strip().lower().startswith("https"))


def check_server(config: BenchConfig) -> ServerInfo:
    """The preflight (reachable, OpenAI-compatible, a model), before any load or measurement."""
    async def go() -> ServerInfo:
        (client,) = _clients(config, 1, 4)
        async with client:
            return await preflight(client, config.url, config.workload.endpoint, config.model)
    return asyncio.run(go())


class _Phases:
    """Moves the tracker from phase to phase at the load generator's window edges."""

    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    def __call__(self, edge: str) -> None:
        self.tracker.end_phase()
        self.tracker.begin_phase("steady" if edge == "start" else "drain")


CONNECTIONS_PER_CLIENT = 8


async def _load(config: BenchConfig, server: ServerInfo, level: Level, tracker: Any,
                seed: int) -> tuple[LevelTrace, dict[str, float] | None]:
    connections = int(level.value) if level.kind == "concurrency" else MAX_INFLIGHT
    shards = max(1, -(-connections // CONNECTIONS_PER_CLIENT))
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(c)
                   for c in _clients(config, shards, CONNECTIONS_PER_CLIENT)]
        before = await scrape(clients[0], server.base_url)
        tracker.begin_phase("ramp-up")
        trace = await run_level(
            clients, server.base_url + PATHS[config.workload.endpoint], server.model,
            config.workload.stream(), level, duration_s=config.duration_s,
            ramp_s=config.ramp_up_s, drain_timeout_s=config.drain_timeout_s,
            max_requests=config.max_requests, seed=seed, on_window=_Phases(tracker))
        tracker.end_phase()
        after = await scrape(clients[0], server.base_url)
    return trace, counter_delta(before, after)


def _phase(record: RunRecord, name: str) -> Any:
    return next((p for p in record.phases if p.name == name), None)


def _level_warnings(trace: LevelTrace, stats: WindowStats, pid: int | None,
                    record: RunRecord) -> list[str]:
    found = []
    label = trace.level.label
    if pid is None and any(d.provenance is Provenance.MODELLED for d in record.devices):
        found.append(warn(f"{label}: the modelled CPU/memory channels follow wattlm's own "
                          "process, not the server's: give --pid PID or --start CMD",
                          ServingWarning, "W601"))
    if stats.output_tokens <= 0:
        found.append(warn(f"{label}: no output token arrived in the steady-state window; "
                          "energy per token is not defined (longer --duration?)",
                          ServingWarning, "W602"))
    if stats.requests_failed:
        found.append(warn(f"{label}: {stats.requests_failed} request(s) failed "
                          f"({'; '.join(stats.errors)[:200]})", ServingWarning, "W604"))
    if trace.skipped:
        found.append(warn(f"{label}: {trace.skipped} arrival(s) skipped with {MAX_INFLIGHT} "
                          "requests in flight: the server cannot keep up with this rate",
                          ServingWarning, "W605"))
    if stats.token_source != "usage":
        found.append(warn(f"{label}: output tokens counted from {stats.token_source} (the "
                          "stream carried no usage): a chunk may hold several tokens",
                          ServingWarning, "W606"))
    if trace.cancelled:
        found.append(warn(f"{label}: {trace.cancelled} request(s) still running after the "
                          f"drain timeout were cancelled", ServingWarning, "W607"))
    return found


def _counter_check(delta: dict[str, float] | None, trace: LevelTrace) -> dict[str, Any]:
    if delta is None:
        return {"available": False, "reason": "the server exposes no known Prometheus token "
                "counter at /metrics (vLLM and TGI do), or prometheus_client is missing"}
    ours = sum(r.tokens for r in trace.results if r.ok)
    theirs = delta.get("output_tokens")
    out: dict[str, Any] = {"available": True, "server": delta, "client_output_tokens": ours}
    if theirs:
        out["relative_difference"] = (ours - theirs) / theirs
    return out


def _per(value: float, count: float) -> float | None:
    return value / count if count > 0 else None


def _summarise(config: BenchConfig, server: ServerInfo, trace: LevelTrace, record: RunRecord,
               delta: dict[str, float] | None, pid: int | None) -> dict[str, Any]:
    stats = window_stats(trace)
    steady, idle = _phase(record, "steady"), _phase(record, "idle")
    energy_j = steady.energy_j if steady else 0.0
    window_s = steady.duration_s if steady else stats.window_s
    idle_power = idle.energy_j / idle.duration_s if idle and idle.duration_s > 0 else None
    warnings = _level_warnings(trace, stats, pid, record)
    check = _counter_check(delta, trace)
    if check.get("relative_difference") is not None and abs(check["relative_difference"]) > 0.05:
        warnings.append(warn(f"{trace.level.label}: output tokens counted by wattlm differ by "
                             f"{check['relative_difference']:+.1%} from the server's counter",
                             ServingWarning, "W603"))
    kinds = {d.name: d for d in record.devices}
    window_devices = steady.device_energy_j if steady else {}
    gpu_j = sum(v for k, v in window_devices.items() if kinds.get(k) and kinds[k].kind == "gpu")
    has_gpu = any(d.kind == "gpu" for d in record.devices)
    net_j = max(energy_j - idle_power * window_s, 0.0) if idle_power is not None else None
    return {
        "level": {"kind": trace.level.kind, "value": trace.level.value},
        "label": trace.level.label,
        "run_id": record.id,
        "url": server.base_url,
        "model": server.model,
        "energy_per_output_token_j": _per(energy_j, stats.output_tokens),
        "energy_per_request_j": _per(energy_j, stats.requests_completed),
        "net_energy_per_output_token_j": (_per(net_j, stats.output_tokens)
                                          if net_j is not None else None),
        "throughput_tokens_per_s": stats.throughput_tokens_per_s,
        "throughput_requests_per_s": stats.throughput_requests_per_s,
        "ttft_s": stats.ttft_s, "itl_s": stats.itl_s, "tpot_s": stats.tpot_s,
        "latency_s": stats.latency_s,
        "power_w": energy_j / window_s if window_s > 0 else None,
        "idle_power_w": idle_power,
        "energy_j": energy_j,
        "gpu_energy_per_output_token_j": _per(gpu_j, stats.output_tokens) if has_gpu else None,
        "provenance": record.provenance.value if record.provenance else None,
        "measured": f"process tree of pid {pid} + whole-machine counters" if pid is not None
        else "whole-machine counters (GPUs, RAPL); modelled channels follow wattlm itself",
        "devices": [{"name": d.name, "kind": d.kind, "model": d.model,
                     "provenance": d.provenance.value,
                     "window_energy_j": window_devices.get(d.name, 0.0)} for d in record.devices],
        "window": {"start_s": trace.window_start_s - trace.started_s, "duration_s": window_s,
                   "ramp_up_s": config.ramp_up_s, "drain_s": trace.drained_s - trace.window_end_s,
                   "idle_s": idle.duration_s if idle else 0.0, "excluded": EXCLUDED},
        "requests": {"sent": trace.sent, "completed_in_window": stats.requests_completed,
                     "started_in_window": stats.requests_started,
                     "failed": stats.requests_failed, "skipped": trace.skipped,
                     "cancelled": trace.cancelled},
        "output_tokens": stats.output_tokens,
        "input_tokens": stats.input_tokens,
        "mean_output_tokens": stats.mean_output_tokens,
        "mean_input_tokens": stats.mean_input_tokens,
        "mean_concurrency": stats.mean_concurrency,
        "token_source": stats.token_source,
        "server_counters": check,
        "is_knee": False,
        "warnings": warnings,
    }


def _measure_level(config: BenchConfig, server: ServerInfo, level: Level, settings: Settings,
                   sensors: Sequence[Sensor] | None, pid: int | None, index: int,
                   ) -> dict[str, Any]:
    from wattlm.tracking.tracker import Tracker

    tracker = Tracker(settings, sensors=sensors, pid=pid, distributed=False,
                      command=["wattlm", "serve-bench", server.base_url, level.label])
    tracker.start()
    try:
        if config.idle_s > 0:
            with tracker.phase("idle"):
                time.sleep(config.idle_s)
        trace, delta = asyncio.run(_load(config, server, level, tracker, seed=index))
    except BaseException:
        tracker.stop(status="failed")
        raise
    record = tracker.stop()
    summary = _summarise(config, server, trace, record, delta, pid)
    _store_summary(settings, record, summary)
    return summary


def _store_summary(settings: Settings, record: RunRecord, summary: dict[str, Any]) -> None:
    """Keep the level's figures with its stored run (``wattlm show`` lists them in extra)."""
    if record.id is None:
        return
    record.extra["serve_bench"] = {k: v for k, v in summary.items() if k != "warnings"}
    record.warnings.extend(w for w in summary["warnings"] if w not in record.warnings)
    try:
        from wattlm.store import open_store

        with open_store(settings.db_path) as store:
            store.finish_run(record)
    except Exception as e:  # noqa: BLE001 - the figures are still printed
        summary["warnings"].append(warn(f"could not store the serve-bench figures with run "
                                        f"{record.id} ({e})", ServingWarning, "W608"))


def run_bench(config: BenchConfig, settings: Settings, *, server: ServerInfo | None = None,
              sensors: Sequence[Sensor] | None = None, pid: int | None = None,
              ) -> list[dict[str, Any]]:
    """Measure every level in turn; one dict per level (the ``--format json`` objects).

    Args:
        config: levels, workload and times.
        settings: resolved settings (store, region, sampling interval).
        server: the preflight's answer (run here when None).
        sensors: channels to read (default: probed on this machine).
        pid: root of the server's process tree (``--pid`` or the started server).
    """
    server = server or check_server(config)
    levels = [_measure_level(config, server, level, settings, sensors, pid, i)
              for i, level in enumerate(config.levels)]
    for level in levels:
        level["estimate"] = _estimate(config, level)
    points = [(lv["throughput_tokens_per_s"], lv["energy_per_output_token_j"]
               if lv["energy_per_output_token_j"] is not None else float("nan"))
              for lv in levels]
    knee = knee_index(points)
    if knee is not None:
        levels[knee]["is_knee"] = True
    return levels


def _estimate(config: BenchConfig, level: dict[str, Any]) -> dict[str, Any]:
    from wattlm.serving.estimate_check import compare_with_estimate

    gpus = [d for d in level["devices"] if d["kind"] == "gpu"]
    return compare_with_estimate(
        model=level["model"], hardware=config.hardware,
        gpu_models=[d.get("model") or d["name"] for d in gpus],
        batch=level["mean_concurrency"], input_tokens=level["mean_input_tokens"],
        output_tokens=level["mean_output_tokens"],
        measured_j_per_token=level["energy_per_output_token_j"],
        measured_gpu_j_per_token=level["gpu_energy_per_output_token_j"])
