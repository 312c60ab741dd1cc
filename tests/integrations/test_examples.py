"""The example scripts run offline on CPU, each well under a minute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
