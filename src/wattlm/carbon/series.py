"""Time-varying carbon intensity: a user series matched to the energy of each interval of a run.

A series is a CSV with header ``timestamp,g_per_kwh``: one row per interval start, hourly or
finer, timestamps in ISO 8601 with a UTC offset (``2024-03-01T13:00:00Z``) or Unix seconds.
Row ``i`` applies to ``[t_i, t_i + step)``, where ``step`` is the smallest spacing in the file.

The run's intensity is **energy-weighted**: with cumulative energy samples ``(t_j, E_j)`` the
energy of each sampling interval is spread uniformly over it, split across the series cells it
overlaps, and ``I = sum(e_k * I_k) / sum(e_k)``. Energy that falls outside the series (before,
after, or in a gap when gaps are allowed) uses a fallback intensity (the region's annual value),
and a warning says how much.
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from wattlm._format import format_duration, format_number
from wattlm.errors import DataError, InvalidInputError

__all__ = ["MAX_STEP_S", "IntensitySeries", "WeightedIntensity", "load_series"]

MAX_STEP_S = 3600.0
_TOLERANCE_S = 1e-6

Timestamp = float | int | str | datetime


@dataclass(frozen=True)
class WeightedIntensity:
    """Energy-weighted intensity of a run, and how much of its energy the series covered."""

    intensity_g_per_kwh: float
    covered_fraction: float
    warnings: list[str] = field(default_factory=list)


def _parse_time(value: Timestamp, where: str) -> tuple[float, timedelta]:
    """(Unix seconds, UTC offset) of one timestamp."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise DataError(f"{where}: timestamp {value!r} is not a finite number")
        return float(value), timedelta(0)
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            return float(text), timedelta(0)
        except ValueError:
            pass
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as e:
            raise DataError(f"{where}: cannot read timestamp {value!r}; use ISO 8601 with a "
                            "UTC offset, e.g. 2024-03-01T13:00:00Z, or Unix seconds") from e
    offset = moment.utcoffset()
    if offset is None:
        raise DataError(f"{where}: timestamp {value!r} has no time zone; write it in UTC "
                        "(2024-03-01T13:00:00Z) or with its offset (+01:00)")
    return moment.timestamp(), offset


