"""measure_inference: exact item and token counts, energy from the sensors, latency figures."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("transformers")

import wattlm  # noqa: E402
from wattlm.errors import InvalidInputError  # noqa: E402
from wattlm.integrations.transformers import measure_inference  # noqa: E402
from wattlm.sensors.fake import FakeSensor  # noqa: E402
from wattlm.units import Provenance  # noqa: E402

# Hand-counted with the test vocabulary: words and punctuation are one token each, unknown
# words are [UNK], and [CLS] ... [SEP] add 2 per text.
TEXTS = ["the cat sat on the mat .",   # 7 + 2
         "a dog ran fast .",           # 5 + 2
         "the film was very good .",   # 6 + 2
         "bad film .",                 # 3 + 2
         "the cat , the dog .",        # 6 + 2
         "zebra"]                      # [UNK] + 2
INPUT_TOKENS = 9 + 7 + 8 + 5 + 8 + 3


def test_pipeline_counts_items_and_tokens_exactly(model: Any, tokenizer: Any) -> None:
    from transformers import pipeline

    classifier = pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")
    report = measure_inference(classifier, TEXTS, batch_size=4, region="FR",
                               sensors=[FakeSensor("gpu0", power_w=100.0)])
    assert report.items == 6
    assert report.batches == 2 and len(report.latencies_s) == 2
    assert report.input_tokens == INPUT_TOKENS
    assert report.output_tokens == 0 and report.tokens == INPUT_TOKENS
    assert report.energy_j == pytest.approx(100.0 * report.duration_s, rel=0.01)
    assert report.energy_per_item_j == pytest.approx(report.energy_j / 6)
    assert report.energy_per_token_j == pytest.approx(report.energy_j / INPUT_TOKENS)
    assert report.items_per_s == pytest.approx(6 / report.duration_s)
    assert report.latency_p50_s <= report.latency_p95_s <= max(report.latencies_s)
    assert sum(report.latencies_s) <= report.duration_s + 1e-6
    assert report.provenance is Provenance.MEASURED
    assert report.device == "cpu"
    assert report.run is not None and report.run.id is not None
    phases = {p.name for p in report.run.phases}
    assert phases == {"warmup", "inference"}
    inference = next(p for p in report.run.phases if p.name == "inference")
    # the phase is the report's window plus the reads at its two ends (each read is handed to
    # the sensor's worker thread, tens of microseconds): the extra energy is that extra time
    assert inference.energy_j >= report.energy_j
    assert inference.energy_j - report.energy_j == pytest.approx(
        100.0 * (inference.duration_s - report.duration_s), abs=5e-3)
    data = report.to_dict()
    assert data["items"] == 6 and data["run_id"] == report.run.id


def test_model_and_tokenizer_exclude_padding(model: Any, tokenizer: Any) -> None:
    with wattlm.track(region="FR", sensors=[FakeSensor(power_w=10.0)]) as run:
        report = measure_inference(model, TEXTS, tokenizer=tokenizer, batch_size=3,
                                   warmup_batches=2)
    assert report.run is None  # joined the running tracker
    assert report.items == 6 and report.batches == 2
    assert report.input_tokens == INPUT_TOKENS  # padding to the longest text is not counted
    assert run.result is not None and report.energy_j <= run.result.energy_j


def test_generation_counts_new_tokens(tokenizer: Any) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2,
                        n_head=2, pad_token_id=0, eos_token_id=3, bos_token_id=2)
    lm = GPT2LMHeadModel(config)
    tokenizer.padding_side = "left"
    report = measure_inference(lm, TEXTS[:4], tokenizer=tokenizer, batch_size=2, generate=True,
                               sensors=[FakeSensor(power_w=10.0)], region="FR",
                               max_new_tokens=3, min_new_tokens=3, do_sample=False,
                               suppress_tokens=[0])
    assert report.input_tokens == 9 + 7 + 8 + 5
    assert report.output_tokens == 4 * 3  # exactly max_new_tokens per text


@pytest.mark.parametrize(("inputs", "kwargs", "match"), [
    ([], {}, "at least one"),
    (["ok", 3], {}, "texts"),
    (["ok"], {"batch_size": 0}, "batch_size"),
    (["ok"], {"warmup_batches": -1}, "warmup_batches"),
])
def test_bad_input_is_refused(model: Any, tokenizer: Any, inputs: list[Any],
                              kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        measure_inference(model, inputs, tokenizer=tokenizer, **kwargs)


def test_model_without_tokenizer_is_refused(model: Any) -> None:
    with pytest.raises(InvalidInputError, match="tokenizer"):
        measure_inference(model, ["the cat"])


def test_missing_transformers_names_the_extra() -> None:
    code = ("import sys; sys.modules['transformers'] = None\n"
            "import wattlm.integrations.model_card, wattlm.integrations.projection\n"
            "try:\n"
            "    import wattlm.integrations.transformers\n"
            "except ImportError as e:\n"
            "    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.startswith("MissingExtraError transformers is needed")
    assert "pip install 'wattlm[hf]'" in out
