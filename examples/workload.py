"""A small CPU-bound job to measure: ``wattlm run -- python examples/workload.py [SECONDS]``."""

import sys
import time


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    deadline = time.perf_counter() + seconds
    total, rounds = 0.0, 0
    while time.perf_counter() < deadline:
        total += sum(i * 0.5 for i in range(100_000))
        rounds += 1
    print(f"workload: {rounds} rounds in {seconds:.1f} s (checksum {total:.3g})")


if __name__ == "__main__":
    main()
