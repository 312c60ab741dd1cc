"""Apple Silicon at the system boundary: recorded powermetrics plist output, an IOReport shim.

The plist samples are written from powermetrics' documented ``-f plist`` format (man
powermetrics; the keys asitop parses): one XML plist per sample, samples separated by a NUL
byte, ``elapsed_ns`` at the top, and in ``processor`` the interval's ``cpu_energy`` /
``gpu_energy`` / ``ane_energy`` (mJ) with ``cpu_power`` / ``gpu_power`` / ``ane_power`` /
``combined_power`` (mW). The second sample is of an older macOS that prints only the powers.
"""

from __future__ import annotations

import os
from typing import Any

_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST '
         '1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n')

#: 500 ms on an M2 Pro under load: CPU 1.234 J, GPU 4.5 J, ANE 0.2 J
SAMPLE_WITH_ENERGY = _HEAD + """<dict>
  <key>is_delta</key><true/>
  <key>elapsed_ns</key><integer>500123000</integer>
  <key>hw_model</key><string>Mac14,10</string>
  <key>kern_osversion</key><string>23E224</string>
  <key>timestamp</key><date>2026-12-01T09:00:00Z</date>
  <key>processor</key>
  <dict>
    <key>clusters</key><array/>
    <key>ane_energy</key><integer>200</integer>
    <key>cpu_energy</key><integer>1234</integer>
    <key>gpu_energy</key><integer>4500</integer>
    <key>ane_power</key><real>399.9</real>
    <key>cpu_power</key><real>2467.4</real>
    <key>gpu_power</key><real>8997.8</real>
    <key>combined_power</key><real>11865.1</real>
  </dict>
  <key>gpu</key>
  <dict>
    <key>freq_hz</key><real>1398.0</real>
    <key>idle_ratio</key><real>0.02</real>
    <key>gpu_energy</key><integer>4500</integer>
  </dict>
</dict>
</plist>
"""

#: 1 s on an older macOS (powers only, mW): CPU 3 W, GPU 1.5 W, ANE 0 W
SAMPLE_POWER_ONLY = _HEAD + """<dict>
  <key>elapsed_ns</key><integer>1000000000</integer>
  <key>processor</key>
  <dict>
    <key>cpu_power</key><real>3000.0</real>
    <key>gpu_power</key><real>1500.0</real>
    <key>ane_power</key><real>0.0</real>
    <key>combined_power</key><real>4500.0</real>
  </dict>
</dict>
</plist>
"""


class FakeIOReport:
    """The IOReport reader's interface with scripted cumulative energies (J per part)."""

    def __init__(self, parts: tuple[str, ...] = ("cpu", "gpu", "ane", "dram")) -> None:
        self.total_j = dict.fromkeys(parts, 0.0)
        self.opened = 0
        self.closed = 0
        self.broken = ""

    def __call__(self) -> FakeIOReport:  # the factory the context holds
        if self.broken:
            raise OSError(self.broken)
        self.opened += 1
        return self

    def energy_j(self) -> dict[str, float]:
        if self.broken:
            raise OSError(self.broken)
        return dict(self.total_j)

    def close(self) -> None:
        self.closed += 1


class FakeProcess:
    """A spawned command whose stdout is a real pipe the test writes recorded output into."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        read_fd, self._write_fd = os.pipe()
        self.stdout = os.fdopen(read_fd, "rb", buffering=0)
        self.returncode: int | None = None

    def feed(self, data: bytes) -> None:
        os.write(self._write_fd, data)

    def finish(self, code: int = 0) -> None:
        if self.returncode is None:
            os.close(self._write_fd)
            self.returncode = code

    def poll(self) -> int | None:
        return self.returncode

    def terminate(self) -> None:
        self.finish(-15)

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode if self.returncode is not None else 0


class Spawner:
    """``ProbeContext.spawn``: records each command and hands out :class:`FakeProcess` es."""

    def __init__(self) -> None:
        self.processes: list[FakeProcess] = []

    def __call__(self, argv: Any) -> FakeProcess:
        process = FakeProcess(list(argv))
        self.processes.append(process)
        return process
