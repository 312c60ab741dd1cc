"""Benchmark of ``wattlm tasks``: the whole default run, and the tracker's overhead per window.

Run: ``python bench/bench_tasks.py``. Prints (1) the wall time of ``wattlm tasks`` on the default
tiny models, all six tasks, every shipped item, fairness included, against the 3-minute goal;
(2) for each task, the time of one pass over the items with and without a running tracker
(first ``OVERHEAD_ITEMS`` items, best of ``REPEATS`` alternating passes) and the overhead as
a percentage of the window, against the 2 % goal. ``--overhead-only`` skips (1).
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WATTLM_DB", os.path.join(os.path.dirname(__file__), ".bench_tasks.db"))

REPEATS = 3
OVERHEAD_ITEMS = 64


def whole_run() -> tuple[float, float]:
    """Wall and CPU seconds of the default benchmark (what ``wattlm tasks`` does)."""
    from wattlm.tasks import run_tasks

    started, cpu = time.perf_counter(), time.process_time()
    results = run_tasks(save=True)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    failed = [r for r in results if r.status != "ok"]
    if failed:
        print("failed:", [(r.task, r.error) for r in failed], file=sys.stderr)
    return elapsed, cpu


def overhead(task_name: str) -> tuple[float, float]:
    """Best seconds of one pass over the items without and with a running tracker."""
    from wattlm.tasks import plan
    from wattlm.tasks.registry import get_task
    from wattlm.tracking.tracker import track

    task = get_task(task_name)
    items = plan([task_name], limit=OVERHEAD_ITEMS)[0].items
    bundle = task.build_tiny(items, 0)
    runner = task.make_runner(bundle, 8)
    batches = [items[i:i + 8] for i in range(0, len(items), 8)]
    runner(batches[0])  # warm-up

    def one_pass() -> float:
        t0 = time.perf_counter()
        for batch in batches:
            runner(batch)
        return time.perf_counter() - t0

    plain, tracked = [], []
    for _ in range(REPEATS):
        plain.append(one_pass())
        tracker = track(save=False).start()
        tracked.append(one_pass())
        tracker.stop()
    return min(plain), min(tracked)


def main() -> int:
    """Print the figures."""
    import warnings

    warnings.simplefilter("ignore")
    from wattlm.tasks.registry import TASK_NAMES

    load = os.getloadavg()[0]
    if "--overhead-only" not in sys.argv:
        elapsed, cpu = whole_run()
        print(f"wattlm tasks, default tiny models, all tasks: {elapsed:.1f} s wall, {cpu:.1f} s "
              f"CPU (goal <= 180 s: {'ok' if elapsed <= 180 else 'MISSED'}; load average at "
              f"start {load:.1f} on {os.cpu_count()} cores)")
    print(f"{'task':15} {'plain s':>9} {'tracked s':>9} {'overhead':>9}")
    for name in TASK_NAMES:
        plain, tracked = overhead(name)
        pct = (tracked - plain) / plain * 100
        print(f"{name:15} {plain:9.3f} {tracked:9.3f} {pct:8.2f} %"
              f"{'' if pct <= 2.0 else '  (above 2 %)'}")
    print(f"machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
