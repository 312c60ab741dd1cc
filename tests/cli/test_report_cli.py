"""wattlm report / whatif / compare / estimate --report from the command line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import wattlm
from wattlm.cli.main import main
from wattlm.sensors.fake import FakeSensor


def _stored_run() -> int:
    """GPU 0.2 kWh + CPU 0.1 kWh, PUE 1.2, 200 g/kWh: 72 g, saved in $WATTLM_DB."""
    sensors = [FakeSensor("gpu0", "gpu", readings=[0.72e6]),
               FakeSensor("cpu", "cpu", readings=[0.36e6])]
    with wattlm.track(sensors=sensors, region="DE", project="cli-test", pue=1.2,
                      intensity_g_per_kwh=200.0, interval_s=0.02) as run:
        with run.phase("train"):
            time.sleep(0.03)
    assert run.result is not None and run.result.id is not None
    return run.result.id


def test_report_model_card_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _stored_run()
    assert main(["report", str(run_id), "--format", "model-card",
                 "--training-type", "pre-training"]) == 0
    block = yaml.safe_load(capsys.readouterr().out)["co2_eq_emissions"]
    assert block["emissions"] == pytest.approx(0.3 * 1.2 * 200.0)
    assert block["training_type"] == "pre-training"


def test_report_html_to_a_file_and_last(tmp_path: Path) -> None:
    _stored_run()
    out = tmp_path / "run.html"
    assert main(["report", "last", "--format", "html", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "cli-test" in page
    assert page.count("data:image/png;base64,") == 3


def test_report_unknown_run_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    _stored_run()
    assert main(["report", "999"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wattlm: error:") and "999" in err and "\n" not in err
    assert main(["report", "abc"]) == 2
    assert "run id (a whole number, see `wattlm runs`) or 'last'" in capsys.readouterr().err


def test_whatif_json_sorted_by_saving(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _stored_run()
    assert main(["whatif", str(run_id), "--no-regions", "--pue", "1.0", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["baseline_emissions_g"] == pytest.approx(72.0)
    assert data["scenarios"][0]["emissions_g"] == pytest.approx(60.0)  # 0.3 x 1.0 x 200
    assert main(["whatif", str(run_id), "--provider", "aws", "--top", "2"]) == 0
    assert "aws:" in capsys.readouterr().out


def test_estimate_train_report(tmp_path: Path) -> None:
    out = tmp_path / "est.md"
    assert main(["estimate", "train", "--model", "llama-2-70b", "--hardware", "A100-80GB",
                 "--region", "FR", "--report", "md", "-o", str(out)]) == 0
    assert "training estimate" in out.read_text(encoding="utf-8")


def _spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "variants.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_compare_spec_with_unknown_key_is_rejected(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "in.txt").write_text("hello\n", encoding="utf-8")
    spec = _spec(tmp_path, '[compare]\ninputs = "in.txt"\n\n'
                           '[variants.base]\nmodel = "m"\nquantise = "int8"\n')
    assert main(["compare", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "[variants.base]" in err and "quantise" in err and "quantize" in err


def test_compare_spec_with_missing_model_dir(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.txt").write_text("hello\n", encoding="utf-8")
    spec = _spec(tmp_path, '[compare]\ninputs = "in.txt"\n\n[variants.base]\nmodel = "nope"\n')
    assert main(["compare", str(spec)]) == 2
    assert "does not exist" in capsys.readouterr().err


def _save_tiny_model(path: Path) -> Any:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    torch.manual_seed(0)
    words = ["good", "bad", "film", "very", "not"]
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=32,
                        num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    BertForSequenceClassification(config).save_pretrained(path)
    BertTokenizerFast(vocab=vocab).save_pretrained(path)


def test_compare_two_local_variants_end_to_end(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _save_tiny_model(tmp_path / "tiny")
    rows = [{"text": t, "label": y} for t, y in
            [("good film", "pos"), ("bad film", "neg"), ("very good", "pos"), ("not good", "neg")]]
    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    spec = _spec(tmp_path, '[compare]\ninputs = "in.jsonl"\nquality = "accuracy"\n'
                           'region = "FR"\n\n[variants.base]\nmodel = "tiny"\n\n'
                           '[variants.int8]\nmodel = "tiny"\nquantize = "int8"\n')
    out = tmp_path / "cmp.html"
    assert main(["compare", str(spec), "--format", "json", "--report", "html", "-o",
                 str(out)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [v["status"] for v in data["variants"]] == ["ok", "ok"]
    assert all(v["items"] == 4 for v in data["variants"])
    assert all(0.0 <= v["quality"] <= 1.0 for v in data["variants"])
    # 4 texts of 2 words: [CLS] w w [SEP] = 4 input tokens each, 16 in all
    assert all(v["tokens"] == 16 for v in data["variants"])
    assert data["pareto"]
    assert "Variant comparison" in out.read_text(encoding="utf-8")


def test_report_requests_adds_sci_per_request(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _stored_run()
    assert main(["report", str(run_id), "--format", "json", "--requests", "10"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["per_unit"]
    assert row["sci_g"]["central"] == pytest.approx(72.0 / 10)   # 72 g, no embodied
    assert main(["report", str(run_id), "--requests", "-1"]) == 2
    assert ("argument --requests: requests must be a number in (0, "
            in capsys.readouterr().err)
    assert main(["report", str(run_id), "--tokens", "1e308"]) == 2
    assert "1,000,000,000,000,000,000]" in capsys.readouterr().err


def test_report_samples_is_a_functional_unit(capsys: pytest.CaptureFixture[str]) -> None:
    """``--samples N`` used to collide with the power samples (``render() got multiple
    values for keyword argument 'samples'``)."""
    run_id = _stored_run()
    assert main(["report", str(run_id), "--format", "json", "--samples", "4"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["per_unit"]
    assert row["unit"] == "sample"
    assert row["sci_g"]["central"] == pytest.approx(72.0 / 4)


def test_whatif_of_an_estimate_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    est = tmp_path / "est.json"
    assert main(["estimate", "train", "--model", "llama-2-70b", "--hardware", "A100-80GB",
                 "--region", "FR", "--report", "json", "-o", str(est)]) == 0
    capsys.readouterr()
    assert main(["whatif", str(est), "--no-regions", "--hardware", "H100-SXM",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (scenario,) = data["scenarios"]
    ratio = (700 / 989.4) / (400 / 312)   # H100-SXM over A100-80GB, energy per bf16 FLOP
    assert scenario["emissions_g"] == pytest.approx(data["baseline_emissions_g"] * ratio,
                                                    rel=1e-6)


def test_whatif_cli_errors_name_the_cli_flags(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _stored_run()   # devices gpu0/cpu: not in the hardware catalogue
    assert main(["whatif", str(run_id), "--no-regions", "--hardware", "H100-SXM"]) == 2
    assert "--current-hardware" in capsys.readouterr().err


@pytest.mark.parametrize("body, message", [
    ('[compare]\ninputs = "in.txt"\nwarmup = "x"\n\n[variants.base]\nmodel = "m"\n',
     "warmup must be an integer >= 0"),
    ('[compare]\ninputs = "in.txt"\n\n[variants.base]\nmodel = "m"\nbatch_size = 0\n',
     "batch_size must be an integer >= 1"),
    ('[compare]\ninputs = "in.txt"\nbaseline = "fast"\n\n[variants.base]\nmodel = "m"\n',
     "baseline 'fast' is not a variant"),
    ('[compare]\ninputs = "empty.txt"\n\n[variants.base]\nmodel = "m"\n', "holds no texts"),
])
def test_compare_spec_values_are_checked_before_loading(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "in.txt").write_text("hello\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    assert main(["compare", str(_spec(tmp_path, body))]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
