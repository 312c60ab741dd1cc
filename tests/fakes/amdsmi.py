"""A fake ``amdsmi`` module with the real function names and return shapes of several versions.

Shapes read from the amdsmi wheels on PyPI (``amdsmi/amdsmi_interface.py``):

* ``amdsmi_get_energy_count`` returns ``{"power", "counter_resolution", "timestamp"}`` in
  5.7-6.3 and ``{"energy_accumulator", "counter_resolution", "timestamp"}`` from 6.4 (the
  accumulator counts units of ``counter_resolution`` uJ);
* ``amdsmi_get_power_info`` returns ``average_socket_power`` (+ voltages, ``power_limit``) in
  5.7, adds ``current_socket_power`` in 6.x and ``socket_power`` in 7.0; unsupported fields are
  the string ``"N/A"`` (6.1+);
* ``amdsmi_get_gpu_asic_info`` has ``oam_id`` from 6.1; ``amdsmi_get_gpu_enumeration_info``
  (with ``hip_id``) exists from 7.0;
* errors are ``AmdSmiLibraryException(err_code)``, a subclass of ``AmdSmiException``, whose text
  is ``"Error code:\\n\\t<code> | <AMDSMI_STATUS_...> - <meaning>"``.

Time is simulated: :meth:`FakeAmdSmi.advance` moves the clock and every GPU's accumulator by its
power (x ``counter_scale``, to script an implausible counter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_NOT_FOUND = 31
AMDSMI_STATUS_DRIVER_NOT_LOADED = 34
_MEANING = {2: "AMDSMI_STATUS_NOT_SUPPORTED - Feature not supported",
            31: "AMDSMI_STATUS_NOT_FOUND - Device Not found",
            34: "AMDSMI_STATUS_DRIVER_NOT_LOADED - Driver not loaded"}


class AmdSmiException(Exception):  # noqa: N818 - amdsmi's name
    """Base of amdsmi's exceptions."""


class AmdSmiLibraryException(AmdSmiException):
    """A failed library call, with its status code."""

    def __init__(self, err_code: int) -> None:
        super().__init__(err_code)
        self.err_code = abs(err_code)

    def __str__(self) -> str:
        return f"Error code:\n\t{self.err_code} | {_MEANING.get(self.err_code, 'UNKNOWN')}"

    def get_error_code(self) -> int:
        return self.err_code


class AmdSmiInitFlags(IntEnum):
    INIT_ALL_PROCESSORS = 0xFFFFFFFF
    INIT_AMD_GPUS = 2


@dataclass
class FakeAmdGpu:
    uuid: str
    market_name: str = "AMD Instinct MI300X"
    oam_id: int | None = None
    power_w: float = 500.0
    energy_supported: bool = True
    own_readings: bool = True          # False: the second GCD of an MI250X (no sensors of its own)
    resolution_uj: float = 15.259      # MI200/MI300 report 15.259 uJ per count
    energy_uj: float = 4.2e12          # since the driver loaded
    counter_scale: float = 1.0         # 1: honest counter
    shares_counter_with: FakeAmdGpu | None = None  # this die reports its partner's counter
    hip_id: int | None = None
    lost: bool = False                 # fell off the bus: every call fails

    def read(self) -> None:
        if self.lost:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_FOUND)


