"""The load generator: Poisson arrivals at a rate, or a fixed number of concurrent requests.

One level runs in three parts, each bounded in time: **ramp-up** (requests start, queues fill;
excluded from the figures), the **steady state** (the measurement window), and the **drain**
(no new requests; in-flight ones finish, or are cancelled after ``drain_timeout_s``; excluded).
``on_window`` is called at the start and the end of the steady state (the tracker's phase).
"""

from __future__ import annotations

import asyncio
import functools
import math
import random
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from wattlm.errors import InvalidInputError
from wattlm.serving.client import RequestResult, send_request

__all__ = ["MAX_INFLIGHT", "Level", "LevelTrace", "parse_levels", "run_level"]

MAX_RATE = 100_000.0
MAX_CONCURRENCY = 10_000
#: in rate mode, arrivals beyond this many requests in flight are skipped (and counted)
MAX_INFLIGHT = 1024


@dataclass(frozen=True)
class Level:
    """A load level: ``kind`` is ``rate`` (requests/s, Poisson) or ``concurrency``."""

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in ("rate", "concurrency"):
            raise InvalidInputError(f"a load level is a rate or a concurrency, not {self.kind!r}")
        limit = MAX_RATE if self.kind == "rate" else MAX_CONCURRENCY
        if isinstance(self.value, bool) or not math.isfinite(self.value) \
                or not 0 < self.value <= limit:
            raise InvalidInputError(f"{self.kind} must be > 0 and at most {limit:,.0f}, "
                                    f"got {self.value!r}")
        if self.kind == "concurrency" and self.value != int(self.value):
            raise InvalidInputError(f"concurrency must be a whole number, got {self.value!r}")

    @property
    def label(self) -> str:
        """``rate 4/s`` or ``concurrency 8``."""
        if self.kind == "rate":
            return f"rate {self.value:g}/s"
        return f"concurrency {int(self.value)}"


def parse_levels(kind: str, text: str, source: str) -> list[Level]:
    """Levels from ``"1,2,4"`` (a sweep) or ``"4"``; ``source`` names the option for errors."""
    levels = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise InvalidInputError(f"{source} takes numbers separated by commas, got "
                                    f"{text!r}") from None
        try:
            levels.append(Level(kind, value))
        except InvalidInputError as e:
            raise InvalidInputError(f"{source}: {e}") from None
    return levels


@dataclass
class LevelTrace:
    """Everything a level did, in ``perf_counter`` seconds."""

    level: Level
    started_s: float
    window_start_s: float = 0.0
    window_end_s: float = 0.0
    drained_s: float = 0.0
    results: list[RequestResult] = field(default_factory=list)
    skipped: int = 0
    cancelled: int = 0
    sent: int = 0

    @property
    def window_s(self) -> float:
        """Length of the steady-state window."""
        return max(self.window_end_s - self.window_start_s, 0.0)


class _Run:
    """State shared by the request tasks of one level."""

    def __init__(self, clients: Sequence[Any], url: str, bodies: Iterator[dict[str, Any]],
                 model: str, trace: LevelTrace, max_requests: int, send_until_s: float) -> None:
        self.clients, self.url, self.bodies, self.model = list(clients), url, bodies, model
        self.trace, self.max_requests, self.send_until_s = trace, max_requests, send_until_s
        self.tasks: set[asyncio.Task[None]] = set()

    def may_send(self) -> bool:
        return self.trace.sent < self.max_requests and time.perf_counter() < self.send_until_s

    async def one(self, client: Any = None) -> None:
        body = next(self.bodies)
        body["model"] = self.model
        self.trace.sent += 1
        if client is None:  # round robin over the clients (each a small connection pool)
            client = self.clients[self.trace.sent % len(self.clients)]
        self.trace.results.append(await send_request(client, self.url, body))

    def spawn(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.get_running_loop().create_task(job())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def worker(self, client: Any) -> None:
        while self.may_send():
            await self.one(client)

    async def poisson(self, rate: float, rng: random.Random, max_inflight: int) -> None:
        next_s = time.perf_counter()
        while self.may_send():
            next_s += rng.expovariate(rate)
            delay = next_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self.may_send():
                break
            if len(self.tasks) >= max_inflight:
                self.trace.skipped += 1  # the server (or this generator) cannot keep up
                continue
            self.spawn(self.one)


async def _window(trace: LevelTrace, ramp_s: float, duration_s: float,
                  on_window: Callable[[str], None]) -> None:
    await asyncio.sleep(max(trace.started_s + ramp_s - time.perf_counter(), 0.0))
    on_window("start")
    trace.window_start_s = time.perf_counter()
    await asyncio.sleep(max(trace.window_start_s + duration_s - time.perf_counter(), 0.0))
    on_window("end")
    trace.window_end_s = time.perf_counter()


async def run_level(
    clients: Sequence[Any], url: str, model: str, bodies: Iterator[dict[str, Any]], level: Level,
    *,
    duration_s: float, ramp_s: float, drain_timeout_s: float, max_requests: int,
    max_inflight: int = MAX_INFLIGHT, seed: int = 0, on_window: Callable[[str], None] | None = None,
) -> LevelTrace:
    """Run one level: ramp-up, ``duration_s`` of steady state, drain (all bounded in time).

    Args:
        clients: ``httpx.AsyncClient`` s sharing the load (httpcore's pool costs grow with the
            square of its connections, so several small pools beat one large one).
        url: the full endpoint URL (``.../v1/chat/completions``).
        model: model name put in every body.
        bodies: request bodies (:meth:`Workload.stream`).
        level: rate or concurrency.
        duration_s: length of the steady-state window.
        ramp_s: seconds of load before the window (excluded).
        drain_timeout_s: how long in-flight requests may run after the window (excluded).
        max_requests: stop sending after this many requests, whatever the time.
        max_inflight: in rate mode, arrivals beyond this many in flight are skipped (counted).
        seed: seed of the Poisson arrivals.
        on_window: called with ``"start"`` and ``"end"`` at the window's edges.
    """
    trace = LevelTrace(level=level, started_s=time.perf_counter())
    if not clients:
        raise InvalidInputError("run_level needs at least one client")
    run = _Run(clients, url, bodies, model, trace, max_requests,
               trace.started_s + ramp_s + duration_s)
    window = asyncio.create_task(_window(trace, ramp_s, duration_s, on_window or (lambda _: None)))
    if level.kind == "concurrency":
        for k in range(int(level.value)):
            run.spawn(functools.partial(run.worker, clients[k % len(clients)]))
    else:
        await run.poisson(level.value, random.Random(seed), max_inflight)
    await window
    pending = set(run.tasks)
    if pending:
        _done, late = await asyncio.wait(pending, timeout=drain_timeout_s)
        for task in late:
            task.cancel()
        trace.cancelled = len(late)
        if late:
            await asyncio.wait(late, timeout=5.0)
    trace.drained_s = time.perf_counter()
    return trace
