"""The widened catalogues: every added name resolves, no alias steals another row's name."""

from __future__ import annotations

import pytest

from wattlm.catalog import get_hardware, get_model, list_hardware, list_models

# (query as a user or Hugging Face would spell it, canonical row)
ADDED_MODELS = [
    ("olmo-7b", "OLMo-7B"), ("allenai/OLMo-7B", "OLMo-7B"),
    ("allenai/OLMo-2-1124-7B", "OLMo-2-7B"), ("olmo-2-13b", "OLMo-2-13B"),
    ("falcon-7b", "Falcon-7B"), ("tiiuae/falcon-40b", "Falcon-40B"),
    ("Falcon 180B", "Falcon-180B"), ("chinchilla", "Chinchilla"), ("PaLM 540B", "PaLM-540B"),
    ("Megatron-Turing NLG 530B", "MT-NLG-530B"), ("EleutherAI/gpt-j-6b", "GPT-J-6B"),
    ("gpt-neox-20b", "GPT-NeoX-20B"), ("deepseek-ai/deepseek-llm-67b-base", "DeepSeek-LLM-67B"),
    ("deepseek-llm-7b", "DeepSeek-LLM-7B"),
    ("ibm-granite/granite-3.0-8b-instruct", "Granite-3.0-8B"),
    ("granite-3.1-8b", "Granite-3.1-8B"), ("meta-llama/Llama-3.3-70B-Instruct", "Llama-3.3-70B"),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "Llama-4-Scout"),
    ("llama-4-maverick", "Llama-4-Maverick"),
]
ADDED_HARDWARE = [
    ("L40S", "L40S"), ("NVIDIA L40S", "L40S"), ("l40", "L40"), ("mi325x", "MI325X"),
    ("TPU v6e", "TPU-v6e"), ("trillium", "TPU-v6e"), ("gaudi2", "Gaudi-2"),
    ("Intel Gaudi 3", "Gaudi-3"),
]


@pytest.mark.parametrize(("query", "expected"), ADDED_MODELS)
def test_added_models_resolve(query: str, expected: str) -> None:
    assert get_model(query).name == expected


@pytest.mark.parametrize(("query", "expected"), ADDED_HARDWARE)
def test_added_hardware_resolves(query: str, expected: str) -> None:
    assert get_hardware(query).name == expected


def test_no_alias_resolves_to_another_row() -> None:
    """Every name and alias of every row leads back to that row (nothing is stolen)."""
    for model in list_models():
        for name in (model.name, *model.aliases):
            assert get_model(name).name == model.name, name
    for part in list_hardware():
        for name in (part.name, *part.aliases):
            assert get_hardware(name).name == part.name, name


def test_short_names_keep_their_rows() -> None:
    assert get_hardware("h100").name == "H100-SXM"
    assert get_hardware("a100").name == "A100-80GB"
    assert get_hardware("mi300x").name == "MI300X"
    assert get_model("llama-2-70b").name == "Llama-2-70B"
    assert get_model("llama3.1-70b").name == "Llama-3.1-70B"


def test_added_figures_match_their_sources() -> None:
    # Falcon-180B: HF config 80 layers x 14848, 232 heads, 8 KV heads; paper 3.5T tokens
    falcon = get_model("Falcon-180B")
    assert (falcon.layers, falcon.hidden_size, falcon.attention_heads, falcon.kv_heads) == (
        80, 14848, 232, 8)
    assert falcon.training_tokens == 3.5e12
    # PaLM Table 1: d_model 18432, 48 heads of 256 (attention width 12288 is not d_model),
    # multi-query (1 KV head), 780B tokens
    palm = get_model("PaLM-540B")
    assert (palm.hidden_size, palm.attention_heads, palm.head_dim) == (18432, 48, 256)
    assert (palm.kv_heads, palm.training_tokens) == (1, 7.8e11)
    # Llama 4 Scout: 109B total, 17B active, 16 experts with one routed per token
    scout = get_model("Llama-4-Scout")
    assert scout.is_moe and (scout.params, scout.active_params) == (1.09e11, 1.7e10)
    assert (scout.experts, scout.experts_per_token) == (16, 1)
    # Gaudi 3 (Intel Hot Chips 2024): 900 W, 1835 BF16 TFLOP/s, 128 GB at 3.67 TB/s
    gaudi3 = get_hardware("Gaudi-3")
    assert gaudi3.tdp_w == 900 and gaudi3.peak_flops("bf16") == pytest.approx(1835e12)
    assert (gaudi3.memory_gb, gaudi3.memory_bw_gbps) == (128, 3670)
    # L40S: dense = half the datasheet's sparse 733 BF16 TFLOP/s; fp8 733 dense
    l40s = get_hardware("L40S")
    assert l40s.peak_flops("bf16") == pytest.approx(362.05e12)
    assert l40s.peak_flops("int8") == pytest.approx(733e12)  # no INT8 figure: FP8 rate
    # MI325X: MI300X compute with more memory and a 1000 W TDP
    mi325x, mi300x = get_hardware("MI325X"), get_hardware("MI300X")
    assert mi325x.peak_tflops == mi300x.peak_tflops
    assert (mi325x.tdp_w, mi325x.memory_gb) == (1000, 256)


def test_tpu_v6e_tdp_is_derived_not_published() -> None:
    """Google publishes no v6e power: derived from TPU-v4's 192 W / 275 TFLOP/s x 918."""
    v6e = get_hardware("TPU-v6e")
    assert not v6e.tdp_published
    assert v6e.require_tdp_w() == pytest.approx(918 * 192 / 275)
