"""What the one accountant costs next to the sampler loop.

The sampler loop itself never calls the accountant: emissions are accounted once, at stop. The
readers that show running figures (the Trainer callback on every log, Prometheus on every scrape)
call ``Accountant.emissions_so_far_g`` once per log or scrape, beside a ``tracker.read()`` (one
reading of every sensor). This prints, on fake sensors (the cheapest possible read, so the ratio
is an upper bound):

* the median cost of one running figure, against one ``tracker.read()``;
* the accounting at stop (``account_run``, 2,000-sample timeline), against the time the sampler
  loop spends reading those 2,000 samples.

    .venv/bin/python bench/bench_accountant.py [--reads 2000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time


def _per_call_s(func: object, n: int, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            func()  # type: ignore[operator]
        timings.append((time.perf_counter() - start) / n)
    return statistics.median(timings)


def main() -> None:
    """Run the benchmark and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import wattlm
    from wattlm.carbon.accounting import Accountant
    from wattlm.records import Sample
    from wattlm.sensors.fake import FakeSensor

    sensors = [FakeSensor(f"gpu:{i}", power_w=300.0) for i in range(8)]
    with wattlm.track(region="FR", sensors=sensors, save=False, interval_s=10.0) as run:
        accountant = Accountant.from_settings(run.settings)
        sample = run.read()
        start_s = sample.time_s - run.elapsed_s(sample)
        read_s = _per_call_s(run.read, args.reads, args.repeats)
        figure_s = _per_call_s(
            lambda: accountant.emissions_so_far_g(sum(sample.energy_j), start_s, sample.time_s),
            args.reads, args.repeats)
    record = run.result
    assert record is not None
    samples = [Sample(1_700_000_000.0 + k, tuple(300.0 * k for _ in sensors))
               for k in range(args.reads)]
    stop_s = _per_call_s(lambda: accountant.account_run(record, samples), 1, args.repeats)
    print(f"tracker.read() (8 fake sensors):        {read_s * 1e6:9.2f} µs")
    print(f"running figure (emissions_so_far_g):    {figure_s * 1e6:9.2f} µs "
          f"= {figure_s / read_s:.3f} x one read")
    print(f"account_run at stop ({args.reads} samples):   {stop_s * 1e3:9.2f} ms "
          f"= {stop_s / (read_s * args.reads):.3f} x the loop's {args.reads} reads")
    print("sampler loop: 0 accountant calls per sample (accounting happens once, at stop)")


if __name__ == "__main__":
    main()
