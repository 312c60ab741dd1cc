"""Steady-state figures of a level: tokens and requests in the window, latency percentiles, knee.

Only what happened inside the window counts: an output token counts when its chunk arrived in
the window (a request's ``usage`` total is spread over its chunks, so a chunk that carries
several tokens counts for them); a request counts when it completed in the window; latencies
are those of requests that started in the window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wattlm.serving.loadgen import LevelTrace

__all__ = ["KNEE_MIN_DISTANCE", "WindowStats", "knee_index", "percentiles", "window_stats"]


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """``{"p50", "p95", "p99"}`` by linear interpolation between order statistics (None if empty).

    For sorted ``x`` of length ``n``, ``p`` is at rank ``(n - 1) p / 100`` (numpy's default).
    """
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for p in (50, 95, 99):
        if not ordered:
            out[f"p{p}"] = None
            continue
        rank = (len(ordered) - 1) * p / 100.0
        low = math.floor(rank)
        high = min(low + 1, len(ordered) - 1)
        out[f"p{p}"] = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return out


@dataclass(frozen=True)
class WindowStats:
    """Counts and latencies of a level's steady-state window."""

    window_s: float
    output_tokens: float
    input_tokens: float
    requests_completed: int
    requests_started: int
    requests_failed: int
    ttft_s: dict[str, float | None]
    itl_s: dict[str, float | None]
    tpot_s: dict[str, float | None]
    latency_s: dict[str, float | None]
    mean_output_tokens: float | None
    mean_input_tokens: float | None
    mean_concurrency: float
    token_source: str
    errors: tuple[str, ...]

    @property
    def throughput_tokens_per_s(self) -> float:
        """Output tokens per second in the window."""
        return self.output_tokens / self.window_s if self.window_s > 0 else 0.0

    @property
    def throughput_requests_per_s(self) -> float:
        """Completed requests per second in the window."""
        return self.requests_completed / self.window_s if self.window_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items()}


def _tokens_in(times: list[float], total: int, start: float, end: float, done_s: float) -> float:
    """Tokens of one request that arrived in ``[start, end]``."""
    if not times:  # no text chunk (non-streamed answer): every token at completion
        return float(total) if start <= done_s <= end else 0.0
    inside = sum(1 for t in times if start <= t <= end)
    return total * inside / len(times)


def window_stats(trace: LevelTrace) -> WindowStats:
    """Figures of ``trace``'s steady-state window (see the module docstring)."""
    start, end = trace.window_start_s, trace.window_end_s
    ok = [r for r in trace.results if r.ok]
    out_tokens = sum(_tokens_in(r.token_times_s, r.tokens, start, end, r.end_s) for r in ok)
    in_tokens = sum(float(r.input_tokens or 0) for r in ok if start <= r.end_s <= end)
    completed = [r for r in ok if start <= r.end_s <= end]
    started = [r for r in ok if start <= r.start_s <= end]
    ttft = [r.ttft_s for r in started if r.ttft_s is not None]
    itl: list[float] = []
    tpot: list[float] = []
    for r in started:
        gaps = [b - a for a, b in zip(r.token_times_s, r.token_times_s[1:])]
        itl.extend(gaps)
        if r.tokens > 1 and r.token_times_s:
            tpot.append((r.end_s - r.token_times_s[0]) / (r.tokens - 1))
    # mean number in flight over the window (Little's law on the overlap of each request)
    busy = sum(max(min(r.end_s, end) - max(r.start_s, start), 0.0) for r in trace.results)
    window = max(end - start, 0.0)
    failed = [r for r in trace.results if not r.ok]
    with_usage = sum(1 for r in ok if r.output_tokens is not None)
    source = "usage" if ok and with_usage == len(ok) else ("stream chunks" if with_usage == 0
                                                           else "usage and stream chunks")
    return WindowStats(
        window_s=window, output_tokens=out_tokens, input_tokens=in_tokens,
        requests_completed=len(completed), requests_started=len(started),
        requests_failed=len(failed),
        ttft_s=percentiles(ttft), itl_s=percentiles(itl), tpot_s=percentiles(tpot),
        latency_s=percentiles([r.end_s - r.start_s for r in completed]),
        mean_output_tokens=(sum(r.tokens for r in completed) / len(completed)
                            if completed else None),
        mean_input_tokens=(sum(r.input_tokens or 0 for r in completed) / len(completed)
                           if completed and all(r.input_tokens is not None for r in completed)
                           else None),
        mean_concurrency=busy / window if window > 0 else 0.0,
        token_source=source,
        errors=tuple(sorted({r.error or "" for r in failed}))[:5])


#: smallest distance below the chord (in the unit square) that counts as a knee
KNEE_MIN_DISTANCE = 0.1


def knee_index(points: Sequence[tuple[float, float]]) -> int | None:
    """The knee of an energy-per-token vs throughput curve (Kneedle; None under 3 points).

    Points ``(throughput, energy_per_token)`` are sorted by throughput and scaled to the unit
    square; the knee is the point farthest below the straight line joining the first and the
    last (a falling, convex curve's elbow: beyond it more load buys little less energy per
    token), if it lies at least :data:`KNEE_MIN_DISTANCE` below it. A nearly straight curve, or
    one where energy per token rises with throughput, has no knee. Returns the index in
    ``points`` as given.
    """
    usable = [(i, x, y) for i, (x, y) in enumerate(points)
              if math.isfinite(x) and math.isfinite(y)]
    if len(usable) < 3:
        return None
    usable.sort(key=lambda p: p[1])
    xs = [p[1] for p in usable]
    ys = [p[2] for p in usable]
    if ys[-1] >= ys[0]:
        return None  # energy per token does not fall as throughput rises
    x_span = (xs[-1] - xs[0]) or 1.0
    y_span = (max(ys) - min(ys)) or 1.0
    nx = [(x - xs[0]) / x_span for x in xs]
    ny = [(y - min(ys)) / y_span for y in ys]
    (x0, y0), (x1, y1) = (nx[0], ny[0]), (nx[-1], ny[-1])
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    best, best_d = None, KNEE_MIN_DISTANCE
    for k in range(1, len(usable) - 1):
        # signed distance; positive below the chord
        d = ((x1 - x0) * (y0 - ny[k]) - (x0 - nx[k]) * (y1 - y0)) / length
        if d >= best_d:
            best, best_d = k, d
    return usable[best][0] if best is not None else None
