"""Check wattlm's NVIDIA path on a real GPU machine, in under three minutes.

For every visible GPU it runs a known workload (an idle window, then bf16 matmuls at a few
sizes on all GPUs at once) and compares, per phase:

* the NVML energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ), what wattlm uses;
* NVML power sampling (``nvmlDeviceGetPowerUsage``, mW, 10 Hz, trapezoid);
* ``nvidia-smi --query-gpu=index,power.draw`` polled every second (mean x duration);

and reports the counter's and the power reading's update periods, idle and loaded power,
wattlm's own reading (``wattlm.track``) against the raw counter over the same window, and
wattlm's overhead on a GPU loop (matmuls per second with and without tracking). It prints a
table and writes JSON. Without nvidia-ml-py, a driver, a GPU or torch it says what it skipped
and exits 0.

    python bench/device_check.py                       # about 90 s on one GPU
    python bench/device_check.py --out check.json --phase-s 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from wattlm._format import format_duration, format_energy, format_number, format_power

SIZES = (2048, 4096, 8192)
SMI_FIELDS = ("index,power.draw,power.draw.instant", "index,power.draw")


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def load_nvml(skipped: list[str]) -> tuple[Any, list[Any], list[int]] | None:
    """pynvml, the visible GPUs' handles and their NVML indices (None: skipped, with why)."""
    try:
        import pynvml
    except ImportError:
        skipped.append("everything: nvidia-ml-py is not installed (pip install 'wattlm[nvidia]')")
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as e:
        skipped.append(f"everything: NVML could not be initialised ({e}): no NVIDIA driver here")
        return None
    from wattlm.sensors.visible import cuda_visible

    count = pynvml.nvmlDeviceGetCount()
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    uuids = [_text(pynvml.nvmlDeviceGetUUID(h)) for h in handles]
    visible = cuda_visible(os.environ, uuids).indices
    if not visible:
        skipped.append("everything: no visible NVIDIA GPU")
        return None
    return pynvml, [handles[i] for i in visible], visible


def load_torch(n_gpus: int, skipped: list[str]) -> Any | None:
    """torch with CUDA (None: the workloads are skipped, the idle checks still run)."""
    try:
        import torch
    except ImportError:
        skipped.append("matmul phases and overhead: torch is not installed")
        return None
    if not torch.cuda.is_available() or torch.cuda.device_count() < n_gpus:
        skipped.append("matmul phases and overhead: torch sees no (or fewer) CUDA devices")
        return None
    return torch


def update_periods(nvml: Any, handles: list[Any], seconds: float) -> list[dict[str, Any]]:
    """Median time between changes of the energy counter and of the power reading, per GPU."""
    changes: list[dict[str, list[float]]] = [{"energy": [], "power": []} for _ in handles]
    last: list[dict[str, Any]] = [{"energy": None, "power": None} for _ in handles]
    reads = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for i, handle in enumerate(handles):
            now = time.perf_counter()
            for key, func in (("energy", nvml.nvmlDeviceGetTotalEnergyConsumption),
                              ("power", nvml.nvmlDeviceGetPowerUsage)):
                value = func(handle)
                if last[i][key] is not None and value != last[i][key]:
                    changes[i][key].append(now)
                last[i][key] = value
        reads += 1
    out = []
    for change in changes:
        row: dict[str, Any] = {"reads_per_gpu": reads}
        for key in ("energy", "power"):
            gaps = [b - a for a, b in zip(change[key], change[key][1:])]
            row[f"{key}_update_period_s"] = statistics.median(gaps) if gaps else None
        out.append(row)
    return out


