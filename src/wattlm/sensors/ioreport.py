"""Apple Silicon energy counters through IOReport (``libIOReport.dylib``), read with ctypes.

IOReport is the private macOS framework behind ``powermetrics``; its ``Energy Model`` group
has one channel per SoC part with the energy used since the previous sample, readable by any
user (no sudo). Calls used (as tools such as ``zeus-apple-silicon``, asitop and macmon use
them)::

    IOReportCopyChannelsInGroup(CFSTR("Energy Model"), NULL, 0, 0, 0) -> CFDictionaryRef
    IOReportCreateSubscription(NULL, channels, &subscribed, 0, NULL)  -> subscription
    IOReportCreateSamples(subscription, subscribed, NULL)            -> CFDictionaryRef
    IOReportCreateSamplesDelta(previous, current, NULL)              -> CFDictionaryRef
    delta["IOReportChannels"] : CFArray of channel dictionaries
    IOReportChannelGetGroup / GetChannelName / GetUnitLabel (CFStringRef)
    IOReportSimpleGetIntegerValue(channel, 0) -> int64 (in the unit label: mJ, uJ or nJ)

Channels are mapped to parts by name: ``...CPU Energy`` -> ``cpu``, ``GPU Energy`` -> ``gpu``,
``ANE...`` -> ``ane``, ``DRAM...`` -> ``dram``. Their values come from the SoC's energy model
(Apple does not document their accuracy). :class:`IOReportReader` keeps the running sum of the
deltas per part. On any other platform opening it raises :class:`OSError`.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

__all__ = ["IOReportReader", "part_of_channel", "to_joules"]

_UTF8 = 0x08000100  # kCFStringEncodingUTF8
_UNITS_J = {"mJ": 1e-3, "uJ": 1e-6, "µJ": 1e-6, "nJ": 1e-9}
IOREPORT_PATH = "/usr/lib/libIOReport.dylib"
COREFOUNDATION_PATH = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"


def part_of_channel(name: str) -> str | None:
    """The SoC part an ``Energy Model`` channel measures (None: not summed)."""
    if name.endswith("CPU Energy"):
        return "cpu"
    if name.endswith("GPU Energy"):
        return "gpu"
    if name.startswith("ANE"):
        return "ane"
    if name.startswith("DRAM"):
        return "dram"
    return None


def to_joules(value: int, unit: str) -> float:
    """A channel value in J (``unit`` is the channel's unit label)."""
    scale = _UNITS_J.get(unit.strip())
    if scale is None:
        raise OSError(f"IOReport channel unit {unit!r} is not an energy unit")
    return value * scale


def _bind(lib: Any, name: str, restype: Any, argtypes: list[Any]) -> Any:
    func = getattr(lib, name)
    func.restype, func.argtypes = restype, argtypes
    return func


class _CoreFoundation:
    """The few CoreFoundation calls needed to walk IOReport's dictionaries."""

    def __init__(self) -> None:
        cf = ctypes.CDLL(COREFOUNDATION_PATH)
        p, c_long = ctypes.c_void_p, ctypes.c_long
        self.string = _bind(cf, "CFStringCreateWithCString", p, [p, ctypes.c_char_p,
                                                                  ctypes.c_uint32])
        self.get_cstring = _bind(cf, "CFStringGetCString", ctypes.c_bool,
                                 [p, ctypes.c_char_p, c_long, ctypes.c_uint32])
        self.dict_get = _bind(cf, "CFDictionaryGetValue", p, [p, p])
        self.dict_count = _bind(cf, "CFDictionaryGetCount", c_long, [p])
        self.dict_mutable_copy = _bind(cf, "CFDictionaryCreateMutableCopy", p, [p, c_long, p])
        self.array_count = _bind(cf, "CFArrayGetCount", c_long, [p])
        self.array_get = _bind(cf, "CFArrayGetValueAtIndex", p, [p, c_long])
        self.release = _bind(cf, "CFRelease", None, [p])

    def cfstr(self, text: str) -> Any:
        return self.string(None, text.encode(), _UTF8)

    def text(self, ref: Any) -> str:
        if not ref:
            return ""
        buffer = ctypes.create_string_buffer(256)
        ok = self.get_cstring(ref, buffer, len(buffer), _UTF8)
        return buffer.value.decode("utf-8", "replace") if ok else ""


class IOReportReader:
    """A subscription to IOReport's ``Energy Model`` group; cumulative J per SoC part.

    Raises:
        OSError: not macOS, the library cannot be loaded, or the group has no channel.
    """

    def __init__(self) -> None:
        self._cf = _CoreFoundation()
        lib = ctypes.CDLL(IOREPORT_PATH)
        p, u64 = ctypes.c_void_p, ctypes.c_uint64
        copy_channels = _bind(lib, "IOReportCopyChannelsInGroup", p, [p, p, u64, u64, u64])
        subscribe = _bind(lib, "IOReportCreateSubscription", p,
                          [p, p, ctypes.POINTER(p), u64, p])
        self._samples = _bind(lib, "IOReportCreateSamples", p, [p, p, p])
        self._delta = _bind(lib, "IOReportCreateSamplesDelta", p, [p, p, p])
        self._group = _bind(lib, "IOReportChannelGetGroup", p, [p])
        self._name = _bind(lib, "IOReportChannelGetChannelName", p, [p])
        self._unit = _bind(lib, "IOReportChannelGetUnitLabel", p, [p])
        self._value = _bind(lib, "IOReportSimpleGetIntegerValue", ctypes.c_int64,
                            [p, ctypes.c_int32])
        group = self._cf.cfstr("Energy Model")
        channels = copy_channels(group, None, 0, 0, 0)
        self._cf.release(group)
        if not channels:
            raise OSError("IOReport has no 'Energy Model' channels on this Mac")
        self._channels = self._cf.dict_mutable_copy(None, self._cf.dict_count(channels),
                                                    channels)
        self._cf.release(channels)
        subscribed = p()
        self._subscription = subscribe(None, self._channels, ctypes.byref(subscribed), 0, None)
        if not self._subscription:
            raise OSError("IOReportCreateSubscription failed")
        self._subscribed = subscribed
        self._key = self._cf.cfstr("IOReportChannels")
        self._lock = threading.Lock()
        self._previous = self._samples(self._subscription, self._subscribed, None)
        self._total_j: dict[str, float] = {}
        self.energy_j()  # fails now, not in the run, if the channels cannot be read
        if not self._total_j:
            raise OSError("IOReport's 'Energy Model' group has no CPU, GPU or ANE channel")

    def energy_j(self) -> dict[str, float]:
        """Cumulative J per part (``cpu``, ``gpu``, ``ane``, ``dram``) since the reader opened."""
        with self._lock:
            current = self._samples(self._subscription, self._subscribed, None)
            if not current:
                raise OSError("IOReportCreateSamples returned nothing")
            delta = self._delta(self._previous, current, None)
            self._cf.release(self._previous)
            self._previous = current
            try:
                self._add(delta)
            finally:
                if delta:
                    self._cf.release(delta)
            return dict(self._total_j)

    def _add(self, delta: Any) -> None:
        array = self._cf.dict_get(delta, self._key) if delta else None
        if not array:
            raise OSError("IOReport sample has no IOReportChannels")
        for i in range(self._cf.array_count(array)):
            channel = self._cf.array_get(array, i)
            if self._cf.text(self._group(channel)) != "Energy Model":
                continue
            part = part_of_channel(self._cf.text(self._name(channel)))
            if part is None:
                continue
            joules = to_joules(int(self._value(channel, 0)), self._cf.text(self._unit(channel)))
            self._total_j[part] = self._total_j.get(part, 0.0) + joules

    def close(self) -> None:
        """Release the last sample (the subscription lives until the process exits)."""
        with self._lock:
            if self._previous:
                self._cf.release(self._previous)
                self._previous = None
