"""Start-up costs: ``import wattlm``, ``wattlm --help``, and a tracker's start+stop.

    python bench/bench_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_seconds(cmd: list[str], runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    py = sys.executable
    base = median_seconds([py, "-c", "pass"])
    imp = median_seconds([py, "-c", "import wattlm"])
    helptime = median_seconds([py, "-m", "wattlm", "--help"])
    print(f"python -c pass           {base * 1000:7.1f} ms")
    added = (imp - base) * 1000
    print(f"python -c 'import wattlm' {imp * 1000:7.1f} ms  (+{added:.1f} ms; target <= 50)")
    print(f"wattlm --help            {helptime * 1000:7.1f} ms  (target <= 300)")

    import wattlm

    db = str(Path(tempfile.mkdtemp()) / "bench.db")
    laps = []
    for _ in range(5):
        t0 = time.perf_counter()
        with wattlm.track(project="startup", region="FR", db=db):
            pass
        laps.append(time.perf_counter() - t0)
    print(f"track() start+stop (probe, store, account): first {laps[0] * 1000:.1f} ms, "
          f"median of next {len(laps) - 1}: {statistics.median(laps[1:]) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
