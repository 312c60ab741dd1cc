"""Overhead of tracking a CPU-bound job: wall ratio and the tracker's own CPU share.

Runs the same pure-Python workload untracked and tracked (default interval), alternating, and
prints the median wall ratio and the tracker's CPU time as a share of the workload's. With
codecarbon installed, its EmissionsTracker runs the same workload in the same session.

    python bench/bench_overhead.py              # ~30 s workload, 3 rounds (about 5 minutes)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()

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
          f"runs alone spread over {100 * noise:.1f} % of their median (this machine's noise)")
    for name in variants:
        if name == "untracked":
            continue
        ratios = [w / b for w, b in zip(walls[name], base)]
        share = [(c - cb) / b for c, cb, b in zip(cpus[name], cpus["untracked"], base)]
        print(f"{name:<10} median wall ratio {statistics.median(ratios):.4f} "
              f"(target <= 1.01); tracker CPU {100 * statistics.median(share):.3f} % of the "
              "workload (target <= 0.5 %)")


if __name__ == "__main__":
    main()
