"""Tests of the inference steps (geometry, deployment, step features, fit) and the estimate."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest

from wattlm.catalog.hardware import Hardware
from wattlm.errors import DataError, EstimateWarning, InvalidInputError
from wattlm.estimate.calibration import Constants, fit, predict
from wattlm.estimate.geometry import Geometry, geometry_from_config, moe_unique_experts
from wattlm.estimate.inference import estimate_inference
from wattlm.estimate.serving import (
    Deployment,
    kv_cache_capacity,
    resolve_deployment,
    resolve_engine,
    step_features,
)

# A made-up accelerator with round numbers: 100 W, 100 TFLOP/s, 100 GB, 1000 GB/s, NVLink-like
# link of 100 GB/s and 2 us.
TOY_HW = Hardware(
    name="Toy", vendor="none", kind="gpu", tdp_w=100.0, peak_tflops={"bf16": 100.0},
    memory_gb=100.0, memory_bw_gbps=1000.0, embodied_kg=None, embodied_low_kg=None,
    embodied_high_kg=None, embodied_scope="", aliases=(), source="test",
    interconnect_bw_gbps=100.0, interconnect_latency_us=2.0)
# A made-up dense model: 1e9 parameters, 10 layers, d = 1000, 10 heads of 100, 2 KV heads.
TOY = Geometry("toy", 1e9, 1e9, 10, 1000.0, 10, 2, 100, 10, 10, None, None, None, 0.0, None,
               None, "dense", "catalogue")


def test_moe_unique_experts_hand_values() -> None:
    assert moe_unique_experts(8, 2, 1) == pytest.approx(2.0)
    assert moe_unique_experts(8, 2, 2) == pytest.approx(8 * (1 - 0.75 ** 2))  # 3.5
    assert moe_unique_experts(128, 8, 10_000) == pytest.approx(128.0)


def test_step_features_dense_one_device_hand_computed() -> None:
    # batch 4, 100 in / 100 out: context 150; KV per seq = 2 x 2 x 100 x 10 x 150 = 600,000
    # elements x 2 B = 1.2 MB; weights 2 GB; memory = (2e9 + 4 x 1.2e6) / 1e12 s
    f = step_features(TOY, Deployment(1, 1, 1), TOY_HW, "bf16", 4, 100, 100)
    assert f.memory_s == pytest.approx((2e9 + 4 * 1.2e6) / 1e12)
    # compute: 2 x 1e9 x 4 / 1e14 + attention 4 x 1000 x (10 x 150) x 4 / 1e14
    assert f.compute_s == pytest.approx(8e9 / 1e14 + 4 * 1000 * 1500 * 4 / 1e14)
    assert f.collective_s == 0.0
    # prefill per step: 100 x 4 / 100 = 4 prompt tokens x (2e9 + 2 x 1000 x 10 x 50) / 1e14
    assert f.prefill_s == pytest.approx(4 * (2e9 + 2 * 1000 * 500) / 1e14)


def test_tensor_parallel_all_reduce_from_latency_and_bandwidth() -> None:
    f = step_features(TOY, Deployment(2, 1, 1), TOY_HW, "bf16", 4, 100, 100)
    # 2 all-reduces per layer x 10 layers, each 2(TP-1) alpha + 2(TP-1)/TP x b d 2 B / link
    per = 2 * 1 * 2e-6 + 1.0 * 4 * 1000 * 2 / 100e9
    assert f.collective_s == pytest.approx(20 * per)
    # weights split over 2 devices, KV heads too
    assert f.memory_s == pytest.approx((1e9 + 4 * 0.6e6) / 1e12)


def test_kv_cache_capacity_hand_computed() -> None:
    # (100 GB x 0.9 - 2 GB) / (2 x 2 x 100 x 10 x 200 x 2 B = 1.6 MB) = 55,000
    assert kv_cache_capacity(TOY, Deployment(1, 1, 1), TOY_HW, "bf16", 100, 100) == 55_000


def test_deployment_checks_name_the_field() -> None:
    assert resolve_deployment(8, None, 8, None, 1) == Deployment(8, 8, 1)
    assert resolve_deployment(None, 2, None, 4, 1).devices == 8
    with pytest.raises(InvalidInputError, match="tensor_parallel x data_parallel"):
        resolve_deployment(8, 2, None, 2, 1)
    with pytest.raises(InvalidInputError, match="expert_parallel=3 must divide"):
        resolve_deployment(4, None, 3, None, 1)
    with pytest.raises(InvalidInputError, match="data_parallel"):
        resolve_deployment(None, None, None, float("nan"), 1)  # type: ignore[arg-type]


def test_engine_choices() -> None:
    assert resolve_engine(None) == "vllm-current"
    assert resolve_engine("vLLM-0.5.4") == "vllm-0.5"
    with pytest.raises(InvalidInputError, match="valid choices: vllm-current, vllm-0.5"):
        resolve_engine("tgi-9")


def _write(tmp_path: Path, cfg: dict[str, object]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg), "utf-8")
    return path


def test_config_json_dense_counts_hand_computed(tmp_path: Path) -> None:
    cfg = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
           "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128,
           "vocab_size": 100, "tie_word_embeddings": True}
    geo = geometry_from_config(_write(tmp_path, cfg))
    # embeddings 100 x 64; attention 64 x 16 x (2 x 4 + 2 x 2); MLP 3 x 64 x 128, per layer
    expected = 100 * 64 + 2 * (64 * 16 * 12 + 3 * 64 * 128)
    assert geo.params == pytest.approx(expected)
    assert (geo.layers, geo.kv_heads, geo.head_dim, geo.source) == (2, 2, 16, "config")


def test_config_json_moe_sliding_and_hybrid(tmp_path: Path) -> None:
    moe = {"num_hidden_layers": 4, "hidden_size": 64, "num_attention_heads": 4,
           "num_key_value_heads": 4, "num_experts": 8, "num_experts_per_tok": 2,
           "moe_intermediate_size": 32, "vocab_size": 10, "sliding_window": 16,
           "layer_types": ["sliding_attention"] * 3 + ["full_attention"]}
    geo = geometry_from_config(_write(tmp_path, moe))
    assert geo.expert_params == pytest.approx(4 * 8 * 3 * 64 * 32)
    assert geo.params - geo.active_params == pytest.approx(geo.expert_params * 6 / 8)
    assert (geo.full_attention_layers, geo.sliding_window) == (1, 16)
    hybrid = {"num_hidden_layers": 6, "hidden_size": 64, "num_attention_heads": 4,
              "hybrid_override_pattern": "M-M*-M"}
    assert geometry_from_config(_write(tmp_path, hybrid)).attention_layers == 1


def test_config_json_bad_input(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a model config"):
        geometry_from_config(_write(tmp_path, {"architectures": ["X"], "foo": 1}))
    with pytest.raises(InvalidInputError, match="num_experts_per_tok"):
        geometry_from_config(_write(tmp_path, {"num_hidden_layers": 2, "hidden_size": 8,
                                               "num_local_experts": 8}))
    with pytest.raises(InvalidInputError, match="no such file"):
        geometry_from_config(tmp_path / "missing.json")


def test_predict_formula_by_hand() -> None:
    c = Constants({"Toy/bf16": (2.0, 3.0)}, {"Toy/bf16": 1}, 1.5, 2.5,
                  {"vllm-current": (0.004, 1e-5)}, (0.3, 0.5, 0.2))
    f = step_features(TOY, Deployment(2, 1, 1), TOY_HW, "bf16", 4, 100, 100)
    p = predict(f, "Toy/bf16", "vllm-current", c)
    step = 2 * f.memory_s + 3 * f.compute_s + 1.5 * f.collective_s + 0.004 + 1e-5 * 4
    assert p.step_s == pytest.approx(step)
    assert p.mean_step_s == pytest.approx(step + 2.5 * f.prefill_s)
    u_c = (3 * f.compute_s + 2.5 * f.prefill_s) / p.mean_step_s
    u_m = (2 * f.memory_s + 1.5 * f.collective_s) / p.mean_step_s
    assert p.power_fraction == pytest.approx(0.3 + 0.5 * u_c + 0.2 * u_m)


def test_shipped_calibration_equals_a_fresh_fit() -> None:
    from wattlm.estimate.calibration import load_constants
    from wattlm.estimate.inference_data import calibration_cases

    shipped, _ = load_constants()
    fresh = fit(calibration_cases())
    a, b = fresh.to_dict(), shipped.to_dict()
    assert a["groups"].keys() == b["groups"].keys()
    for key, value in a["groups"].items():
        assert value == pytest.approx(b["groups"][key], rel=1e-9)
    assert [a["a_k"], a["a_p"], *a["power"]] == pytest.approx(
        [b["a_k"], b["a_p"], *b["power"]], rel=1e-9)


def test_public_keywords_and_measured_row() -> None:
    # ML.ENERGY v3: Qwen 3 8B, 1 x H100, bf16, lm-arena-chat, batch 63.9: 0.119 J/token, 14.0 ms
    est = estimate_inference(model="Qwen/Qwen3-8B", hardware="H100", devices=1, batch_size=64,
                             input_tokens=500, output_tokens=645, precision="bf16", region="FR")
    j = est.accelerators_energy_per_output_token_j
    assert 0.119 / 1.5 <= j.central <= 0.119 * 1.5
    assert j.low < 0.119 < j.high
    assert 0.0140 / 1.5 <= est.time_per_output_token_s.central <= 0.0140 * 1.5
    assert est.energy.j.central == pytest.approx(
        est.accelerators_energy_per_request_j.central + est.host_energy_per_request_j.central)
    assert est.facility_energy.j.central == pytest.approx(est.energy_per_request_j.central)
    assert est.footprint is not None and est.emissions is not None


def test_batch_capped_by_kv_cache_warns() -> None:
    with pytest.warns(EstimateWarning, match="W801"):
        est = estimate_inference(model="Qwen3-32B", hardware="H100", devices=1,
                                 batch_size=100_000, input_tokens=4000, output_tokens=1000,
                                 intensity=100)
    assert est.assumptions["batch_size"] < 100_000


def test_arrival_rate_charges_idle_power() -> None:
    from wattlm.estimate.calibration import load_constants

    est = estimate_inference(model="Qwen3-8B", hardware="H100", devices=1, arrival_rate=0.01,
                             input_tokens=500, output_tokens=250, intensity=100)
    idle = est.assumptions["idle_s_per_request"]
    assert est.assumptions["batch_size"] == 1.0 and idle > 90
    busy = estimate_inference(model="Qwen3-8B", hardware="H100", devices=1, batch_size=1,
                              input_tokens=500, output_tokens=250, intensity=100)
    p0 = load_constants()[0].power[0]
    extra = est.accelerators_energy_per_request_j.central - \
        busy.accelerators_energy_per_request_j.central
    assert extra == pytest.approx(p0 * 700 * idle, rel=1e-6)


def test_params_only_moe_widens_and_warns() -> None:
    with pytest.warns(EstimateWarning, match="W802"):
        moe = estimate_inference(params=100e9, active_params=10e9, hardware="H100",
                                 devices=4, batch_size=32, intensity=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dense = estimate_inference(params=10e9, hardware="H100", devices=4, batch_size=32,
                                   intensity=100)
    assert moe.accelerators_energy_per_output_token_j.spread > \
        dense.accelerators_energy_per_output_token_j.spread


@pytest.mark.parametrize("kwargs, field", [
    ({"batch_size": -1}, "batch_size"), ({"input_tokens": math.nan}, "input_tokens"),
    ({"precision": "fp3"}, "precision"), ({"engine": "nope"}, "engine"),
    ({"devices": 8, "tensor_parallel": 2}, "tensor_parallel"),
    ({"arrival_rate": math.inf}, "arrival_rate"),
])
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError, match=field):
        estimate_inference(model="Qwen3-8B", hardware="H100", intensity=100,
                           **kwargs)  # type: ignore[arg-type]


def test_config_json_with_qwen3_30b_a3b_shapes(tmp_path: Path) -> None:
    # the published config of Qwen/Qwen3-30B-A3B-Instruct-2507; model card: 30.5B total, 3.3B active
    cfg = {"model_type": "qwen3_moe", "num_hidden_layers": 48, "hidden_size": 2048,
           "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128,
           "intermediate_size": 6144, "moe_intermediate_size": 768, "num_experts": 128,
           "num_experts_per_tok": 8, "vocab_size": 151936, "tie_word_embeddings": False}
    geo = geometry_from_config(_write(tmp_path, cfg))
    assert geo.params == pytest.approx(30.5e9, rel=0.02)
    assert geo.active_params == pytest.approx(3.3e9, rel=0.03)
    est = estimate_inference(config=_write(tmp_path, cfg), hardware="H100", devices=1,
                             batch_size=64, input_tokens=500, output_tokens=900, intensity=1)
    # ML.ENERGY v3, 1 x H100, lm-arena-chat, batch 63.9: 0.222 J/token, median ITL 28.9 ms
    assert 0.222 / 1.5 <= est.accelerators_energy_per_output_token_j.central <= 0.222 * 1.5


@pytest.mark.parametrize("kwargs, match", [
    # issue 13: fractional counts, absurd magnitudes, huge integers, bools, empty names
    ({"input_tokens": 2.5}, r"input_tokens must be a whole number"),
    ({"output_tokens": 10**400}, r"output_tokens must be a whole number in \[1, 10,000,000\]"),
    ({"devices": 10**30}, r"devices must be a whole number in \[1, 1,000,000\] \(more than"),
    ({"data_parallel": 1e308}, r"data_parallel must be a whole number"),
    ({"intensity": 1e308}, r"intensity_g_per_kwh must be .* \[0, 2,000\]"),
    ({"pue": True}, r"pue must be a finite number, got True"),
    ({"pue": 1e308}, r"PUE above 3"),
    ({"params": 1e-320}, r"params must be a number in \[1, "),
    ({"arrival_rate": 1e-320}, r"arrival_rate must be a number of requests per second in"),
    ({"arrival_rate": 1e308}, r"more than a million requests per second is surely a mistake"),
    ({"hardware": ""}, r"hardware must be a non-empty line"),
    ({"region": "x" * 5000}, r"region must be a non-empty line of text of at most 200"),
])
def test_bad_input_is_one_line_before_any_warning(kwargs: dict[str, object], match: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InvalidInputError, match=match) as info:
            estimate_inference(**{"params": 7e9, "intensity": 100, **kwargs})  # type: ignore[arg-type]
    assert "\n" not in str(info.value) and not caught  # no W802 before the error


def test_sequences_beyond_the_context_are_rejected(tmp_path: Path) -> None:
    # Llama-2-7B: 4,096-token context (catalogue, from its config's max_position_embeddings)
    with pytest.raises(InvalidInputError, match=r"input_tokens \+ output_tokens = 4,097 tokens "
                                                r"exceed the 4,096-token context of Llama-2-7B"):
        estimate_inference(model="llama-2-7b", input_tokens=4000, output_tokens=97,
                           intensity=100)
    est = estimate_inference(model="llama-2-7b", input_tokens=4000, output_tokens=96,
                             intensity=100, devices=1)
    assert est.assumptions["input_tokens"] == 4000
    cfg = {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 64,
           "num_attention_heads": 4, "max_position_embeddings": 512, "vocab_size": 100}
    path = _write(tmp_path, cfg)
    assert geometry_from_config(path).context_length == 512
    with pytest.raises(InvalidInputError, match="512-token context"):
        estimate_inference(config=path, input_tokens=500, output_tokens=13, intensity=100)


def test_config_that_is_a_directory_or_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="is a directory, expected a file"):
        geometry_from_config(tmp_path)
    bad = tmp_path / "config.json"
    bad.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(InvalidInputError, match=r"is not UTF-8 text \(byte 13 is 0xe9\)"):
        geometry_from_config(bad)


def test_config_with_model_or_params_is_a_conflict(tmp_path: Path) -> None:
    path = _write(tmp_path, {"num_hidden_layers": 2, "hidden_size": 64,
                             "num_attention_heads": 4, "vocab_size": 100})
    for extra in ({"model": "llama-2-7b"}, {"params": 7e9}):
        with pytest.raises(InvalidInputError, match="would be ignored: give one source"):
            estimate_inference(config=path, intensity=100, **extra)  # type: ignore[arg-type]
