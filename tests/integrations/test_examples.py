"""The example scripts run offline on CPU, each well under a minute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONWARNINGS="")
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
def test_bert_classification_example(tmp_path: Path) -> None:
    done = run_example("bert_classification.py", "--json", "--limit", "40", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "tiny BERT built from a config" in done.stderr  # says it has no checkpoint
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["inference"]["items"] == 40
    assert report["inference"]["batches"] == 3  # 16 + 16 + 8
    assert report["inference"]["input_tokens"] > 40 * 3  # [CLS] + [SEP] + at least one word
    assert report["run"]["id"] is not None and report["run"]["energy_kwh"] > 0


@pytest.mark.slow
def test_bert_finetune_example_writes_the_model_card(tmp_path: Path) -> None:
    done = run_example("bert_finetune.py", "--max-steps", "16", "--output-dir", "out",
                       cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "energy_kwh" in done.stdout and "projected_energy_kwh" in done.stdout
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "co2_eq_emissions:" in card and "source: wattlm" in card


@pytest.mark.slow
def test_bert_classification_example_loads_a_local_checkpoint(tmp_path: Path, model: Any,
                                                               tokenizer: Any) -> None:
    model.save_pretrained(tmp_path / "ckpt")
    tokenizer.save_pretrained(tmp_path / "ckpt")
    done = run_example("bert_classification.py", "--model", "ckpt", "--limit", "5",
                       "--batch-size", "2", "--device", "cpu", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "model: checkpoint ckpt" in done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["inference"]["items"] == 5 and report["inference"]["batches"] == 3
    assert report["inference"]["device"] == "cpu"


@pytest.mark.parametrize(("name", "args", "message"), [
    ("bert_classification.py", ["--model", "missing"], "'missing' is not a directory"),
    ("bert_classification.py", ["--model", "."], "has no config.json"),
    ("bert_classification.py", ["--batch-size", "0"], "--batch-size: expected a whole number"),
    ("bert_finetune.py", ["--max-steps", "-3"], "--max-steps: expected a whole number >= 1"),
    ("bert_finetune.py", ["--region", "Atlantis"], "unknown region 'Atlantis'"),
])
def test_examples_refuse_bad_arguments_in_one_line(tmp_path: Path, name: str, args: list[str],
                                                   message: str) -> None:
    done = run_example(name, *args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
