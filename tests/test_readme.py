"""The README's Python examples run (placeholders for the user's own code are defined here)."""

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def _block(marker: str) -> str:
    found = [b for b in BLOCKS if marker in b]
    assert found, f"no README block with {marker!r}"
    return found[0]


def test_measure_example_runs():
    calls = []
    namespace = {"train": lambda: calls.append("train"), "evaluate": lambda: calls.append("eval")}
    exec(_block("wattlm.track("), namespace)  # noqa: S102 - the README's own code
    assert calls == ["train", "eval"]
    run = namespace["run"]
    assert {p.name for p in run.result.phases} == {"train", "eval"}
    assert run.result.region == "FR"


def test_estimate_and_account_examples_run():
    import wattlm

    namespace: dict = {"wattlm": wattlm}
    with pytest.warns(wattlm.WattlmWarning, match="W803"):  # the inference example has no region
        exec(_block("estimate_inference("), namespace)  # noqa: S102
    assert namespace["est"].energy_kwh.low < namespace["est"].energy_kwh.high
    assert namespace["inf"].energy_per_output_token_j.central > 0
    exec(_block("wattlm.footprint("), namespace)  # noqa: S102
    per = namespace["fp"].per_unit(tokens=2e9)
    assert per["unit"] == "1000 tokens"
