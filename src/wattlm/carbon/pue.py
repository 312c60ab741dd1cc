"""Power usage effectiveness (PUE = total facility energy / IT energy).

Default: the cloud provider's published figure for a cloud region (region-level where Google
publishes one, else the provider's fleet average), ``1.0`` for any other machine, labelled
``assumed``. A value given by the user always wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from wattlm._caches import cached
from wattlm.carbon._tables import parse_float, read_table
from wattlm.units import Provenance

__all__ = ["LOCAL_PUE", "PueChoice", "choose_pue", "provider_pue"]

LOCAL_PUE = 1.0


@dataclass(frozen=True)
class PueChoice:
    """The PUE used, why, and where it came from."""

    value: float
    provenance: Provenance | None
    source: str
    period: str = ""

    def to_assumption(self) -> dict[str, object]:
        """Entry for ``Footprint.assumptions["pue"]``."""
        return {"value": self.value, "source": self.source, "period": self.period,
                "provenance": self.provenance.value if self.provenance else None}


@cached
def _pue_rows() -> dict[tuple[str, str], dict[str, str]]:
    return {(r["provider"], r["region"]): r for r in read_table("cloud_pue.csv")}


def _row(provider: str, region: str) -> dict[str, str] | None:
    rows = _pue_rows()
    return rows.get((provider, region)) or rows.get((provider, ""))


def provider_pue(provider: str, region: str = "") -> float | None:
    """Return the provider's published PUE for ``region`` (fleet average if none per region)."""
    row = _row(provider, region)
    return None if row is None else parse_float(row["pue"], "cloud_pue.csv", "pue")


def choose_pue(pue: float | None, provider: str | None = None, region: str = "") -> PueChoice:
    """Choose the PUE: the user's, else the provider's published one, else 1.0 (assumed).

    Raises:
        InvalidInputError: ``pue`` below 1.0 or not finite.
    """
    if pue is not None:
        from wattlm import _validate

        return PueChoice(_validate.pue(pue), None, "given by the user")
    if provider is not None:
        row = _row(provider, region)
        if row is not None:
            return PueChoice(parse_float(row["pue"], "cloud_pue.csv", "pue"),
                             Provenance.ESTIMATED, row["source"], row["period"])
    return PueChoice(LOCAL_PUE, Provenance.ASSUMED,
                     "default for a machine outside a cloud region (no facility overhead "
                     "counted); set pue= to include cooling and power distribution")
