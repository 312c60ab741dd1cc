"""cgroups (v1 and v2): CPU quota and memory limit of a process, and a cgroup's processes and CPU.

Every function takes the cgroup mount (``cgroup_root``) and the proc mount (``proc_root``) as
arguments, so tests pass a tree built in ``tmp_path``. Nothing here raises for a missing or
unreadable file: the answer is then "unknown" (None, or an empty list).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cgroup_cpu_quota_cores", "cgroup_cpu_usage_s", "cgroup_directory",
           "cgroup_memory_limit_bytes", "cgroup_pids", "create_run_cgroup", "is_v2"]

_V1_UNLIMITED = 2**62  # v1 reports "no limit" as a page-rounded 2**63 - 1


def _cgroup_dirs(cgroup_root: Path, proc_root: Path, pid: int, controller: str) -> list[Path]:
    """List the process's cgroup directory and its existing ancestors, deepest first.

    ``controller`` is '' for cgroup v2, or the v1 hierarchy name (``cpu``, ``memory``).
    """
    relative = "/"
    try:
        lines = (proc_root / str(pid) / "cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if (controller == "" and parts[0] == "0" and parts[1] == "") or (
                controller and controller in parts[1].split(",")):
            relative = parts[2]
            break
    base = cgroup_root if controller == "" else _v1_mount(cgroup_root, controller)
    if base is None:
        return []
    out: list[Path] = []
    current = Path(relative.strip() or "/")
    while True:
        candidate = base / str(current).lstrip("/")
        if candidate.is_dir() and candidate not in out:
            out.append(candidate)
        if current == current.parent:
            break
        current = current.parent
    if base not in out and base.is_dir():
        out.append(base)
    return out


def _v1_mount(cgroup_root: Path, controller: str) -> Path | None:
    for name in (controller, f"{controller},cpuacct", f"cpuacct,{controller}"):
        if (cgroup_root / name).is_dir():
            return cgroup_root / name
    return None


def _is_v2(cgroup_root: Path) -> bool:
    return (cgroup_root / "cgroup.controllers").exists()


def cgroup_cpu_quota_cores(cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup", *,
                           pid: int | None = None,
                           proc_root: str | os.PathLike[str] = "/proc") -> float | None:
    """Return the CPU quota of the process's cgroup in cores (None: unlimited or unknown).

    Reads ``cpu.max`` (v2: ``"<quota> <period>"`` or ``"max <period>"``) or
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (v1, quota -1 = unlimited) in the process's
    cgroup and every ancestor, and returns the smallest.

    Args:
        cgroup_root: the cgroup mount (injectable for tests).
        pid: the process (default: this one).
        proc_root: where ``<pid>/cgroup`` is read.
    """
    root, proc = Path(cgroup_root), Path(proc_root)
    pid = os.getpid() if pid is None else pid
    limits: list[float] = []
    if _is_v2(root):
        for directory in _cgroup_dirs(root, proc, pid, ""):
            try:
                quota, _, period = (directory / "cpu.max").read_text().strip().partition(" ")
                if quota != "max" and float(period or 100000) > 0:
                    limits.append(float(quota) / float(period or 100000))
            except (OSError, ValueError):
                continue
    else:
        for directory in _cgroup_dirs(root, proc, pid, "cpu"):
            try:
                quota_us = float((directory / "cpu.cfs_quota_us").read_text())
                period_us = float((directory / "cpu.cfs_period_us").read_text())
            except (OSError, ValueError):
                continue
            if quota_us > 0 and period_us > 0:
                limits.append(quota_us / period_us)
    return min(limits) if limits else None


def cgroup_memory_limit_bytes(cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup", *,
                              pid: int | None = None,
                              proc_root: str | os.PathLike[str] = "/proc") -> int | None:
    """Return the memory limit of the process's cgroup in bytes (None: unlimited/unknown).

    Reads ``memory.max`` (v2, ``max`` = unlimited) or ``memory.limit_in_bytes`` (v1, values
    near 2**63 = unlimited) in the process's cgroup and its ancestors; returns the smallest.
    """
    root, proc = Path(cgroup_root), Path(proc_root)
    pid = os.getpid() if pid is None else pid
    v2 = _is_v2(root)
    filename = "memory.max" if v2 else "memory.limit_in_bytes"
    limits: list[int] = []
    for directory in _cgroup_dirs(root, proc, pid, "" if v2 else "memory"):
        try:
            text = (directory / filename).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < _V1_UNLIMITED:
            limits.append(int(text))
    return min(limits) if limits else None


# ---------------------------------------------------------------- a cgroup's processes and CPU


def is_v2(cgroup_root: str | os.PathLike[str]) -> bool:
    """Whether ``cgroup_root`` is a cgroup v2 (unified) mount."""
    return _is_v2(Path(cgroup_root))


def cgroup_directory(cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup", *,
                     pid: int | None = None,
                     proc_root: str | os.PathLike[str] = "/proc") -> Path | None:
    """The directory of the process's own cgroup: v2, else the v1 ``cpuacct`` hierarchy.

    Returns None when neither is mounted under ``cgroup_root`` or the process is unknown.
    """
    root, proc = Path(cgroup_root), Path(proc_root)
    pid = os.getpid() if pid is None else pid
    dirs = _cgroup_dirs(root, proc, pid, "" if _is_v2(root) else "cpuacct")
    return dirs[0] if dirs else None


def cgroup_cpu_usage_s(directory: Path) -> float | None:
    """CPU-seconds used by every process that ever ran in the cgroup (and its sub-cgroups).

    v2 ``cpu.stat`` ``usage_usec``; v1 ``cpuacct.usage`` (ns). None when unreadable.
    """
    try:
        for line in (directory / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
    except (OSError, ValueError):
        pass
    try:
        return int((directory / "cpuacct.usage").read_text()) / 1e9
    except (OSError, ValueError):
        return None


def cgroup_pids(directory: Path) -> list[int]:
    """Processes in the cgroup and its sub-cgroups (``cgroup.procs``, read recursively)."""
    pids: list[int] = []
    for current, subdirs, files in os.walk(directory):
        if "cgroup.procs" not in files:
            continue
        try:
            text = Path(current, "cgroup.procs").read_text()
        except OSError:
            continue
        pids.extend(int(p) for p in text.split() if p.isdigit())
        subdirs.sort()
    return pids


def create_run_cgroup(name: str, cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup", *,
                      pid: int | None = None,
                      proc_root: str | os.PathLike[str] = "/proc") -> Path:
    """Create a cgroup v2 named ``name`` below the process's own, for one run's processes.

    A process can be moved there only when its writer may write ``cgroup.procs`` both in the
    new cgroup and in the common ancestor (the process's current cgroup), so both are checked.

    Raises:
        OSError: no cgroup v2, or the cgroup cannot be created or written (the message says why).
    """
    root = Path(cgroup_root)
    if not _is_v2(root):
        raise OSError("no cgroup v2 mounted at " + str(root))
    parent = cgroup_directory(root, pid=pid, proc_root=proc_root)
    if parent is None:
        raise OSError("this process's cgroup is not found under " + str(root))
    if not os.access(parent / "cgroup.procs", os.W_OK):
        raise OSError(f"{parent} is not writable (no delegated cgroup)")
    target = parent / name
    target.mkdir(exist_ok=True)
    if not os.access(target / "cgroup.procs", os.W_OK):
        target.rmdir()
        raise OSError(f"{target / 'cgroup.procs'} is not writable")
    return target
