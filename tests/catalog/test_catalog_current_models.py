"""Catalogue rows of current open models (config.json values) and the embodied / token fixes."""

from __future__ import annotations

import pytest

from wattlm.catalog.hardware import get_hardware
from wattlm.catalog.models import get_model
from wattlm.estimate.geometry import geometry_from_model


@pytest.mark.parametrize(("name", "layers", "hidden", "heads", "kv", "head_dim", "experts", "k"), [
    ("Qwen/Qwen3-8B", 36, 4096, 32, 8, 128, None, None),
    ("Qwen/Qwen3-32B", 64, 5120, 64, 8, 128, None, None),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", 48, 2048, 32, 4, 128, 128, 8),
    ("Qwen/Qwen3-235B-A22B-Instruct-2507-FP8", 94, 4096, 64, 4, 128, 128, 8),
    ("Qwen/Qwen3-Coder-480B-A35B-Instruct", 62, 6144, 96, 8, 128, 160, 8),
    ("google/gemma-3-27b-it", 62, 5376, 32, 16, 128, None, None),
    ("openai/gpt-oss-120b", 36, 2880, 64, 8, 64, 128, 4),
])
def test_config_values(name: str, layers: int, hidden: int, heads: int, kv: int, head_dim: int,
                       experts: int | None, k: int | None) -> None:
    m = get_model(name)
    assert (m.layers, m.hidden_size, m.attention_heads, m.kv_heads, m.head_dim) == \
        (layers, hidden, heads, kv, head_dim)
    assert (m.experts, m.experts_per_token) == (experts, k)
    assert "config" in m.source


def test_sliding_window_mla_and_hybrid_geometry() -> None:
    gemma = geometry_from_model(get_model("gemma-3-12b-it"))
    # 8 global layers see the whole context, 40 local ones at most 1024 tokens
    assert gemma.attended_tokens(4096) == 8 * 4096 + 40 * 1024
    r1 = geometry_from_model(get_model("deepseek-ai/DeepSeek-R1"))
    assert r1.kv_elements_per_token_layer() == 512 + 64
    nemo = geometry_from_model(get_model("nvidia/Nemotron-H-8B-Base-8K"))
    assert (nemo.architecture, nemo.attention_layers) == ("hybrid", 4)


def test_token_and_embodied_fixes() -> None:
    assert get_model("Llama-4-Maverick").training_tokens == pytest.approx(2.2e13)
    assert get_model("OLMo-2-13B").training_tokens == pytest.approx(5.0e12)
    h100 = get_hardware("H100-SXM")
    assert (h100.embodied_kg, h100.embodied_low_kg, h100.embodied_high_kg) == (273, 164, 463)
    h200 = get_hardware("H200")
    assert h200.embodied_kg == 364 and h200.embodied_high_kg / h200.embodied_low_kg > 2
    assert "labelled" in h200.embodied_scope or "wide" in h200.embodied_scope
    assert get_hardware("B200").interconnect_bw_gbps == 900
    assert get_model("gpt-3").training_hardware == "V100"
