"""Power over time as an inline SVG element, drawn on the server (no script, no library).

The power of each device between two stored samples is ``ΔE / Δt`` (the same series as the
report's PNG plot, :func:`wattlm.report.plots.power_series`); with more than one device a
``total`` line is drawn too. Every device name is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from wattlm.records import DeviceInfo, Sample
from wattlm.report.plots import power_series

__all__ = ["nice_ticks", "power_svg"]

# colour-blind-friendly palette (Okabe & Ito, 2008), black kept for the total
_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442")
_TOTAL_COLOUR = "#1d2125"
_WIDTH, _HEIGHT = 760, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 44


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``high``: steps of 1, 2 or 5 x 10^k.

    Args:
        high: the largest value to cover (values <= 0 give ``[0, 1]``).
        count: about how many intervals.

    Returns:
        Ticks starting at 0, evenly spaced, the last one >= ``high``.
    """
    if not math.isfinite(high) or high <= 0:
        return [0.0, 1.0]
    raw = high / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if m * magnitude >= raw)
    n = math.ceil(high / step - 1e-9)
    return [round(i * step, 12) for i in range(n + 1)]


def _label(value: float, factor: float) -> str:
    from wattlm._format import format_number

    return format_number(value / factor)


def power_svg(devices: Sequence[DeviceInfo], samples: Sequence[Sample]) -> str | None:
    """An ``<svg>`` line chart of each device's power (W) against time since the first sample (s).

    Returns:
        The SVG markup, or ``None`` when fewer than two samples are stored.
    """
    series = [(name, t, p) for name, t, p in power_series(devices, samples) if t]
    if not series:
        return None
    has_total = len(series) > 1 and all(len(s[1]) == len(series[0][1]) for s in series)
    if has_total:
        times = series[0][1]
        series.append(("total", times, [math.fsum(s[2][i] for s in series)
                                        for i in range(len(times))]))
    t_max = max(max(t) for _, t, _ in series)
    p_max = max(max(p) for _, _, p in series)
    from wattlm._format import pick_unit

    x_ticks = nice_ticks(t_max)
    y_ticks = nice_ticks(p_max)
    t_factor, t_unit = pick_unit(x_ticks[-1], "duration")
    p_factor, p_unit = pick_unit(y_ticks[-1], "power")
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM

    def x(t: float) -> float:
        return _LEFT + t / x_ticks[-1] * plot_w

    def y(p: float) -> float:
        return _TOP + plot_h - p / y_ticks[-1] * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" width="{_WIDTH}" height="{_HEIGHT}">',
        "<title>Power of each device over the run (W against s)</title>",
    ]
    for tick in y_ticks:
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" '
                     f'y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>')
        parts.append(f'<text class="tick" x="{_LEFT - 6}" y="{y(tick) + 4:.1f}" '
                     f'text-anchor="end">{_label(tick, p_factor)}</text>')
    for tick in x_ticks:
        parts.append(f'<text class="tick" x="{x(tick):.1f}" y="{_TOP + plot_h + 16}" '
                     f'text-anchor="middle">{_label(tick, t_factor)}</text>')
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{_TOP + plot_h}" '
                 f'y2="{_TOP + plot_h}"/>')
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" '
                 f'y2="{_TOP + plot_h}"/>')
    parts.append(f'<text class="axis-label" x="{_LEFT + plot_w / 2:.0f}" y="{_HEIGHT - 6}" '
                 f'text-anchor="middle">time since the first sample ({t_unit})</text>')
    parts.append(f'<text class="axis-label" x="14" y="{_TOP + plot_h / 2:.0f}" '
                 f'text-anchor="middle" transform="rotate(-90 14 {_TOP + plot_h / 2:.0f})">'
                 f"power ({p_unit})</text>")
    colours = [_COLOURS[i % len(_COLOURS)] for i in range(len(series))]
    if has_total:
        colours[-1] = _TOTAL_COLOUR
    for i, (name, times, power) in enumerate(series):
        points = " ".join(f"{x(t):.1f},{y(p):.1f}" for t, p in zip(times, power, strict=True))
        dash = ' stroke-dasharray="5 3"' if has_total and i == len(series) - 1 else ""
        parts.append(f'<polyline fill="none" stroke="{colours[i]}" stroke-width="1.5"{dash} '
                     f'points="{points}"><title>{html.escape(name)}</title></polyline>')
    legend_x = _LEFT + 8
    for i, (name, _, _) in enumerate(series):
        ly = _TOP + 12 + 16 * i
        parts.append(f'<rect x="{legend_x}" y="{ly - 9}" width="10" height="10" '
                     f'fill="{colours[i]}"/>')
        parts.append(f'<text class="legend" x="{legend_x + 14}" y="{ly}">'
                     f"{html.escape(name)}</text>")
    parts.append("</svg>")
    return "\n".join(parts)
