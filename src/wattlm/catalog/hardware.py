"""The hardware catalogue: accelerators and server CPUs with TDP, peak FLOP/s, memory, embodied.

Data: ``catalog/data/hardware.csv`` (sources in ``catalog/data/SOURCES.md``). Peak figures are
**dense** (no structured sparsity), in TFLOP/s per precision. Short names resolve to the most
common data-centre part: ``"a100"`` is the A100-80GB SXM, ``"h100"`` the H100 SXM, ``"v100"`` the
V100 SXM2 32 GB.
"""

from __future__ import annotations

from dataclasses import dataclass

from wattlm._caches import cached
from wattlm.catalog._lookup import NameIndex, aliases, optional_float, read_rows
from wattlm.errors import InvalidInputError, UnknownNameError

__all__ = ["PRECISIONS", "Hardware", "get_hardware", "list_hardware", "match_device"]

#: precisions the catalogue knows, widest first
# Spread (low, high factors) of a TDP derived from a peer's efficiency, not published.
DERIVED_TDP_SPREAD = (0.6, 1.6)

PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4", "int4")

# When a part has no figure for a precision, use the next one in this chain: narrower formats
# run at the rate of the nearest wider format the part supports (e.g. int4 on an H100 runs at its
# int8/fp8 rate, bf16 on a V100 at its fp16 rate).
_FALLBACK: dict[str, tuple[str, ...]] = {
    "fp32": (),
    "tf32": ("fp32",),
    "bf16": ("fp16", "tf32", "fp32"),
    "fp16": ("bf16", "tf32", "fp32"),
    "fp8": ("int8", "bf16", "fp16"),
    "int8": ("fp8", "bf16", "fp16"),
    "fp4": ("fp8", "int8", "bf16", "fp16"),
    "int4": ("int8", "fp8", "bf16", "fp16"),
}


