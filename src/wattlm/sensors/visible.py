"""Which devices a job sees: the visible-devices variables of CUDA, ROCm and Habana.

One parser serves every GPU-like backend. Entries are indices (into the vendor library's
enumeration) or UUIDs / UUID prefixes; a job's device ``i`` is the ``i``-th entry that was
understood, so sensors are named as the job sees them (``gpu:0`` is the job's first GPU).

* ``CUDA_VISIBLE_DEVICES`` (NVIDIA): indices or ``GPU-<uuid>`` prefixes; CUDA reads the list up
  to the first invalid (or repeated) entry; ``""``, ``-1`` or ``NoDevFiles`` hide every GPU.
* ``ROCR_VISIBLE_DEVICES`` then ``HIP_VISIBLE_DEVICES`` (AMD): ROCr filters first, HIP then
  indexes into what ROCr left; HIP also accepts ``CUDA_VISIBLE_DEVICES`` when
  ``HIP_VISIBLE_DEVICES`` is unset. Same entry rules (UUIDs with or without ``GPU-``).
* ``HABANA_VISIBLE_MODULES`` (Intel Gaudi): module ids (``hl-smi``'s ``module_id``), not
  enumeration indices; unknown ids are skipped.

An entry that names no device is *bad input*: the result carries a ``problem`` (shown by
``wattlm env`` and warned as ``W140`` in a run) while the devices understood are still used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Visibility",
    "cuda_visible",
    "habana_visible",
    "hip_visible",
    "parse_mask",
    "parse_visible_devices",
]

_HIDE_ALL = ("", "NoDevFiles")


@dataclass(frozen=True)
class Visibility:
    """The outcome of a mask: library indices in the job's order, and what was not understood.

    Attributes:
        indices: indices into the library's enumeration, in the order the job sees them.
        note: why entries were ignored or everything was hidden ('' when all was understood).
        problem: whether the variable named devices that do not exist (bad input, warned).
    """

    indices: list[int]
    note: str = ""
    problem: bool = False


def _match_uuid(entry: str, uuids: Sequence[str]) -> int | None:
    """Index of the only UUID that ``entry`` is a prefix of (``GPU-`` optional on both)."""
    want = entry.lower().removeprefix("gpu-")
    if not want:
        return None
    hits = [i for i, u in enumerate(uuids) if u and u.lower().removeprefix("gpu-").startswith(want)]
    return hits[0] if len(hits) == 1 else None


def _resolve(entry: str, uuids: Sequence[str], bare_uuids: bool) -> int | None:
    if entry.lstrip("+-").isdigit():
        number = int(entry)
        return number if 0 <= number < len(uuids) else None
    if not bare_uuids and not entry.lower().startswith("gpu-"):
        return None  # CUDA needs the GPU- prefix
    return _match_uuid(entry, uuids)


def parse_mask(value: str | None, uuids: Sequence[str], variable: str, *,
               bare_uuids: bool = False) -> Visibility:
    """Apply one CUDA-style mask (read up to the first invalid or repeated entry).

    Args:
        value: the variable's value (None when unset: every device is visible).
        uuids: the UUID of each device, by library index ('' where unknown).
        variable: the variable's name, for the note.
        bare_uuids: accept UUIDs without the ``GPU-`` prefix (ROCm does, CUDA does not).

    Returns:
        A :class:`Visibility`; ``problem`` is set when an entry named no device.
    """
    if value is None:
        return Visibility(list(range(len(uuids))))
    text = value.strip()
    if text in _HIDE_ALL:
        return Visibility([], f"{variable}={value!r} hides every GPU")
    chosen: list[int] = []
    for raw in text.split(","):
        entry = raw.strip()
        index = _resolve(entry, uuids, bare_uuids)
        if index is None or index in chosen:
            if entry.lstrip("+-").isdigit() and int(entry) < 0:
                return Visibility(chosen, f"{variable}={value!r}: {entry} hides the rest")
            known = f"{len(uuids)} device(s) here: indices 0-{len(uuids) - 1}" if uuids \
                else "no device here"
            return Visibility(chosen, f"{variable} entry {entry!r} is not a visible GPU here "
                              f"({known}); it and the entries after it are ignored, as the "
                              "runtime does", problem=True)
        chosen.append(index)
    return Visibility(chosen)


def parse_visible_devices(value: str | None, uuids: list[str]) -> tuple[list[int], str]:
    """``CUDA_VISIBLE_DEVICES`` as the CUDA runtime reads it (kept for existing callers).

    Args:
        value: ``CUDA_VISIBLE_DEVICES`` (None when unset).
        uuids: the UUID of every NVML device, by NVML index.

    Returns:
        ``(indices, note)``: NVML indices in visible order, and a note when entries were ignored.
    """
    result = parse_mask(value, uuids, "CUDA_VISIBLE_DEVICES")
    return result.indices, result.note


def cuda_visible(environ: Mapping[str, str], uuids: Sequence[str]) -> Visibility:
    """The NVIDIA GPUs a job sees, from ``CUDA_VISIBLE_DEVICES``."""
    return parse_mask(environ.get("CUDA_VISIBLE_DEVICES"), uuids, "CUDA_VISIBLE_DEVICES")


def hip_visible(environ: Mapping[str, str], uuids: Sequence[str]) -> Visibility:
    """The AMD GPUs a job sees: ``ROCR_VISIBLE_DEVICES``, then ``HIP_VISIBLE_DEVICES``.

    ``HIP_VISIBLE_DEVICES`` indexes into the devices ROCr left visible; when it is unset HIP
    reads ``CUDA_VISIBLE_DEVICES`` the same way.
    """
    rocr = parse_mask(environ.get("ROCR_VISIBLE_DEVICES"), uuids, "ROCR_VISIBLE_DEVICES",
                      bare_uuids=True)
    hip_name = "HIP_VISIBLE_DEVICES" if "HIP_VISIBLE_DEVICES" in environ \
        else "CUDA_VISIBLE_DEVICES"
    left = [uuids[i] for i in rocr.indices]
    hip = parse_mask(environ.get(hip_name), left, hip_name, bare_uuids=True)
    notes = "; ".join(n for n in (rocr.note, hip.note) if n)
    return Visibility([rocr.indices[i] for i in hip.indices], notes, rocr.problem or hip.problem)


def habana_visible(environ: Mapping[str, str], module_ids: Sequence[int]) -> Visibility:
    """The Gaudi devices a job sees, from ``HABANA_VISIBLE_MODULES`` (module ids).

    Args:
        environ: the environment.
        module_ids: each device's module id, by library index.

    Returns:
        Library indices in the order of the variable; unknown ids are skipped with a problem.
    """
    value = environ.get("HABANA_VISIBLE_MODULES")
    if value is None:
        return Visibility(list(range(len(module_ids))))
    if not value.strip():
        return Visibility([], f"HABANA_VISIBLE_MODULES={value!r} hides every device")
    chosen: list[int] = []
    bad: list[str] = []
    for raw in value.split(","):
        entry = raw.strip()
        if entry.isdigit() and int(entry) in module_ids:
            index = list(module_ids).index(int(entry))
            if index not in chosen:
                chosen.append(index)
                continue
        bad.append(entry)
    if not bad:
        return Visibility(chosen)
    known = ", ".join(str(m) for m in module_ids) or "none"
    return Visibility(chosen, f"HABANA_VISIBLE_MODULES entries {', '.join(map(repr, bad))} are "
                      f"not module ids here (modules: {known}); skipped", problem=True)
