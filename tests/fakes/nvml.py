"""A fake ``pynvml`` module: scripted GPUs with energy counters, power, and failures.

Only the functions wattlm uses are provided. Values follow the real units: total energy in
mJ, power in mW. A GPU can lack the energy counter (``energy_supported=False``: the call
raises ``NVMLError`` "Not Supported", as on pre-Volta GPUs) or start failing after a number of
reads (``fail_after``), as when a GPU falls off the bus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class NVMLError(Exception):
    """Stands in for ``pynvml.NVMLError`` (carries an NVML return code)."""

    def __init__(self, value: int, text: str = "") -> None:
        super().__init__(text or f"NVML error {value}")
        self.value = value


NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_DRIVER_NOT_LOADED = 9


@dataclass
class FakeGpu:
    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    energy_mj: float = 1_000_000.0
    power_mw: float = 300_000.0
    energy_supported: bool = True
    fail_after: int | None = None  # reads (energy or power) before every call fails
    reads: int = 0
    max_limit_mw: int | None = 700_000  # highest settable power limit; None: "Not Supported"

    def _read(self) -> None:
        if self.fail_after is not None and self.reads >= self.fail_after:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST, "GPU is lost")
        self.reads += 1


@dataclass
class FakeNvml:
    """Module-like object: ``nvml.nvmlInit()``, ``nvml.NVMLError``, ..."""

    gpus: list[FakeGpu] = field(default_factory=list)
    init_error: bool = False
    inits: int = 0
    shutdowns: int = 0
    NVMLError: type[NVMLError] = NVMLError

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        if self.init_error:
            raise NVMLError(NVML_ERROR_DRIVER_NOT_LOADED, "Driver Not Loaded")
        self.inits += 1

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.shutdowns += 1

    def _check(self) -> None:
        if self.inits <= self.shutdowns:
            raise NVMLError(1, "Uninitialized")

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        self._check()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:  # noqa: N802
        self._check()
        if not 0 <= index < len(self.gpus):
            raise NVMLError(2, "Invalid Argument")
        return self.gpus[index]

    def nvmlDeviceGetHandleByUUID(self, uuid: str | bytes) -> Any:  # noqa: N802
        self._check()
        text = uuid.decode() if isinstance(uuid, bytes) else uuid
        for gpu in self.gpus:
            if gpu.uuid == text:
                return gpu
        raise NVMLError(6, "Not Found")

    def nvmlDeviceGetUUID(self, handle: FakeGpu) -> str:  # noqa: N802
        return handle.uuid

    def nvmlDeviceGetName(self, handle: FakeGpu) -> bytes:  # noqa: N802 - old pynvml: bytes
        return handle.name.encode()

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeGpu) -> int:  # noqa: N802
        self._check()
        if not handle.energy_supported:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED, "Not Supported")
        handle._read()
        return int(handle.energy_mj)

    def nvmlDeviceGetPowerUsage(self, handle: FakeGpu) -> int:  # noqa: N802
        self._check()
        handle._read()
        return int(handle.power_mw)

    def nvmlDeviceGetPowerManagementLimitConstraints(  # noqa: N802
            self, handle: FakeGpu) -> list[int]:
        """``[min, max]`` settable power limit in mW, as pynvml returns it."""
        self._check()
        if handle.max_limit_mw is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED, "Not Supported")
        return [handle.max_limit_mw // 4, handle.max_limit_mw]


def uuid_of(i: int) -> str:
    """A realistic UUID for fake GPU ``i``."""
    return f"GPU-{i:08x}-1111-2222-3333-44444444{i:04x}"


def fake_nvml(n: int = 2, **kwargs: Any) -> FakeNvml:
    """``n`` identical fake GPUs (keyword arguments go to every :class:`FakeGpu`)."""
    return FakeNvml(gpus=[FakeGpu(uuid=uuid_of(i), **kwargs) for i in range(n)])
