"""Builder for fake powercap (RAPL) sysfs trees in a temporary directory.

The kernel exposes each zone nested in its parent (``intel-rapl:0/intel-rapl:0:1``) and also
as a flat symlink at the root (``intel-rapl:0:1``). :class:`FakePowercap` builds the nested
directories and, with ``flat_links=True``, the symlinks too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


class FakePowercap:
    """A powercap tree under ``root`` whose counters a test can move, hide and remove."""

    def __init__(self, root: Path, *, flat_links: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.flat_links = flat_links
        self.zones: dict[str, Path] = {}

    def add_zone(self, zone: str, name: str, energy_uj: int = 0,
                 max_energy_range_uj: int = 262_143_328_850,
                 max_power_uw: int | None = None) -> Path:
        """Create zone ``zone`` (e.g. ``intel-rapl:0:1``) named ``name`` (e.g. ``dram``).

        ``max_power_uw`` writes ``constraint_0_max_power_uw`` (the long-term constraint's
        maximum, usually the package TDP), as the kernel does where the hardware states it.
        """
        parts = zone.split(":")
        if len(parts) > 2:
            parent = ":".join(parts[:-1])
            path = self.zones[parent] / zone
        else:
            path = self.root / zone
        path.mkdir(parents=True)
        (path / "name").write_text(name + "\n")
        (path / "energy_uj").write_text(f"{energy_uj}\n")
        (path / "max_energy_range_uj").write_text(f"{max_energy_range_uj}\n")
        (path / "enabled").write_text("1\n")
        if max_power_uw is not None:
            (path / "constraint_0_name").write_text("long_term\n")
            (path / "constraint_0_max_power_uw").write_text(f"{max_power_uw}\n")
            (path / "constraint_0_power_limit_uw").write_text(f"{max_power_uw}\n")
        if self.flat_links and len(parts) > 2:
            os.symlink(path, self.root / zone)
        self.zones[zone] = path
        return path

    def energy(self, zone: str) -> int:
        """The zone's current counter (uJ)."""
        return int((self.zones[zone] / "energy_uj").read_text())

    def set_energy(self, zone: str, energy_uj: int) -> None:
        """Set the counter to a value (a test can wrap it this way)."""
        (self.zones[zone] / "energy_uj").write_text(f"{energy_uj}\n")

    def advance(self, zone: str, delta_uj: int) -> None:
        """Add ``delta_uj`` to the counter, wrapping at ``max_energy_range_uj`` like the kernel."""
        top = int((self.zones[zone] / "max_energy_range_uj").read_text())
        value = self.energy(zone) + delta_uj
        if value > top:
            value -= top
        self.set_energy(zone, value)

    def deny(self, zone: str) -> None:
        """Make ``energy_uj`` root-only (mode 0400), as kernels since 5.10 do."""
        (self.zones[zone] / "energy_uj").chmod(0o400)

    def remove(self, zone: str) -> None:
        """Delete a zone (and its flat link), as when a driver is unloaded."""
        link = self.root / zone
        if link.is_symlink():
            link.unlink()
        shutil.rmtree(self.zones.pop(zone))


def intel_two_sockets(root: Path, *, flat_links: bool = True, mmio: bool = True,
                      psys: bool = False) -> FakePowercap:
    """A two-socket Intel server: package, core and dram per socket, mmio duplicate of socket 0.

    Counters start at 1,000,000 uJ (socket 0) and 2,000,000 uJ (socket 1).
    """
    tree = FakePowercap(root, flat_links=flat_links)
    for socket in (0, 1):
        base = f"intel-rapl:{socket}"
        start = 1_000_000 * (socket + 1)
        tree.add_zone(base, f"package-{socket}", start)
        tree.add_zone(f"{base}:0", "core", start // 2)
        tree.add_zone(f"{base}:1", "dram", start // 10)
    if mmio:
        tree.add_zone("intel-rapl-mmio:0", "package-0", 5_000_000)
    if psys:
        tree.add_zone("intel-rapl:2", "psys", 9_000_000)
    return tree
