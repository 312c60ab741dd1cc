"""The run store as pandas DataFrames (``pip install 'wattlm[pandas]'``).

``runs_frame()`` has one row per run with the interface columns (``energy_kwh``,
``emissions_kg``, ...; unknown figures are NaN, never 0; a running or interrupted run shows the
emissions of what was measured so far); ``devices_frame(run_id)`` one row per device with its
node and rank; ``samples_frame(run_id)`` has the stored samples of one run, indexed
by time, with each device's cumulative energy (J) and its power (W) over the interval that ends
at that sample. pandas is imported only when one of them is called.
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from wattlm.errors import InvalidInputError, MissingExtraError
from wattlm.records import DeviceInfo, RunRecord
from wattlm.store import Store, open_store

__all__ = ["DEVICE_COLUMNS", "RUN_COLUMNS", "device_labels", "devices_frame", "runs_frame",
           "samples_frame"]

#: columns of :func:`runs_frame`, in order (the index is ``id``)
RUN_COLUMNS = (
    "project", "started_at", "duration_s", "status", "energy_j", "energy_kwh",
    "net_energy_kwh", "emissions_g", "emissions_kg", "embodied_kg", "total_kg", "water_l",
    "region", "intensity_g_per_kwh", "pue", "mean_power_w", "peak_power_w", "provenance",
    "degraded", "n_devices", "n_warnings", "host", "exit_code", "n_ranks", "n_nodes",
)

#: columns of :func:`devices_frame`, in order
DEVICE_COLUMNS = ("device", "kind", "model", "node", "rank", "energy_j", "energy_kwh",
                  "mean_power_w", "peak_power_w", "provenance", "degraded")

StoreLike = Store | str | os.PathLike[str] | None


def _pandas() -> Any:
    try:
        return importlib.import_module("pandas")
    except ImportError as e:
        raise MissingExtraError("pandas", "pandas", "DataFrames of runs and samples") from e


@contextmanager
def _opened(store: StoreLike) -> Iterator[Store]:
    """Use an open store as is; open (and afterwards close) a path, a URL or the default."""
    if isinstance(store, Store):
        yield store
        return
    opened = open_store(store)
    try:
        yield opened
    finally:
        opened.close()


def _central(value: Any) -> float:
    return math.nan if value is None else float(value.central)


def _row(record: RunRecord) -> dict[str, Any]:
    from wattlm.carbon.accounting import emissions_of, footprint_of
    from wattlm.units import g_to_kg

    fp = footprint_of(record)  # a running or interrupted run: what was measured so far
    grams = emissions_of(record)
    emissions_g = math.nan if grams is None else grams
    return {
        "id": record.id, "project": record.project, "started_at": record.started_at,
        "duration_s": record.duration_s, "status": record.status,
        "energy_j": record.energy_j, "energy_kwh": record.energy_kwh,
        "net_energy_kwh": record.net_energy_kwh if record.net_energy_kwh is not None
        else math.nan,
        "emissions_g": emissions_g, "emissions_kg": g_to_kg(emissions_g),
        "embodied_kg": _central(fp.embodied_kg) if fp else math.nan,
        "total_kg": _central(fp.total_kg) if fp else math.nan,
        "water_l": _central(fp.water_l) if fp else math.nan,
        "region": record.region,
        "intensity_g_per_kwh": record.intensity_g_per_kwh
        if record.intensity_g_per_kwh is not None else math.nan,
        "pue": record.pue, "mean_power_w": record.mean_power_w,
        "peak_power_w": record.peak_power_w,
        "provenance": record.provenance.value if record.provenance else None,
        "degraded": record.degraded, "n_devices": len(record.devices),
        "n_warnings": len(record.warnings), "host": record.host,
        "exit_code": record.exit_code,
        "n_ranks": len({d.rank for d in record.devices if d.rank is not None}) or math.nan,
        "n_nodes": len({d.node for d in record.devices if d.node is not None}) or math.nan,
    }


def runs_frame(store: StoreLike = None, project: str | None = None,
               limit: int | None = None) -> Any:
    """One row per stored run, newest first, indexed by run id.

    Args:
        store: an open :class:`~wattlm.store.Store` (left open), a store path or URL, or
            ``None`` for the configured store.
        project: only runs of this project.
        limit: at most this many runs (``None``: all).

    Returns:
        A ``pandas.DataFrame`` with the columns :data:`RUN_COLUMNS`; ``started_at`` is a UTC
        timestamp; footprint columns (``embodied_kg``, ``total_kg``, ``water_l``) are the
        central values, NaN for runs without a footprint.

    Raises:
        MissingExtraError: pandas is not installed.
        InvalidInputError: ``limit`` is not a positive whole number.
    """
    pd = _pandas()
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise InvalidInputError(f"limit must be a positive whole number or None, got {limit!r}")
    with _opened(store) as opened:
        records = opened.list_runs(limit=limit if limit is not None else 2**62, project=project)
    frame = pd.DataFrame([_row(r) for r in records], columns=("id", *RUN_COLUMNS))
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True, errors="coerce",
                                         format="ISO8601")
    for column in ("energy_j", "energy_kwh", "emissions_g", "emissions_kg", "duration_s"):
        frame[column] = frame[column].astype("float64")
    frame["exit_code"] = frame["exit_code"].astype("Int64")
    return frame.set_index("id")


def devices_frame(run_id: int, store: StoreLike = None) -> Any:
    """One row per device of a run, with its node and rank in a distributed run.

    Columns :data:`DEVICE_COLUMNS`; ``node``/``rank`` are None outside a distributed run.
    Group by ``node`` or ``rank`` for per-node or per-rank totals.

    Raises:
        MissingExtraError: pandas is not installed.
        UnknownNameError: no run has this id.
    """
    pd = _pandas()
    if isinstance(run_id, bool) or not isinstance(run_id, int):
        raise InvalidInputError(f"run_id must be a whole number, got {run_id!r}")
    with _opened(store) as opened:
        record = opened.get_run(run_id)
    rows = [(d.name, d.kind, d.model, d.node, d.rank, d.energy_j, d.energy_kwh, d.mean_power_w,
             d.peak_power_w, d.provenance.value, d.degraded) for d in record.devices]
    frame = pd.DataFrame(rows, columns=DEVICE_COLUMNS)
    frame["rank"] = frame["rank"].astype("Int64")
    return frame


def device_labels(devices: Sequence[DeviceInfo]) -> list[str]:
    """Unique column labels for devices: the name, ``node/name`` in multi-node runs, ``#2``...

    Returns:
        One label per device, in order, all different.
    """
    nodes = {d.node for d in devices if d.node}
    labels: list[str] = []
    for d in devices:
        base = f"{d.node}/{d.name}" if d.node and len(nodes) > 1 else d.name
        label, n = base, 1
        while label in labels:
            n += 1
            label = f"{base}#{n}"
        labels.append(label)
    return labels


def samples_frame(run_id: int, store: StoreLike = None) -> Any:
    """The stored samples of one run, one row per sample, indexed by time.

    Columns are a two-level index ``(quantity, device)``: ``frame["energy_j"]`` holds each
    device's cumulative energy (J) since the run started, ``frame["power_w"]`` its mean power
    (W) over the interval that ends at that sample, ``ΔE / Δt`` (NaN on the first row). The
    index ``time`` holds UTC timestamps. Samples of a finished run may be downsampled
    (cumulative counters keep the totals exact). Reads closer than half the median interval to
    the previous one are merged, as in the plots, so a phase boundary read 0.3 ms after a
    sample does not show as a power spike.

    Args:
        run_id: the run's id (``wattlm runs``).
        store: an open store (left open), a path or URL, or ``None`` for the configured store.

    Raises:
        MissingExtraError: pandas is not installed.
        UnknownNameError: no run has this id.
    """
    pd = _pandas()
    if isinstance(run_id, bool) or not isinstance(run_id, int):
        raise InvalidInputError(f"run_id must be a whole number, got {run_id!r}")
    from wattlm.report.plots import spaced_samples

    with _opened(store) as opened:
        devices, samples = opened.samples(run_id)
    samples = spaced_samples(sorted(samples, key=lambda s: s.time_s))
    labels = device_labels(devices)
    times_s = [s.time_s for s in samples]
    energy = {label: [s.energy_j[i] for s in samples] for i, label in enumerate(labels)}
    power: dict[str, list[float]] = {}
    for label, values in energy.items():
        series = [math.nan]
        for k in range(1, len(values)):
            dt = times_s[k] - times_s[k - 1]
            series.append((values[k] - values[k - 1]) / dt if dt > 0 else math.nan)
        power[label] = series[:len(values)]
    index = pd.DatetimeIndex(pd.to_datetime(pd.Series(times_s, dtype="float64"), unit="s",
                                            utc=True), name="time")
    columns = pd.MultiIndex.from_tuples(
        [("energy_j", label) for label in labels] + [("power_w", label) for label in labels],
        names=["quantity", "device"])
    data = [energy[label] for label in labels] + [power[label] for label in labels]
    frame = pd.DataFrame(dict(zip(columns, data, strict=True)), index=index, columns=columns,
                         dtype="float64")
    return frame
