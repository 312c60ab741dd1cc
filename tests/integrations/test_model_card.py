"""co2_eq_emissions in the model card: grams, created or updated without losing anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wattlm.errors import InvalidInputError
from wattlm.integrations.model_card import read_front_matter, write_co2_metadata

EXISTING = """---
license: apache-2.0
tags:
- text-classification
co2_eq_emissions:
  emissions: 1.0
  cloud_provider: ovh
---

# My model

Some text with --- in it.
"""


@pytest.mark.parametrize("use_yaml", [True, False])
def test_new_card_round_trips_through_yaml(tmp_path: Path, use_yaml: bool) -> None:
    card = write_co2_metadata(tmp_path / "out", 12.5, training_type="pre-training",
                              geographical_location='France "FR": nuclear',
                              hardware_used="1 x H100", use_yaml=use_yaml)
    assert card == tmp_path / "out" / "README.md"
    meta = read_front_matter(card)["co2_eq_emissions"]
    assert meta == {"emissions": 12.5, "source": "wattlm", "training_type": "pre-training",
                    "geographical_location": 'France "FR": nuclear',
                    "hardware_used": "1 x H100"}


@pytest.mark.parametrize("use_yaml", [True, False])
def test_existing_card_keeps_keys_and_text(tmp_path: Path, use_yaml: bool) -> None:
    (tmp_path / "README.md").write_text(EXISTING, encoding="utf-8")
    card = write_co2_metadata(tmp_path, 0.25, use_yaml=use_yaml)
    text = card.read_text(encoding="utf-8")
    assert text.endswith("# My model\n\nSome text with --- in it.\n")
    data = read_front_matter(card)
    assert data["license"] == "apache-2.0"
    assert data["tags"] == ["text-classification"]
    co2 = data["co2_eq_emissions"]
    assert co2["emissions"] == 0.25  # grams, replaced
    assert co2["source"] == "wattlm"
    assert co2["training_type"] == "fine-tuning"
    assert co2["cloud_provider"] == "ovh"  # a field wattlm does not set is kept
    # Writing again changes nothing else (idempotent).
    write_co2_metadata(tmp_path, 0.25, use_yaml=use_yaml)
    assert card.read_text(encoding="utf-8") == text


def test_card_without_front_matter_keeps_its_text(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Title\n\nBody.\n", encoding="utf-8")
    card = write_co2_metadata(tmp_path, 3.0)
    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\n") and text.endswith("# Title\n\nBody.\n")
    front = text.split("---\n")[1]
    assert yaml.safe_load(front)["co2_eq_emissions"]["emissions"] == 3.0


@pytest.mark.parametrize("grams", [-1.0, float("nan"), float("inf")])
def test_bad_emissions_refused(tmp_path: Path, grams: float) -> None:
    with pytest.raises(InvalidInputError, match="grams"):
        write_co2_metadata(tmp_path, grams)


def test_bad_training_type_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="fine-tuning"):
        write_co2_metadata(tmp_path, 1.0, training_type="finetune")