@dataclass
class FakeAmdSmi:
    """Module-like object; ``version`` picks the return shapes (5.7, 6.2, 6.4, 7.0)."""

    gpus: list[FakeAmdGpu] = field(default_factory=list)
    version: str = "6.4"
    init_error: int | None = None
    now: float = 1000.0
    inits: int = 0
    AmdSmiException: type[AmdSmiException] = AmdSmiException
    AmdSmiLibraryException: type[AmdSmiLibraryException] = AmdSmiLibraryException
    AmdSmiInitFlags: type[AmdSmiInitFlags] = AmdSmiInitFlags

    def __post_init__(self) -> None:
        if self.version >= "7.0":
            self.amdsmi_get_gpu_enumeration_info = self._enumeration_info

    # -- simulation ---------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: every counting GPU's accumulator moves by its power."""
        self.now += seconds
        for gpu in self.gpus:
            if gpu.own_readings:
                gpu.energy_uj += gpu.power_w * seconds * 1e6 * gpu.counter_scale

    def clock(self) -> float:
        return self.now

    # -- the real API -------------------------------------------------------------------
    def amdsmi_init(self, flag: AmdSmiInitFlags = AmdSmiInitFlags.INIT_AMD_GPUS) -> None:
        if self.init_error is not None:
            raise AmdSmiLibraryException(self.init_error)
        self.inits += 1

    def amdsmi_shut_down(self) -> None:
        self.inits -= 1

    def amdsmi_get_processor_handles(self) -> list[Any]:
        return list(self.gpus)

    def amdsmi_get_gpu_device_uuid(self, handle: FakeAmdGpu) -> str:
        return handle.uuid

    def amdsmi_get_gpu_asic_info(self, handle: FakeAmdGpu) -> dict[str, Any]:
        info: dict[str, Any] = {"market_name": handle.market_name, "vendor_id": 4098,
                                "device_id": 29856, "rev_id": "0x00", "asic_serial": "0x1"}
        if self.version >= "6.1":
            info["oam_id"] = handle.oam_id if handle.oam_id is not None else "N/A"
        return info

    def _enumeration_info(self, handle: FakeAmdGpu) -> dict[str, Any]:
        return {"drm_render": 128, "drm_card": 0, "hsa_id": 2,
                "hip_id": handle.hip_id if handle.hip_id is not None else "N/A",
                "hip_uuid": handle.uuid}

    def amdsmi_get_energy_count(self, handle: FakeAmdGpu) -> dict[str, Any]:
        handle.read()
        if not handle.energy_supported:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        source = handle.shares_counter_with or handle
        count = int(source.energy_uj / source.resolution_uj) if source.own_readings else 0
        key = "energy_accumulator" if self.version >= "6.4" else "power"
        return {key: count, "counter_resolution": source.resolution_uj,
                "timestamp": int(self.now * 1e9)}

    def amdsmi_get_power_info(self, handle: FakeAmdGpu) -> dict[str, Any]:
        handle.read()
        power: Any = int(handle.power_w) if handle.own_readings else "N/A"
        if self.version < "6.1":
            return {"average_socket_power": power if power != "N/A" else 0, "gfx_voltage": 0,
                    "soc_voltage": 0, "mem_voltage": 0, "power_limit": 750}
        info = {"current_socket_power": power, "average_socket_power": "N/A",
                "gfx_voltage": "N/A", "soc_voltage": "N/A", "mem_voltage": "N/A",
                "power_limit": 750}
        if self.version >= "7.0":
            info["socket_power"] = power
        return info


def amd_uuid(i: int) -> str:
    """A UUID as amdsmi prints them."""
    return f"{i:02x}ff74a1-0000-1000-80ea-2b0b1f3c{i:04x}"


def fake_amdsmi(n: int = 2, version: str = "6.4", **kwargs: Any) -> FakeAmdSmi:
    """``n`` identical fake GPUs (keyword arguments go to every :class:`FakeAmdGpu`)."""
    return FakeAmdSmi(gpus=[FakeAmdGpu(uuid=amd_uuid(i), **kwargs) for i in range(n)],
                      version=version)


def mi250x(packages: int = 1, version: str = "6.2") -> FakeAmdSmi:
    """MI250X packages: two GCDs each, the package's sensors reported on the first GCD."""
    gpus = []
    for p in range(packages):
        first = FakeAmdGpu(uuid=amd_uuid(2 * p), market_name="AMD Instinct MI250X",
                           oam_id=p, power_w=400.0)
        second = FakeAmdGpu(uuid=amd_uuid(2 * p + 1), market_name="AMD Instinct MI250X",
                            oam_id=p, power_w=400.0, own_readings=False)
        gpus += [first, second]
    return FakeAmdSmi(gpus=gpus, version=version)