class Samplers:
    """NVML power at 10 Hz and nvidia-smi every second, in background threads."""

    def __init__(self, nvml: Any, handles: list[Any], indices: list[int]) -> None:
        self.nvml, self.handles, self.indices = nvml, handles, indices
        self.power: list[tuple[float, list[float]]] = []
        self.smi: list[tuple[float, dict[int, float]]] = []
        self.smi_error = ""
        self.nvml_error = ""
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._nvml_loop, daemon=True),
                         threading.Thread(target=self._smi_loop, daemon=True)]

    def __enter__(self) -> Samplers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _nvml_loop(self) -> None:
        while not self._stop.wait(0.1):
            try:
                watts = [self.nvml.nvmlDeviceGetPowerUsage(h) / 1000.0 for h in self.handles]
            except self.nvml.NVMLError as e:
                self.nvml_error = f"NVML power sampling failed: {e}"
                return
            self.power.append((time.time(), watts))

    def _smi_loop(self) -> None:
        fields = list(SMI_FIELDS)
        while not self._stop.wait(1.0):
            try:
                done = subprocess.run(["nvidia-smi", f"--query-gpu={fields[0]}",
                                       "--format=csv,noheader,nounits"], capture_output=True,
                                      text=True, timeout=5, check=False)
            except (OSError, subprocess.TimeoutExpired) as e:
                self.smi_error = f"nvidia-smi failed: {e}"
                return
            if done.returncode != 0 and len(fields) > 1:
                fields.pop(0)  # an older driver without power.draw.instant
                continue
            readings: dict[int, float] = {}
            for line in done.stdout.splitlines():
                parts = [p.strip() for p in line.split(",")]
                try:
                    readings[int(parts[0])] = float(parts[1])
                except (ValueError, IndexError):
                    continue
            self.smi.append((time.time(), readings))

    def sampled_j(self, gpu: int, t0: float, t1: float) -> float:
        """Trapezoid of the NVML power samples inside [t0, t1]."""
        points = [(t, w[gpu]) for t, w in self.power if t0 <= t <= t1]
        return sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(points, points[1:]))

    def sampled_span_s(self, t0: float, t1: float) -> float:
        times = [t for t, _ in self.power if t0 <= t <= t1]
        return times[-1] - times[0] if len(times) > 1 else 0.0

    def smi_mean_w(self, gpu: int, t0: float, t1: float) -> float | None:
        values = [r[self.indices[gpu]] for t, r in self.smi
                  if t0 <= t <= t1 and self.indices[gpu] in r]
        return statistics.fmean(values) if values else None


def counters_j(nvml: Any, handles: list[Any]) -> list[float]:
    return [nvml.nvmlDeviceGetTotalEnergyConsumption(h) / 1000.0 for h in handles]


def matmul_until(torch: Any, n_gpus: int, size: int, deadline: float) -> int:
    """bf16 matmuls of ``size`` on every GPU until ``deadline``; returns the count per GPU."""
    pairs = []
    for d in range(n_gpus):
        a = torch.randn(size, size, device=f"cuda:{d}", dtype=torch.bfloat16)
        pairs.append((a, torch.randn_like(a), torch.empty_like(a)))
    batch = max(4, int(8 * (4096 / size) ** 3))  # ~ equal work per batch, >= 4 per sync
    done = 0
    while time.time() < deadline:
        for a, b, c in pairs:
            for _ in range(batch):
                torch.mm(a, b, out=c)
        for d in range(n_gpus):
            torch.cuda.synchronize(d)
        done += batch
    return done


def run_phase(name: str, seconds: float, nvml: Any, handles: list[Any], samplers: Samplers,
              work: Any = None) -> dict[str, Any]:
    """One phase: counters at both ends, the samplers in between, per GPU."""
    start_j, t0 = counters_j(nvml, handles), time.time()
    if work is None:
        time.sleep(seconds)
        iterations = 0
    else:
        iterations = work(t0 + seconds)
    end_j, t1 = counters_j(nvml, handles), time.time()
    duration = t1 - t0
    rows = []
    for i in range(len(handles)):
        counter = end_j[i] - start_j[i]
        span = samplers.sampled_span_s(t0, t1)
        sampled = samplers.sampled_j(i, t0, t1)
        smi_w = samplers.smi_mean_w(i, t0, t1)
        rows.append({
            "gpu": i, "counter_j": counter, "counter_w": counter / duration,
            "sampled_w": sampled / span if span > 0 else None,
            "smi_w": smi_w,
        })
    return {"phase": name, "duration_s": duration, "iterations": iterations, "gpus": rows}


def overhead(torch: Any, nvml: Any, handles: list[Any], seconds: float, pairs: int
             ) -> dict[str, Any]:
    """GPU-loop throughput with and without wattlm.track, and wattlm's J against the counter."""
    import wattlm

    rates: dict[str, list[float]] = {"off": [], "on": []}
    agreement = []
    for _ in range(pairs):
        for mode in ("off", "on"):
            if mode == "off":
                t0 = time.time()
                n = matmul_until(torch, 1, 4096, t0 + seconds)
                rates["off"].append(n / (time.time() - t0))
                continue
            before = counters_j(nvml, handles)
            with wattlm.track(region="US", save=False, distributed=False) as run:
                t0 = time.time()
                n = matmul_until(torch, 1, 4096, t0 + seconds)
                rates["on"].append(n / (time.time() - t0))
            after = counters_j(nvml, handles)
            assert run.result is not None
            by_name = {d.name: d.energy_j for d in run.result.devices}
            for i in range(len(handles)):
                wattlm_j = by_name.get(f"gpu:{i}")
                agreement.append({"gpu": i, "wattlm_j": wattlm_j,
                                  "counter_j": after[i] - before[i],
                                  "warnings": list(run.result.warnings)})
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    return {"matmuls_per_s_off": off, "matmuls_per_s_on": on,
            "overhead": (off - on) / off if off > 0 else None, "agreement": agreement}


