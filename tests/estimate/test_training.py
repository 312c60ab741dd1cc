"""Training estimate: formulas checked by hand, published reproductions, bad input."""

from __future__ import annotations

import math

import pytest

import wattlm
from wattlm.errors import EstimateWarning, InvalidInputError, UnknownNameError
from wattlm.estimate.flops import training_flops
from wattlm.estimate.training import (
    HOST_OVERHEAD,
    POWER_FRACTION,
    estimate_training,
)


def test_flops_6nd_and_attention_term() -> None:
    assert training_flops(7e9, 2e12) == pytest.approx(8.4e22)
    # + 12 * L * d_attn * T per token: 12 * 32 * 4096 * 2048 = 3.221e9
    with_attn = training_flops(7e9, 2e12, layers=32, attention_dim=4096, seq_len=2048)
    assert with_attn == pytest.approx((6 * 7e9 + 12 * 32 * 4096 * 2048) * 2e12)


def test_llama2_7b_published_reproduction() -> None:
    """Llama 2 model card: 184,320 GPU-h x 400 W x 1.1 x 0.385 kg/kWh = 31.22 t."""
    est = estimate_training(params=7e9, tokens=2e12, hardware="A100-80GB",
                            device_hours=184320, power_w=400, pue=1.1, intensity=385)
    assert est.energy_kwh.central == pytest.approx(184320 * 0.4 * 1.1)
    assert est.emissions_kg.central == pytest.approx(31220, rel=0.002)
    assert est.device_hours.central == 184320
    assert est.energy_kwh.low == est.energy_kwh.high  # everything given: no spread


def test_from_flops_hand_computed_central_and_bounds() -> None:
    from wattlm.estimate.utilisation import cross_validated_log_ratios, utilisation_curve

    est = estimate_training(params=1e9, tokens=1e11, hardware="H100-SXM", pue=1.2,
                            intensity=100)
    curve = utilisation_curve()
    u = curve.u_gen["Hopper+"] * 1e9 / (1e9 + curve.n_ref)  # N_half = N_ref at the H100 peak
    dh = 6e20 / (989.4e12 * u) / 3600
    assert est.device_hours.central == pytest.approx(dh)
    power = 700 * POWER_FRACTION["gpu"][1] * (1 + HOST_OVERHEAD[1])
    assert est.energy_kwh.central == pytest.approx(dh * power / 1000 * 1.2)
    assert est.emissions_kg.central == pytest.approx(dh * power / 1000 * 1.2 * 0.1)
    # log-space root-sum-square of the cross-validated utilisation residual, power, host
    lo, _hi = cross_validated_log_ratios()
    up = math.sqrt(lo ** 2 + math.log(1.0 / 0.85) ** 2 + math.log(1.25 / 1.15) ** 2)
    assert est.energy_kwh.high == pytest.approx(est.energy_kwh.central * math.exp(up))
    assert est.energy_kwh.spread < 3


def test_devices_do_not_change_energy_but_days_do() -> None:
    a = estimate_training(model="llama-2-7b", hardware="A100-80GB", intensity=0)
    b = estimate_training(model="llama-2-7b", hardware="A100-80GB", devices=2048, intensity=0)
    assert a.energy_kwh.central == pytest.approx(b.energy_kwh.central)
    c = estimate_training(hardware="V100", devices=10, days=2, power_w=300, intensity=0)
    assert c.device_hours.central == 480
    assert c.energy_kwh.central == pytest.approx(480 * 0.3)


def test_gpt3_from_catalogue_inside_published() -> None:
    """GPT-3 on V100 (Patterson 2021): 1,287 MWh incl. PUE 1.1."""
    est = estimate_training(model="gpt-3", hardware="V100", devices=10000, pue=1.1,
                            intensity=429)
    assert est.energy_kwh.contains(1_287_000)
    assert est.flops is not None and est.flops.central == pytest.approx(3.15e23)


def test_embodied_through_accounting() -> None:
    est = estimate_training(hardware="H100-SXM", device_hours=1000, power_w=700,
                            intensity=0)
    # H100-SXM: (273 board, EcoLogits current + 375 host share) kg over 4 years;
    # low min(164 + 312.5, 463) over 5, high 273 + 712.5 over 3 (carbon/embodied.py,
    # catalogue and host_embodied.csv)
    year_s = 365.25 * 86_400
    assert est.embodied_kg.central == pytest.approx(648 * 1000 * 3600 / (4 * year_s))
    assert est.embodied_kg.low == pytest.approx(463 * 1000 * 3600 / (5 * year_s))
    assert est.embodied_kg.high == pytest.approx(985.5 * 1000 * 3600 / (3 * year_s))
    assert est.to_dict()["embodied_kg"]["central"] == est.embodied_kg.central


