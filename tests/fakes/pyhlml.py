"""A fake ``pyhlml`` module with the real function names and units (pyhlml 1.6-1.9 on PyPI).

``hlmlDeviceGetTotalEnergyConsumption`` is mJ since the driver loaded, ``hlmlDeviceGetPowerUsage``
mW, names and UUIDs are ``bytes`` (``ctypes`` buffers' ``.value``); ``hlmlDeviceGetModuleID``
appeared in 1.7. Errors are ``HLMLError(code)`` whose text is ``"HLML Error with code <n>"``;
``hlmlInit`` without ``libhlml.so`` prints "Failed to load libhlml" and raises code 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HLML_ERROR_UNINITIALIZED = 1
HLML_ERROR_NOT_SUPPORTED = 3
HLML_ERROR_AIP_IS_LOST = 15


class HLMLError(Exception):
    """Stands in for ``pyhlml.HLMLError`` (carries ``value``)."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return f"HLML Error with code {self.value}"


@dataclass
class FakeHpu:
    uuid: str
    module_id: int
    name: str = "HL-225"
    energy_mj: float = 9_000_000.0
    power_mw: float = 350_000.0
    energy_supported: bool = True
    lost: bool = False

    def check(self) -> None:
        if self.lost:
            raise HLMLError(HLML_ERROR_AIP_IS_LOST)


@dataclass
class FakeHlml:
    """Module-like object; ``version`` < 1.7 lacks ``hlmlDeviceGetModuleID``."""

    hpus: list[FakeHpu] = field(default_factory=list)
    version: str = "1.9"
    lib_missing: bool = False
    inits: int = 0
    HLMLError: type[HLMLError] = HLMLError

    def __post_init__(self) -> None:
        if self.version >= "1.7":
            self.hlmlDeviceGetModuleID = self._module_id

    def hlmlInit(self) -> None:  # noqa: N802 - pyhlml's names
        if self.lib_missing:
            print("Failed to load libhlml")  # noqa: T201 - what the real one does
            raise HLMLError(HLML_ERROR_UNINITIALIZED)
        self.inits += 1

    def hlmlShutdown(self) -> None:  # noqa: N802
        self.inits -= 1

    def hlmlDeviceGetCount(self) -> int:  # noqa: N802
        return len(self.hpus)

    def hlmlDeviceGetHandleByIndex(self, index: int) -> Any:  # noqa: N802
        return self.hpus[index]

    def hlmlDeviceGetName(self, device: FakeHpu) -> bytes:  # noqa: N802
        return device.name.encode()

    def hlmlDeviceGetUUID(self, device: FakeHpu) -> bytes:  # noqa: N802
        return device.uuid.encode()

    def _module_id(self, device: FakeHpu) -> int:
        return device.module_id

    def hlmlDeviceGetPowerUsage(self, device: FakeHpu) -> int:  # noqa: N802
        device.check()
        return int(device.power_mw)

    def hlmlDeviceGetTotalEnergyConsumption(self, device: FakeHpu) -> int:  # noqa: N802
        device.check()
        if not device.energy_supported:
            raise HLMLError(HLML_ERROR_NOT_SUPPORTED)
        return int(device.energy_mj)


def fake_hlml(n: int = 2, version: str = "1.9", first_module: int = 0,
              **kwargs: Any) -> FakeHlml:
    """``n`` fake Gaudis with module ids from ``first_module``."""
    return FakeHlml(hpus=[FakeHpu(uuid=f"01P0-HL2080A0-15-TNPS34-20-07-{i:02d}",
                                  module_id=first_module + i, **kwargs) for i in range(n)],
                    version=version)


#: ``hl-smi -Q index,module_id,uuid,name,power.draw -f csv,noheader,nounits`` on a node that
#: gives the job half of its eight HL-225s (written from the documented CSV query format).
HLSMI_CSV = """\
0, 4, 01P0-HL2080A0-15-TNPS34-20-07-04, HL-225, 97
1, 5, 01P0-HL2080A0-15-TNPS34-20-07-05, HL-225, 102
2, 6, 01P0-HL2080A0-15-TNPS34-20-07-06, HL-225, 421
3, 7, 01P0-HL2080A0-15-TNPS34-20-07-07, HL-225, N/A
"""