def _w(value: float | None) -> str:
    return format_power(value) if value is not None else "-"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "-"
    return format_number(value / reference)


def print_report(report: dict[str, Any]) -> None:
    """The table for people (JSON keeps the base units)."""
    for skip in report["skipped"]:
        print(f"skipped: {skip}")
    for gpu, info in enumerate(report.get("gpus", [])):
        period = info["update_periods"]
        print(f"\ngpu:{gpu} {info['name']} (NVML index {info['nvml_index']}, driver "
              f"{report.get('driver', '?')})")
        print(f"  energy counter update period: {format_duration(period['energy_update_period_s'])}"
              f"; power reading update period: {format_duration(period['power_update_period_s'])}")
        print(f"  {'phase':<14}{'time':>9}{'counter':>11}{'sampled':>11}{'smi':>11}"
              f"{'samp/ctr':>10}{'smi/ctr':>9}")
        for phase in report["phases"]:
            row = phase["gpus"][gpu]
            print(f"  {phase['phase']:<14}{format_duration(phase['duration_s']):>9}"
                  f"{_w(row['counter_w']):>11}{_w(row['sampled_w']):>11}{_w(row['smi_w']):>11}"
                  f"{_ratio(row['sampled_w'], row['counter_w']):>10}"
                  f"{_ratio(row['smi_w'], row['counter_w']):>9}")
        print(f"  idle {_w(info['idle_w'])}, loaded (max phase) {_w(info['loaded_w'])}")
    over = report.get("overhead")
    if over:
        print(f"\nwattlm overhead on a GPU matmul loop: {format_number(100 * over['overhead'])} %"
              f" ({format_number(over['matmuls_per_s_on'])} vs "
              f"{format_number(over['matmuls_per_s_off'])} matmuls/s)")
        for row in over["agreement"]:
            print(f"  gpu:{row['gpu']} wattlm {format_energy(row['wattlm_j'])} vs counter "
                  f"{format_energy(row['counter_j'])} "
                  f"(ratio {_ratio(row['wattlm_j'], row['counter_j'])})")


def main(argv: list[str] | None = None) -> int:
    """Run the check; always exits 0 unless the measurement itself crashed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="device_check.json", help="JSON output path")
    parser.add_argument("--phase-s", type=float, default=8.0, help="seconds per matmul phase")
    parser.add_argument("--idle-s", type=float, default=10.0, help="seconds of the idle window")
    parser.add_argument("--period-s", type=float, default=3.0,
                        help="seconds of polling to find the update periods")
    parser.add_argument("--overhead-s", type=float, default=6.0,
                        help="seconds per window of the overhead comparison (2 pairs)")
    args = parser.parse_args(argv)
    started = time.time()
    report: dict[str, Any] = {"skipped": [], "phases": [], "gpus": []}
    loaded = load_nvml(report["skipped"])
    if loaded is not None:
        nvml, handles, indices = loaded
        report["driver"] = _text(nvml.nvmlSystemGetDriverVersion())
        torch = load_torch(len(handles), report["skipped"])
        periods = update_periods(nvml, handles, args.period_s)
        with Samplers(nvml, handles, indices) as samplers:
            time.sleep(0.3)
            report["phases"].append(run_phase("idle", args.idle_s, nvml, handles, samplers))
            if torch is not None:
                matmul_until(torch, len(handles), 1024, time.time() + 1.0)  # warm-up
                for size in SIZES:
                    report["phases"].append(run_phase(
                        f"matmul {size}", args.phase_s, nvml, handles, samplers,
                        work=lambda end, s=size: matmul_until(torch, len(handles), s, end)))
        if samplers.smi_error:
            report["skipped"].append(f"nvidia-smi column: {samplers.smi_error}")
        if samplers.nvml_error:
            report["skipped"].append(f"sampled column: {samplers.nvml_error}")
        for i, handle in enumerate(handles):
            powers = [p["gpus"][i]["counter_w"] for p in report["phases"]]
            report["gpus"].append({
                "nvml_index": indices[i], "name": _text(nvml.nvmlDeviceGetName(handle)),
                "update_periods": periods[i], "idle_w": powers[0],
                "loaded_w": max(powers[1:]) if len(powers) > 1 else None})
        if torch is not None:
            report["overhead"] = overhead(torch, nvml, handles, args.overhead_s, pairs=2)
        nvml.nvmlShutdown()
    report["wall_s"] = time.time() - started
    Path(args.out).write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_report(report)
    print(f"\n{format_duration(report['wall_s'])} in all; JSON written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
