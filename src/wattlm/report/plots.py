"""Plots for reports, as PNG bytes (matplotlib, Agg, imported only here and only when called).

Without matplotlib (``pip install 'wattlm[report]'``) :func:`available` is False and reports
fall back to tables with a note. Figures are built with ``matplotlib.figure.Figure`` directly
(no pyplot state), so plotting is safe from threads and leaves no windows open.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from typing import Any

from wattlm.errors import MissingExtraError
from wattlm.records import DeviceInfo, Sample

__all__ = [
    "MISSING_NOTE",
    "available",
    "emissions_plot",
    "energy_breakdown_plot",
    "pareto_plot",
    "power_over_time",
    "power_series",
    "spaced_samples",
]

MISSING_NOTE = ("Plots need matplotlib, which is not installed: pip install 'wattlm[report]'. "
                "The tables above hold the same figures.")


def available() -> bool:
    """Whether matplotlib can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


def _figure(width_in: float = 7.0, height_in: float = 3.2) -> Any:
    if not available():
        raise MissingExtraError("matplotlib", "report", "plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, without touching pyplot's global backend
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def spaced_samples(ordered: list[Sample]) -> list[Sample]:
    """Drop samples closer than half the median gap to the previous kept one (keep the last).

    The samples are cumulative, so merging loses no energy; it keeps a read taken just after
    another (a phase boundary, 0.3 ms later) from showing as a power spike. Plots, the
    dashboard chart and ``samples_frame`` all use it.
    """
    gaps = sorted(b.time_s - a.time_s for a, b in zip(ordered, ordered[1:]) if b.time_s > a.time_s)
    if len(ordered) < 3 or not gaps:
        return ordered
    min_gap = 0.5 * gaps[len(gaps) // 2]
    kept = [ordered[0]]
    for sample in ordered[1:]:
        if sample.time_s - kept[-1].time_s >= min_gap:
            kept.append(sample)
        elif sample is ordered[-1] and len(kept) > 1:
            kept[-1] = sample  # the run's end replaces the too-close sample before it
    return kept


def power_series(devices: Sequence[DeviceInfo], samples: Sequence[Sample]
                 ) -> list[tuple[str, list[float], list[float]]]:
    """Mean power of each device between consecutive samples.

    Samples closer than half the median spacing (a phase boundary read just after a sample) are
    merged into their neighbours first: the samples are cumulative, so this loses no energy, and
    it keeps counter granularity from showing as spikes.

    Returns:
        ``(device name, times_s since the first sample (interval midpoints), power_w)`` per
        device; power is ``ΔE / Δt`` (W) of each sampling interval.
    """
    ordered = spaced_samples(sorted(samples, key=lambda s: s.time_s))
    if len(ordered) < 2:
        return []
    t0 = ordered[0].time_s
    out: list[tuple[str, list[float], list[float]]] = []
    for i, info in enumerate(devices):
        times: list[float] = []
        power: list[float] = []
        for a, b in zip(ordered, ordered[1:]):
            dt = b.time_s - a.time_s
            if dt <= 0 or i >= len(a.energy_j) or i >= len(b.energy_j):
                continue
            times.append((a.time_s + b.time_s) / 2 - t0)
            power.append(max(b.energy_j[i] - a.energy_j[i], 0.0) / dt)
        out.append((info.name, times, power))
    return out


def _plain_ticks(axis: Any) -> None:
    """Tick labels through the one formatter (no e-notation, no offset)."""
    from matplotlib.ticker import FuncFormatter

    from wattlm._format import format_number

    axis.set_major_formatter(FuncFormatter(lambda value, _pos: format_number(value)))


def power_over_time(devices: Sequence[DeviceInfo], samples: Sequence[Sample]) -> bytes:
    """Line plot of each device's power over the run, as PNG (units chosen by the formatter)."""
    from wattlm._format import pick_unit

    series = power_series(devices, samples)
    t_factor, t_unit = pick_unit(max((max(t) for _, t, _ in series if t), default=0.0),
                                 "duration")
    p_factor, p_unit = pick_unit(max((max(p) for _, _, p in series if p), default=0.0),
                                 "power")
    fig = _figure()
    ax = fig.subplots()
    for name, times, power in series:
        ax.plot([t / t_factor for t in times], [p / p_factor for p in power], label=name,
                linewidth=1.2)
    ax.set_xlabel(f"time since start ({t_unit})")
    ax.set_ylabel(f"power ({p_unit})")
    _plain_ticks(ax.xaxis)
    _plain_ticks(ax.yaxis)
    ax.set_title("Power per device")
    ax.set_ylim(bottom=0)
    if devices:
        ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return _png(fig)


def energy_breakdown_plot(by_device: Sequence[tuple[str, float]],
                          by_phase: Sequence[tuple[str, float]],
                          titles: tuple[str, str] = ("by device", "by phase")) -> bytes:
    """Horizontal bars: energy by device and, when phases exist, by phase; PNG.

    Values are kWh; the axis unit (mWh ... GWh) is the formatter's choice for the largest bar.
    """
    from wattlm._format import pick_unit
    from wattlm.units import kwh_to_j

    largest = max((v for _, v in [*by_device, *by_phase]), default=0.0)
    factor, unit = pick_unit(kwh_to_j(largest), "energy")
    panels = [(t, [(n, kwh_to_j(v) / factor) for n, v in rows])
              for t, rows in ((titles[0], by_device), (titles[1], by_phase)) if rows]
    fig = _figure(7.0, 1.2 + 0.35 * max((len(r) for _, r in panels), default=1))
    axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
    for ax, (title, rows) in zip(axes, panels):
        names = [n for n, _ in rows][::-1]
        values = [v for _, v in rows][::-1]
        ax.barh(names, values, color="#4a7ebb")
        ax.set_xlabel(f"energy ({unit})")
        _plain_ticks(ax.xaxis)
        ax.set_title(f"Energy {title}")
        ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def emissions_plot(parts: Sequence[tuple[str, float, float, float]],
                   equivalents: Sequence[str]) -> bytes:
    """Bars of emissions (g CO2e) with low–high whiskers, and the equivalents as text; PNG.

    Args:
        parts: ``(label, low_g, central_g, high_g)`` per component (operational, embodied).
        equivalents: lines such as ``"12 km of driving an average car"``.
    """
    fig = _figure(7.0, 2.8)
    ax_bars, ax_text = fig.subplots(1, 2, width_ratios=[1.3, 1])
    from wattlm._format import pick_unit

    largest = max((abs(p[3]) for p in parts), default=0.0)
    factor, symbol = pick_unit(largest, "mass")
    scale, unit = 1.0 / factor, f"{symbol} CO2e"
    labels = [p[0] for p in parts]
    central = [p[2] * scale for p in parts]
    err_low = [max(p[2] - p[1], 0.0) * scale for p in parts]
    err_high = [max(p[3] - p[2], 0.0) * scale for p in parts]
    ax_bars.bar(labels, central, yerr=[err_low, err_high], capsize=4, color="#7a9a5b")
    ax_bars.set_ylabel(unit)
    _plain_ticks(ax_bars.yaxis)
    ax_bars.set_title("Emissions")
    ax_bars.grid(axis="y", alpha=0.3)
    ax_text.axis("off")
    lines = ["The same emissions as:", *(f"• {e}" for e in equivalents)] if equivalents else [
        "No equivalents available."]
    ax_text.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=9, wrap=True)
    return _png(fig)


def pareto_plot(points: Sequence[tuple[str, float, float, bool]], *, x_label: str,
                y_label: str, title: str = "Energy against quality") -> bytes:
    """Scatter of variants with the Pareto front drawn as a step line; PNG.

    Args:
        points: ``(name, x, y, on_front)``; ``x`` is minimised (energy), ``y`` maximised.
        x_label: label of the x axis.
        y_label: label of the y axis.
        title: title of the plot.
    """
    fig = _figure(6.0, 3.6)
    ax = fig.subplots()
    for name, x, y, front in points:
        ax.scatter([x], [y], color="#c0392b" if front else "#7f8c8d", zorder=3)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    front_points = sorted((x, y) for _, x, y, f in points if f)
    if len(front_points) > 1:
        ax.step([p[0] for p in front_points], [p[1] for p in front_points], where="post",
                color="#c0392b", alpha=0.6, label="Pareto front")
        ax.legend(loc="best", fontsize="small")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _png(fig)
