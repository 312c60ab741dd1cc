"""Catalogue lookups: forgiving names, did-you-mean, datasheet figures, required coverage."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest

from wattlm.catalog import get_hardware, get_model, list_hardware, list_models
from wattlm.errors import InvalidInputError, UnknownNameError

REQUIRED_HARDWARE = [
    "V100", "A100-40GB", "A100-80GB", "A100-40GB-PCIe", "A100-80GB-PCIe", "H100-SXM",
    "H100-PCIe", "H200", "B200", "L4", "T4", "A10", "RTX-4090", "TPU-v2", "TPU-v3", "TPU-v4",
    "TPU-v5e", "TPU-v5p", "MI250X", "MI300X", "P100",
]


@pytest.mark.parametrize(("query", "expected"), [
    ("h100", "H100-SXM"), ("H100 SXM", "H100-SXM"), ("NVIDIA H100 80GB HBM3", "H100-SXM"),
    ("a100", "A100-80GB"), ("NVIDIA A100-SXM4-40GB", "A100-40GB"), ("tpu v4", "TPU-v4"),
    ("TPUv3", "TPU-v3"), ("rtx4090", "RTX-4090"), ("Xeon 8480+", "Xeon-Platinum-8480+"),
])
def test_hardware_forgiving_names(query: str, expected: str) -> None:
    assert get_hardware(query).name == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("gpt3", "GPT-3"), ("GPT-3 175B", "GPT-3"), ("meta-llama/Llama-2-70b-hf", "Llama-2-70B"),
    ("llama-2-70b", "Llama-2-70B"), ("mixtral 8x7b", "Mixtral-8x7B"),
    ("google/gemma-2-27b-it", "Gemma-2-27B"), ("bigscience/bloom", "BLOOM-176B"),
])
def test_model_forgiving_names(query: str, expected: str) -> None:
    assert get_model(query).name == expected


def test_unknown_names_suggest_the_right_spelling() -> None:
    with pytest.raises(UnknownNameError, match="did you mean H100-SXM"):
        get_hardware("h10O")
    with pytest.raises(UnknownNameError, match="did you mean Llama-2-70B"):
        get_model("lama-2-70b")
    with pytest.raises(UnknownNameError, match="wattlm models"):
        get_model("xyzzy")


def test_required_hardware_rows_present() -> None:
    names = {h.name for h in list_hardware()}
    assert set(REQUIRED_HARDWARE) <= names
    assert sum(1 for h in list_hardware() if h.kind == "cpu") >= 3


def test_datasheet_figures() -> None:
    h100 = get_hardware("H100-SXM")
    assert h100.tdp_w == 700
    assert h100.peak_flops("bf16") == pytest.approx(989.4e12)
    assert h100.peak_flops("fp8") == pytest.approx(1978.9e12)
    assert h100.memory_gb == 80 and h100.memory_bw_gbps == 3350
    a100 = get_hardware("A100-80GB")
    assert (a100.tdp_w, a100.peak_flops("bf16"), a100.memory_bw_gbps) == (400, 312e12, 2039)


def test_precision_fallbacks_and_errors() -> None:
    v100 = get_hardware("V100")
    assert v100.peak_flops("bf16") == pytest.approx(125e12)  # no bf16: runs at fp16 rate
    assert get_hardware("H100-SXM").peak_flops("int4") == pytest.approx(1978.9e12)
    assert get_hardware("T4").peak_flops("int4") == pytest.approx(260e12)
    with pytest.raises(InvalidInputError, match="unknown precision 'fp6'"):
        v100.peak_flops("fp6")
    with pytest.raises(InvalidInputError, match="no peak"):
        get_hardware("EPYC-9654").peak_flops("fp32")
    # no published TDP: derived from TPU-v4's efficiency, 192 W / 275 TFLOP/s x 459 TFLOP/s
    v5p = get_hardware("TPU-v5p")
    assert not v5p.tdp_published
    assert v5p.require_tdp_w() == pytest.approx(459 * 192 / 275)
    assert "TPU-v4" in v5p.tdp_with_source()[1]
    orphan = dataclasses.replace(v5p, vendor="Nobody", name="X-1")
    with pytest.raises(InvalidInputError, match="power_w"):
        orphan.require_tdp_w()


def test_embodied_bounds_are_ordered() -> None:
    for hw in list_hardware():
        if hw.embodied_kg is not None:
            assert hw.embodied_low_kg is not None and hw.embodied_high_kg is not None
            assert hw.embodied_low_kg <= hw.embodied_kg <= hw.embodied_high_kg
            assert hw.embodied_scope


def test_model_figures_and_moe() -> None:
    gpt3 = get_model("gpt-3")
    assert (gpt3.params, gpt3.training_tokens, gpt3.layers) == (175e9, 300e9, 96)
    mixtral = get_model("Mixtral-8x7B")
    assert mixtral.is_moe and mixtral.active_params < mixtral.params
    assert (mixtral.experts, mixtral.experts_per_token) == (8, 2)
    assert get_model("Llama-2-70B").kv_heads == 8


def test_catalogue_size_and_sources() -> None:
    models = list_models()
    assert len(models) >= 40
    assert all(m.source and m.params > 0 and m.active_params <= m.params for m in models)
    assert all(h.source for h in list_hardware())


def test_search() -> None:
    names = [m.name for m in list_models("llama-2")]
    assert names == ["Llama-2-7B", "Llama-2-13B", "Llama-2-70B"]
    assert {h.name for h in list_hardware("h100")} == {"H100-SXM", "H100-PCIe"}


def test_every_mlenergy_model_resolves() -> None:
    """Every model id of the ML.ENERGY v2 sweep (which the inference validation uses)."""
    ids = [
        "bigcode/starcoder2-15b", "bigcode/starcoder2-3b", "bigcode/starcoder2-7b",
        "codellama/CodeLlama-13b-hf", "codellama/CodeLlama-34b-hf", "codellama/CodeLlama-70b-hf",
        "codellama/CodeLlama-7b-hf", "google/codegemma-1.1-2b", "google/codegemma-7b",
        "google/gemma-2-27b-it", "google/gemma-2-2b-it", "google/gemma-2-9b-it",
        "meta-llama/Meta-Llama-3.1-405B-Instruct", "meta-llama/Meta-Llama-3.1-70B-Instruct",
        "meta-llama/Meta-Llama-3.1-8B-Instruct", "microsoft/Phi-3-medium-4k-instruct",
        "microsoft/Phi-3-mini-4k-instruct", "microsoft/Phi-3-small-8k-instruct",
        "mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mistral-Large-Instruct-2407",
        "mistralai/Mistral-Nemo-Instruct-2407", "mistralai/Mixtral-8x22B-Instruct-v0.1",
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
    ]
    for repo_id in ids:
        model = get_model(repo_id)
        assert model.layers and model.hidden_size and model.kv_heads and model.head_dim


def test_packaged_csvs_have_source_per_row() -> None:
    import wattlm.catalog

    data = Path(wattlm.catalog.__file__).parent / "data"
    for name in ("hardware.csv", "models.csv"):
        with (data / name).open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert rows and all(r["source"].strip() for r in rows)
    assert (data / "SOURCES.md").is_file()
