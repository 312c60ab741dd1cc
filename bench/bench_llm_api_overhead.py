"""Time wattlm's instrumentation adds to a hosted-API call (goal: <= 1 ms per call).

1. Direct cost: the real ``openai`` ``ChatCompletion`` objects, each with its own token counts
   (so the estimate is never served from the cache), passed through the wrapper that
   ``instrument()`` puts around ``chat.completions.create``; minus the bare call. Wall time and
   the thread's CPU time (``time.thread_time``: what the wrapper itself costs).
2. End to end: the real ``openai`` client against the provider-shaped local server
   (tests/integrations/llm_provider_server.py), plain and instrumented calls interleaved;
   median latency of each (noisy on a loaded machine: the direct figure is the one to trust).

    .venv/bin/python bench/bench_llm_api_overhead.py [--calls 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


def _response(i: int) -> object:
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate({
        "id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 100 + i, "completion_tokens": 50 + i % 97,
                  "total_tokens": 150 + i}})


def direct(calls: int) -> tuple[list[float], list[float]]:
    from wattlm.integrations.llm_api._sdks import SDKS, wrap_method

    responses = [_response(i) for i in range(calls)]
    wrapped = wrap_method(SDKS["openai"], lambda r: r, False)
    wrapped(_response(10_000))  # first use: imports and the catalogue load
    extra, cpu = [], []
    for r in responses:
        c0, t0 = time.thread_time(), time.perf_counter()
        wrapped(r)
        t1, c1 = time.perf_counter(), time.thread_time()
        (lambda x: x)(r)
        t2 = time.perf_counter()
        extra.append((t1 - t0) - (t2 - t1))
        cpu.append(c1 - c0)
    return extra, cpu


def end_to_end(calls: int) -> tuple[float, float]:
    import openai
    from tests.integrations.llm_provider_server import ProviderServer

    from wattlm.integrations.llm_api import instrument

    with ProviderServer() as server:
        plain = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        wrapped = instrument(openai.OpenAI(base_url=server.url + "/v1", api_key="k",
                                           max_retries=0))
        times: dict[str, list[float]] = {"plain": [], "instrumented": []}
        for i in range(calls):
            for name, client in (("plain", plain), ("instrumented", wrapped)):
                t0 = time.perf_counter()
                client.chat.completions.create(model="gpt-4o-mini", max_tokens=1 + i % 300,
                                               messages=[{"role": "user", "content": "hi"}])
                times[name].append(time.perf_counter() - t0)
        plain.close()
        wrapped.close()
    return statistics.median(times["plain"]), statistics.median(times["instrumented"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    wall, cpu = (sorted(v) for v in direct(args.calls))
    for name, values in (("wall", wall), ("CPU", cpu)):
        p50, p95 = values[len(values) // 2], values[int(len(values) * 0.95)]
        print(f"direct overhead per call, {name} time (uncached estimate): median "
              f"{p50 * 1e3:.3f} ms, p95 {p95 * 1e3:.3f} ms, max {values[-1] * 1e3:.3f} ms; "
              f"goal <= 1 ms: ratio {p50 * 1e3:.2f} (median), {p95 * 1e3:.2f} (p95)")
    print("(wall time includes this process being preempted on a loaded machine; CPU time is "
          "the work the instrumentation does)")
    plain, instrumented = end_to_end(min(args.calls, 200))
    print(f"end to end against the local server: plain {plain * 1e3:.2f} ms, instrumented "
          f"{instrumented * 1e3:.2f} ms, difference {(instrumented - plain) * 1e3:+.2f} ms "
          f"(median; machine load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
