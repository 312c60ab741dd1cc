"""Cost of one sample of the CPU + memory models: one shared process walk against two.

Starts a tree of N sleeping processes, then times a sample (CPU model read + memory model read)
with the two sensors sharing one scope (as a run does) and with a private scope each (as before
the split), and prints microseconds per sample and the ratio.

    python bench/bench_proctree.py               # 20 processes, 2,000 samples
    python bench/bench_proctree.py --processes 100 --samples 500
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from wattlm.sensors.model import CpuModelSensor, MemoryModelSensor
from wattlm.sensors.scope import TreeScope


class _Clock:
    """The sampler's clock, one interval (1 s) per sample, so no snapshot is reused by age."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _sample_us(cpu: CpuModelSensor, memory: MemoryModelSensor, samples: int,
               clock: _Clock) -> float:
    cpu.start()
    memory.start()
    times = []
    for _ in range(samples):
        clock.t += 1.0
        t0 = time.perf_counter()
        cpu.read_j()
        memory.read_j()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
                for _ in range(args.processes)]
    try:
        time.sleep(3.0)  # let the children finish starting
        pid = os.getpid()
        ones, twos = [], []
        for _ in range(3):  # alternated, to spread the machine's own noise over both
            clock = _Clock()
            shared = TreeScope(pid, clock=clock)
            ones.append(_sample_us(CpuModelSensor(pid, 100.0, 4, clock, scope=shared),
                                   MemoryModelSensor(pid, scope=shared, clock=clock),
                                   args.samples, clock))
            clock = _Clock()
            twos.append(_sample_us(CpuModelSensor(pid, 100.0, 4, clock),
                                   MemoryModelSensor(pid, clock=clock), args.samples, clock))
        one, two = statistics.median(ones), statistics.median(twos)
        print(f"{args.processes + 1} processes, median of {args.samples} samples")
        print(f"  shared walk (one per sample):  {one:8.0f} us per sample")
        print(f"  separate walks (two):          {two:8.0f} us per sample")
        print(f"  ratio shared / separate:       {one / two:8.2f}")
    finally:
        for child in children:
            child.kill()
            child.wait()


if __name__ == "__main__":
    main()