def test_lazy_export_and_to_dict() -> None:
    est = wattlm.estimate_training(params=7e9, tokens=1e12, hardware="a100", intensity=300)
    data = est.to_dict()
    for key in ("energy_kwh", "accelerators_energy_kwh", "device_hours", "emissions_kg"):
        assert set(data[key]) >= {"low", "central", "high"}
        assert data[key]["low"] <= data[key]["central"] <= data[key]["high"]
    assert data["assumptions"]["mfu"]["provenance"] == "assumed"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"params": 0, "tokens": 1e12, "hardware": "h100"}, r"params must be a number in \[1, "),
    ({"params": 7e9, "tokens": -5, "hardware": "h100"}, r"tokens must be a whole number in \[1, "),
    ({"params": 7e9, "tokens": 1.5, "hardware": "h100"}, r"tokens must be a whole number"),
    ({"hardware": "h100", "devices": 0, "days": 1}, r"devices must be a whole number in \[1, "),
    ({"hardware": "h100", "devices": 2.5, "days": 1}, r"devices must be a whole number"),
    ({"hardware": "h100", "devices": 8, "hours": -1}, r"hours must be a number in \(0, "),
    ({"hardware": "h100", "devices": 8, "days": 1e5}, r"ten years is surely a mistake"),
    ({"params": 7e9, "tokens": 1e12, "hardware": "h100", "mfu": 1.5}, r"mfu must be .* \(0, 1\]"),
    ({"params": 7e9, "tokens": 1e12, "hardware": "h100", "mfu": 0},
     r"mfu must be a number in \(0, 1\], got 0"),
    ({"params": 7e9, "tokens": 1e12, "hardware": "h100", "mfu": float("nan")},
     r"mfu must be a finite number, got nan"),
    ({"params": 2e15, "tokens": 1e12, "hardware": "h100"}, r"100 trillion parameters"),
    ({"params": 7e9, "tokens": 1e12, "hardware": "h100", "pue": 1e308}, r"PUE above 3"),
    ({"params": 7e9, "tokens": 1e12, "hardware": "h100", "seq_len": 10**30}, r"10 million"),
    ({"model": "llama-2-7b", "hardware": "h100", "seq_len": 8192}, r"4,096-token context"),
    ({"hardware": "h100", "device_hours": 5, "mfu": 0.4}, r"the time is given .*: drop one"),
    ({"hardware": "h100", "device_hours": 5, "scope": "productive"}, r"drop scope or the time"),
    ({"hardware": "h100", "days": 3}, "also give devices"),
    ({"hardware": "h100", "device_hours": 5, "devices": 2, "days": 1}, "not both"),
    ({"params": 7e9, "tokens": 1e12}, "hardware is needed"),
    ({"model": "gpt-2", "hardware": "h100"}, "pass tokens"),
    ({"params": 7e9, "tokens": 1e12, "hardware": "h100", "pue": 0.9}, "pue must be"),
])
def test_bad_input(kwargs: dict[str, object], match: str) -> None:
    """Each bad value (issue 13: NaN, absurd magnitudes, fractional counts, beyond context)."""
    with pytest.raises(InvalidInputError, match=match):
        estimate_training(intensity=0, **kwargs)  # type: ignore[arg-type]


def test_unknown_names() -> None:
    with pytest.raises(UnknownNameError, match="did you mean H100-SXM"):
        estimate_training(params=1e9, tokens=1e9, hardware="h10O", intensity=0)
    with pytest.raises(UnknownNameError, match="did you mean GPT-3"):
        estimate_training(model="gpt-33", hardware="h100", intensity=0)


def test_part_without_published_tdp_is_estimated_with_a_wider_range() -> None:
    """TPU-v5p: TDP derived from TPU-v4 (assumed) and the power range widened x0.6-x1.6."""
    common = {"params": 7e9, "tokens": 1e12, "intensity": 0}
    v5p = estimate_training(hardware="TPU-v5p", **common)  # type: ignore[arg-type]
    v4 = estimate_training(hardware="TPU-v4", **common)  # type: ignore[arg-type]
    assert v5p.assumptions["tdp_w"]["provenance"] == "assumed"
    assert v5p.assumptions["tdp_w"]["value"] == pytest.approx(459 * 192 / 275)
    assert v5p.energy_kwh.spread > v4.energy_kwh.spread


def test_intensity_beyond_bound_and_params_override_note() -> None:
    with pytest.raises(InvalidInputError, match=r"2,000 g/kWh"):
        estimate_training(params=7e9, tokens=1e12, hardware="h100", intensity=1e308)
    with pytest.warns(EstimateWarning, match=r"W900: params 13.0 billion replaces 6.74 billion"):
        est = estimate_training(model="llama-2-7b", params=13e9, hardware="a100", intensity=0)
    assert est.flops is not None
    assert est.flops.central == pytest.approx(6 * 13e9 * 2e12, rel=0.01)
