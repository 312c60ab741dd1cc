"""Overhead of tracking a CPU-bound job: wall ratio, the tracker's own CPU share, stop() time.

Runs the same pure-Python workload untracked and tracked (default interval), alternating, and
prints the median wall ratio and the tracker's CPU time (every wattlm thread: sampler, sensor
workers, writer) as a share of the workload's, beside the machine's own noise. Then times
``stop()`` (leaving ``with wattlm.track()``) over short runs. With codecarbon installed, its
EmissionsTracker runs the same workload in the same session.

Targets (issue 10): wall ratio <= 1.01 for a 30 s job, tracker CPU <= 0.5 %, stop() <= 50 ms.

    python bench/bench_overhead.py              # ~30 s workload, 3 pairs (about 5 minutes)
    python bench/bench_overhead.py --quick      # 5 s workload, 3 pairs (about a minute)
    python bench/bench_overhead.py --seconds 5 --pairs 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path


def calibrate(seconds: float) -> int:
    """Iterations of ``burn`` that take about ``seconds``."""
    n = 200_000
    while True:
        t0 = time.perf_counter()
        burn(n)
        elapsed = time.perf_counter() - t0
        if elapsed > 0.5:
            return int(n * seconds / elapsed)
        n *= 2


def burn(n: int) -> float:
    x = 0.0
    for i in range(n):
        x += (i % 7) * 0.5
    return x


def timed(context: Callable[[], AbstractContextManager[object]], n: int) -> tuple[float, float]:
    """(wall seconds, tracker CPU seconds = process CPU - this thread's CPU)."""
    p0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
    with context():
        burn(n)
    wall = time.perf_counter() - w0
    return wall, (time.process_time() - p0) - (time.thread_time() - t0)


def time_stop(db: Path, runs: int) -> list[float]:
    """Seconds spent leaving ``with wattlm.track()`` (stop, account, save) for short runs."""
    import wattlm

    took = []
    for _ in range(runs):
        with wattlm.track(project="bench-stop", region="FR", db=str(db)):
            time.sleep(0.3)
            t0 = time.perf_counter()
        took.append(time.perf_counter() - t0)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--stops", type=int, default=20, help="short runs timed for stop()")
    parser.add_argument("--quick", action="store_true",
                        help="5 s workload, 3 pairs, 10 stops: about a minute")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.pairs, args.stops = 5.0, 3, 10

    import wattlm

    db = Path(tempfile.mkdtemp()) / "bench.db"
    n = calibrate(args.seconds)
    variants: dict[str, Callable[[], AbstractContextManager[object]]] = {
        "untracked": nullcontext,
        "wattlm": lambda: wattlm.track(project="bench", region="FR", db=str(db)),
    }
    try:
        from codecarbon import OfflineEmissionsTracker

        out = tempfile.mkdtemp()
        variants["codecarbon"] = lambda: OfflineEmissionsTracker(  # type: ignore[return-value]
            country_iso_code="FRA", output_dir=out, log_level="error", save_to_file=False)
    except ImportError:
        print("codecarbon not installed: skipping its comparison")

    walls: dict[str, list[float]] = {k: [] for k in variants}
    cpus: dict[str, list[float]] = {k: [] for k in variants}
    order = list(variants)
    for pair in range(args.pairs):
        # rotate the order so no variant always runs first (these VMs drift over minutes)
        rotated = order[pair % len(order):] + order[:pair % len(order)]
        for name in rotated:
            context = variants[name]
            wall, cpu = timed(context, n)
            walls[name].append(wall)
            cpus[name].append(cpu)
            print(f"pair {pair + 1}: {name:<10} {wall:7.2f} s wall, {cpu * 1000:7.1f} ms other CPU")
    base = walls["untracked"]
    noise = (max(base) - min(base)) / statistics.median(base)
    print(f"\nworkload ~{args.seconds:.0f} s, {args.pairs} pairs, default interval; the untracked "
          f"runs alone spread over {100 * noise:.1f} % of their median (this machine's noise: "
          f"a ratio within 1 +/- {noise:.4f} is indistinguishable from 1)")
    for name in variants:
        if name == "untracked":
            continue
        ratios = [w / b for w, b in zip(walls[name], base)]
        share = [(c - cb) / b for c, cb, b in zip(cpus[name], cpus["untracked"], base)]
        print(f"{name:<10} median wall ratio {statistics.median(ratios):.4f} "
              f"(target <= 1.01, noise +/- {noise:.4f}); tracker CPU "
              f"{100 * statistics.median(share):.3f} % of the workload (target <= 0.5 %)")
    stops = time_stop(db, args.stops)
    print(f"stop()     median {1000 * statistics.median(stops):.1f} ms, max "
          f"{1000 * max(stops):.1f} ms over {len(stops)} short runs (target <= 50 ms normal "
          "case; bound 1 s + one interval)")


if __name__ == "__main__":
    main()
