"""Can serve-bench's load generator push >= 500 requests/s without being the bottleneck?

Starts the stub OpenAI-compatible server (tests/serving/stub_server.py) in its own process,
runs wattlm's load generator against it (streamed chat requests of ``--tokens`` tokens) at
fixed concurrencies, and prints for each: completed requests/s, output tokens/s, and the CPU
share (fraction of one core, user + system) of the generator process and of the server. The
generator is not the bottleneck while its share stays below one core and the server's too.

    .venv/bin/python bench/bench_serve_loadgen.py [--seconds 5] [--concurrency 16 64] [--tokens 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from wattlm.serving.client import PATHS, make_clients  # noqa: E402
from wattlm.serving.loadgen import Level, run_level  # noqa: E402
from wattlm.serving.workload import Workload  # noqa: E402


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


async def _run(url: str, concurrency: int, seconds: float,
               tokens: int) -> tuple[int, int, int, float]:
    clients = make_clients(-(-concurrency // 8), connections=8, timeout_s=30.0,
                           https=False)  # as serve-bench does: pools of 8 connections
    try:
        workload = Workload(input_tokens=8, output_tokens=tokens)
        trace = await run_level(clients, url + PATHS["chat"], "stub-model", workload.stream(),
                                Level("concurrency", concurrency), duration_s=seconds,
                                ramp_s=0.5, drain_timeout_s=10.0, max_requests=10_000_000)
    finally:
        for client in clients:
            await client.aclose()
    done = [r for r in trace.results if r.ok and trace.window_start_s <= r.end_s
            <= trace.window_end_s]
    failed = sum(1 for r in trace.results if not r.ok)
    return len(done), trace.sent, failed, trace.window_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--tokens", type=int, default=4)
    args = parser.parse_args()
    stub = subprocess.Popen([sys.executable, str(ROOT / "tests/serving/stub_server.py")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert stub.stdout is not None
        port = int(stub.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        server, me = psutil.Process(stub.pid), psutil.Process()
        print(f"{'concurrency':>11} {'req/s':>8} {'tokens/s':>9} {'failed':>6} "
              f"{'generator CPU':>13} {'server CPU':>10} {'gen ms CPU/req':>14} "
              f"{'gen max req/s':>13}  (CPU: fraction of one core)")
        best = 0.0
        for c in args.concurrency:
            cpu_me, cpu_server, t0 = _cpu_s(me), _cpu_s(server), time.perf_counter()
            done, sent, failed, window = asyncio.run(_run(url, c, args.seconds, args.tokens))
            wall = time.perf_counter() - t0
            used_me = _cpu_s(me) - cpu_me
            share_me = used_me / wall
            share_server = (_cpu_s(server) - cpu_server) / wall
            rate = done / window
            per_request_ms = 1000.0 * used_me / max(sent, 1)
            best = max(best, rate)
            print(f"{c:>11} {rate:>8.0f} {rate * args.tokens:>9.0f} {failed:>6} "
                  f"{share_me:>13.2f} {share_server:>10.2f} {per_request_ms:>14.2f} "
                  f"{1000.0 / per_request_ms:>13.0f}")
        print(f"goal >= 500 req/s: measured best {best:.0f} req/s (ratio {best / 500:.2f}); "
              f"'gen max req/s' is what one full core of this generator would sustain "
              f"(1 / its CPU time per request), machine load {os.getloadavg()[0]:.1f}")
    finally:
        stub.terminate()
        stub.wait(10)


if __name__ == "__main__":
    main()