@dataclass(frozen=True)
class Hardware:
    """One accelerator or CPU model.

    Attributes:
        name: canonical name, e.g. ``"H100-SXM"``.
        vendor: ``"NVIDIA"``, ``"AMD"``, ``"Google"``, ``"Intel"``.
        kind: ``"gpu"``, ``"tpu"``, ``"accelerator"`` (e.g. Intel Gaudi) or ``"cpu"``.
        tdp_w: thermal design power per device in W; ``None`` where the vendor publishes none
            (TPU v5e/v5p). Use :meth:`require_tdp_w` when a number is needed.
        peak_tflops: dense peak TFLOP/s per precision (only those published).
        memory_gb: device memory in GB (``None`` for CPUs: host memory is not fixed).
        memory_bw_gbps: memory bandwidth in GB/s.
        embodied_kg: manufacturing emissions per device, kgCO2e (central), ``None`` if unknown.
        embodied_low_kg: low bound of the same.
        embodied_high_kg: high bound of the same.
        embodied_scope: what the embodied figures cover.
        aliases: other names the part answers to.
        source: where the figures come from.
        interconnect_bw_gbps: device-to-device bandwidth per direction (NVLink, PCIe), GB/s.
        interconnect_latency_us: small-message latency of one collective hop, microseconds.
    """

    name: str
    vendor: str
    kind: str
    tdp_w: float | None
    peak_tflops: dict[str, float]
    memory_gb: float | None
    memory_bw_gbps: float | None
    embodied_kg: float | None
    embodied_low_kg: float | None
    embodied_high_kg: float | None
    embodied_scope: str
    aliases: tuple[str, ...]
    source: str
    interconnect_bw_gbps: float | None = None
    interconnect_latency_us: float | None = None

    def peak_flops(self, precision: str = "bf16") -> float:
        """Dense peak FLOP/s at ``precision``.

        Falls back along a documented chain when the part has no figure for the precision:
        ``int4 -> int8 -> fp8 -> bf16 -> fp16``, ``fp4 -> fp8 -> int8 -> bf16``,
        ``bf16 <-> fp16 -> tf32 -> fp32``, ``tf32 -> fp32``.

        Raises:
            InvalidInputError: unknown precision, or no peak figure at all (CPUs).
        """
        key = precision.lower().strip() if isinstance(precision, str) else ""
        if key not in _FALLBACK:
            raise InvalidInputError(
                f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        for candidate in (key, *_FALLBACK[key]):
            value = self.peak_tflops.get(candidate)
            if value:
                return value * 1e12
        raise InvalidInputError(
            f"no peak {key} FLOP/s is known for {self.name}; pass device_hours or hours instead")

    def require_tdp_w(self) -> float:
        """Return the TDP in W: published, else derived (see :meth:`tdp_with_source`)."""
        return self.tdp_with_source()[0]

    def tdp_with_source(self) -> tuple[float, str]:
        """The TDP in W and where it comes from.

        Where the vendor publishes none (TPU v5e/v5p), the TDP is derived from the part's peak
        bf16 FLOP/s at the W-per-FLOP/s of the fastest part of the same vendor and kind that has a
        TDP (newer parts are usually more efficient, so this leans high); callers treat it as
        ``assumed`` and widen their range by :data:`DERIVED_TDP_SPREAD`.

        Raises:
            InvalidInputError: no TDP and nothing to derive one from; pass power_w instead.
        """
        if self.tdp_w is not None:
            return self.tdp_w, self.source
        peak = self.peak_tflops.get("bf16")
        peers = [h for h in list_hardware() if h.vendor == self.vendor and h.kind == self.kind
                 and h.tdp_w and h.peak_tflops.get("bf16")]
        if not peak or not peers:
            raise InvalidInputError(
                f"{self.name} has no published TDP; pass power_w (average W per device)")
        ref = max(peers, key=lambda h: h.peak_tflops["bf16"])
        w_per_tflops = float(ref.tdp_w or 0.0) / ref.peak_tflops["bf16"]
        tdp = peak * w_per_tflops
        low, high = DERIVED_TDP_SPREAD
        return tdp, (f"no published TDP: {tdp:.0f} W derived from {ref.name}'s "
                     f"{w_per_tflops:.2f} W per peak bf16 TFLOP/s (range x{low}-x{high})")

    @property
    def tdp_published(self) -> bool:
        """Whether the TDP is the vendor's (or a measured maximum), not derived."""
        return self.tdp_w is not None

    @property
    def has_bf16(self) -> bool:
        """Whether the part runs bf16 natively (Ampere, TPU and later)."""
        return "bf16" in self.peak_tflops


def _float(row: dict[str, str], key: str) -> float | None:
    return optional_float(row, key, "hardware.csv")


def _parse(row: dict[str, str]) -> Hardware:
    peaks = {p: v for p in PRECISIONS if (v := _float(row, f"{p}_tflops")) is not None}
    return Hardware(
        name=row["name"], vendor=row["vendor"], kind=row["kind"], tdp_w=_float(row, "tdp_w"),
        peak_tflops=peaks, memory_gb=_float(row, "memory_gb"),
        memory_bw_gbps=_float(row, "memory_bw_gbps"), embodied_kg=_float(row, "embodied_kg"),
        embodied_low_kg=_float(row, "embodied_low_kg"),
        embodied_high_kg=_float(row, "embodied_high_kg"),
        embodied_scope=row.get("embodied_scope", ""),
        aliases=aliases(row),
        source=row["source"],
        interconnect_bw_gbps=_float(row, "interconnect_bw_gbps"),
        interconnect_latency_us=_float(row, "interconnect_latency_us"),
    )


@cached
def _index() -> NameIndex[Hardware]:
    items = [_parse(r) for r in read_rows("hardware.csv")]
    return NameIndex(items, lambda h: (h.name, *h.aliases), lambda h: h.name, "hardware")


def get_hardware(name: str) -> Hardware:
    """Look up a part by name or alias, forgivingly (``"h100"`` -> ``H100-SXM``).

    Raises:
        UnknownNameError: nothing matches; the message suggests the closest names.
    """
    return _index().get(name)


def list_hardware(query: str | None = None) -> list[Hardware]:
    """Every part, or those whose name or an alias contains ``query``."""
    return _index().search(query)


def match_device(model_name: str) -> Hardware | None:
    """The catalogue part of a device as its driver names it, or None.

    Tries the name as given, then without the vendor words (``NVIDIA``, ``Tesla``), then its first
    word (``NVIDIA A100-SXM4-80GB`` -> ``A100`` -> A100-80GB). Used for measured runs, whose GPUs
    are named by NVML, not by the catalogue.
    """
    stripped = model_name.replace("NVIDIA ", "").replace("Tesla ", "").strip()
    for candidate in (model_name, stripped, stripped.split("-")[0].split(" ")[0]):
        try:
            return get_hardware(candidate)
        except UnknownNameError:
            continue
    return None