@dataclass(frozen=True)
class IntensitySeries:
    """Carbon intensity over time: ``values_g_per_kwh[i]`` holds on ``[times_s[i], +step_s)``."""

    times_s: tuple[float, ...]
    values_g_per_kwh: tuple[float, ...]
    step_s: float
    source: str = "user-supplied series"

    @classmethod
    def from_points(cls, points: Iterable[tuple[Timestamp, float | str]], *,
                    source: str = "user-supplied series", allow_gaps: bool = False,
                    max_step_s: float = MAX_STEP_S) -> IntensitySeries:
        """Build a validated series from ``(timestamp, g_per_kwh)`` pairs (any order).

        Raises:
            DataError: no points, a timestamp without a time zone, time zones that differ
                between rows, a duplicate timestamp, a negative or non-finite value, a spacing
                coarser than ``max_step_s``, or a gap (unless ``allow_gaps``).
        """
        parsed: list[tuple[float, float]] = []
        offsets: set[timedelta] = set()
        for number, (stamp, value) in enumerate(points, start=1):
            where = f"{source}, row {number}"
            time_s, offset = _parse_time(stamp, where)
            offsets.add(offset)
            try:
                g = float(value)
            except (TypeError, ValueError) as e:
                raise DataError(f"{where}: g_per_kwh {value!r} is not a number") from e
            if not math.isfinite(g) or g < 0:
                raise DataError(f"{where}: g_per_kwh must be a finite number >= 0, got {value!r}")
            parsed.append((time_s, g))
        if not parsed:
            raise DataError(f"{source}: the intensity series has no rows")
        if len(offsets) > 1:
            shown = ", ".join(sorted(str(o) for o in offsets))
            raise DataError(f"{source}: timestamps use different UTC offsets ({shown}); "
                            "write every timestamp in one time zone, preferably UTC (Z)")
        parsed.sort()
        times = [t for t, _ in parsed]
        for before, after in zip(times, times[1:], strict=False):
            if after - before <= _TOLERANCE_S:
                raise DataError(f"{source}: duplicate timestamp "
                                f"{datetime.fromtimestamp(after, tz=timezone.utc).isoformat()} "
                                f"(Unix {after:.0f}); keep one value per interval")
        diffs = [b - a for a, b in zip(times, times[1:], strict=False)]
        step = min(diffs) if diffs else max_step_s
        if step > max_step_s + _TOLERANCE_S:
            raise DataError(f"{source}: rows are {format_duration(step)} apart; the series "
                            f"must be hourly or finer (<= {format_duration(max_step_s)})")
        if not allow_gaps:
            for a, d in zip(times, diffs, strict=False):
                if d > step + _TOLERANCE_S:
                    raise DataError(f"{source}: gap of {format_duration(d)} after Unix "
                                    f"time {a:.0f} (rows are otherwise {format_duration(step)} "
                                    "apart); fill it, or pass allow_gaps=True to use the "
                                    "fallback intensity there")
        return cls(tuple(times), tuple(g for _, g in parsed), float(step), source)

    def value_at(self, time_s: float) -> float | None:
        """Intensity at ``time_s`` (Unix seconds), None outside the series."""
        index = bisect.bisect_right(self.times_s, time_s) - 1
        if index < 0 or time_s >= self.times_s[index] + self.step_s:
            return None
        return self.values_g_per_kwh[index]

    def _covered(self, start_s: float, end_s: float) -> list[tuple[float, float]]:
        """(seconds of overlap, intensity) for each cell overlapping ``[start_s, end_s)``."""
        out: list[tuple[float, float]] = []
        index = max(bisect.bisect_right(self.times_s, start_s) - 1, 0)
        while index < len(self.times_s) and self.times_s[index] < end_s:
            cell_start = self.times_s[index]
            overlap = min(end_s, cell_start + self.step_s) - max(start_s, cell_start)
            if overlap > 0:
                out.append((overlap, self.values_g_per_kwh[index]))
            index += 1
        return out

    def energy_weighted(self, energy_timeline: Sequence[tuple[float, float]],
                        fallback_g_per_kwh: float,
                        fallback_source: str = "annual value") -> WeightedIntensity:
        """Energy-weighted intensity over a run.

        Args:
            energy_timeline: ``(unix_time_s, cumulative_energy_j)`` samples, time increasing.
            fallback_g_per_kwh: intensity for energy the series does not cover.
            fallback_source: what the fallback is, for the warning.

        Raises:
            InvalidInputError: fewer than two samples, time not increasing, energy decreasing.
        """
        if len(energy_timeline) < 2:
            raise InvalidInputError("energy_timeline needs at least two (time_s, energy_j) "
                                    "samples to weight the intensity")
        weighted = 0.0
        covered_weight = 0.0
        total_weight = 0.0
        energies = [float(e) for _, e in energy_timeline]
        use_time = energies[-1] - energies[0] <= 0  # no energy: weight by time instead
        for (t0, e0), (t1, e1) in zip(energy_timeline, energy_timeline[1:], strict=False):
            if not (math.isfinite(t0) and math.isfinite(t1)) or t1 <= t0:
                raise InvalidInputError(f"energy_timeline times must increase, got {t0!r} "
                                        f"then {t1!r}")
            if e1 < e0:
                raise InvalidInputError(f"energy_timeline is cumulative and must not decrease "
                                        f"({e0!r} J then {e1!r} J at t={t1!r})")
            weight = (t1 - t0) if use_time else (e1 - e0)
            rate = weight / (t1 - t0)
            part_covered = 0.0
            for seconds, value in self._covered(t0, t1):
                weighted += rate * seconds * value
                part_covered += rate * seconds
            weighted += (weight - part_covered) * fallback_g_per_kwh
            covered_weight += part_covered
            total_weight += weight
        fraction = covered_weight / total_weight if total_weight > 0 else 0.0
        warnings: list[str] = []
        if fraction < 1.0 - 1e-9:
            warnings.append(f"intensity series '{self.source}' covers {fraction:.0%} of the "
                            f"run's energy; the rest uses {format_number(fallback_g_per_kwh)} "
                            f"g/kWh ({fallback_source})")
        return WeightedIntensity(weighted / total_weight, fraction, warnings)


def load_series(path: str | Path, *, allow_gaps: bool = False) -> IntensitySeries:
    """Read a ``timestamp,g_per_kwh`` CSV into a validated :class:`IntensitySeries`.

    Raises:
        DataError: unreadable file, wrong header, or any problem listed in
            :meth:`IntensitySeries.from_points`.
    """
    import io

    from wattlm import _validate
    from wattlm.errors import InvalidInputError

    file = Path(path)
    try:
        source = _validate.read_text(file, "intensity series")
    except InvalidInputError as e:  # missing, directory, binary, not UTF-8: one line
        raise DataError(str(e)) from None
    reader = csv.reader(io.StringIO(source, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:2] != ["timestamp", "g_per_kwh"]:
            raise DataError(f"{file}: header must be 'timestamp,g_per_kwh', got "
                            f"{','.join(header) or 'nothing'!r}")
        rows: list[tuple[Timestamp, float | str]] = []
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < 2:
                raise DataError(f"{file}, line {number}: expected timestamp,g_per_kwh")
            rows.append((row[0], row[1]))
    except csv.Error as e:
        raise DataError(f"intensity series {file} is not valid CSV: {e}") from None
    return IntensitySeries.from_points(rows, source=str(file), allow_gaps=allow_gaps)
