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
OVERHEAD_ITEMS = None  # the whole shipped set: windows long enough for 10 ms CPU ticks


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


def _other_threads_cpu_s() -> float:
    """CPU seconds of this process's threads other than the calling one (the tracker's)."""
    import threading

    import psutil

    me = threading.get_native_id()
    return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id != me)


def overhead(task_name: str) -> tuple[float, float, float]:
    """Best wall seconds of one pass without and with a tracker, and the tracker's CPU share.

    The CPU share is the CPU time of the other threads (the sampler) during the tracked pass
    over the main thread's CPU time, less what other threads used in the untracked pass; torch
    runs on one thread here. It does not depend on how loaded the machine is, unlike the
    wall-time difference.
    """
    import torch

    from wattlm.tasks import plan
    from wattlm.tasks.registry import get_task
    from wattlm.tracking.tracker import track

    torch.set_num_threads(1)  # the model computes on this thread; other threads are wattlm's
    task = get_task(task_name)
    items = plan([task_name], limit=OVERHEAD_ITEMS)[0].items  # None: every item
    bundle = task.build_tiny(items, 0)
    runner = task.make_runner(bundle, 8)
    batches = [items[i:i + 8] for i in range(0, len(items), 8)]
    runner(batches[0])  # warm-up

    def one_pass() -> float:
        t0 = time.perf_counter()
        for batch in batches:
            runner(batch)
        return time.perf_counter() - t0

    plain, tracked, shares = [], [], []
    for _ in range(REPEATS):
        idle_others = _other_threads_cpu_s()
        plain.append(one_pass())
        idle_others = _other_threads_cpu_s() - idle_others  # torch's own threads, if any
        tracker = track(save=False).start()
        others, mine = _other_threads_cpu_s(), time.thread_time()
        tracked.append(one_pass())
        busy = _other_threads_cpu_s() - others - idle_others
        shares.append(max(busy, 0.0) / max(time.thread_time() - mine, 1e-9))
        tracker.stop()
    return min(plain), min(tracked), sorted(shares)[len(shares) // 2]


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
    print(f"{'task':15} {'plain s':>9} {'tracked s':>9} {'wall diff':>10} {'tracker CPU':>12}")
    for name in TASK_NAMES:
        plain, tracked, share = overhead(name)
        pct = (tracked - plain) / plain * 100
        print(f"{name:15} {plain:9.3f} {tracked:9.3f} {pct:8.2f} % {share * 100:10.2f} %"
              f"{'' if share <= 0.02 else '  (above 2 %)'}")
    print("tracker CPU = the sampler thread's CPU time over the workload's, median of "
          f"{REPEATS} windows (goal <= 2 %); the wall difference is noise on a loaded machine")
    print(f"machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
