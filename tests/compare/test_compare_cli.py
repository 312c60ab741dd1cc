"""``wattlm compare SPEC``: checks before loading, compression variants, the fixed bugs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wattlm.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def _spec(tmp_path: Path, text: str) -> str:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("variant, message", [
    ('prune = 1.0', "prune must be a number in [0, 1)"),
    ('prune = -0.1', "prune must be a number in [0, 1)"),
    ('quantize = "int2"', "quantize must be one of int8, int8-weight, int4-weight"),
    ('prune_method = "random"\nprune = 0.1', "prune_method must be one of unstructured, "
                                             "structured"),
    ('quantize = "int8"\nprune = 0.2', "one maker per variant"),
    ('qunatize = "int8"', "did you mean quantize"),
])
def test_bad_variants_fail_before_loading(tmp_path: Path, variant: str, message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, f'[compare]\ntask = "classification"\n\n[variants.v]\n'
                           f'model = "tiny"\n{variant}\n')
    assert main(["compare", spec]) == 2
    err = capsys.readouterr().err
    assert message in err and "[variants.v]" in err and err.count("\n") == 1


def test_a_gpu_variant_without_a_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    spec = _spec(tmp_path, '[variants.gpu]\nmodel = "tiny"\ndevice = "cuda"\n')
    assert main(["compare", spec]) == 2
    err = capsys.readouterr().err
    assert "[variants.gpu] device: 'cuda' needs a CUDA GPU" in err and "valid devices" in err


def test_unknown_task_and_unsuitable_model(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, '[compare]\ntask = "poems"\n[variants.v]\nmodel = "tiny"\n')
    assert main(["compare", spec]) == 2
    assert "unknown task 'poems'; valid tasks: classification" in capsys.readouterr().err
    model = tmp_path / "clf"
    model.mkdir()
    (model / "config.json").write_text('{"architectures": ["BertForSequenceClassification"]}')
    spec = _spec(tmp_path, '[compare]\ntask = "translation"\n[variants.v]\nmodel = "clf"\n')
    assert main(["compare", spec]) == 2
    assert "cannot do task translation" in capsys.readouterr().err


def _saved_tiny_bert(tmp_path: Path) -> tuple[Path, list[str], list[int]]:
    """A tiny BERT saved with its tokenizer, and its own predictions on some texts."""
    from wattlm.tasks.registry import get_task

    task = get_task("classification")
    texts = ["the film was great.", "the meal was awful.", "the show was dull.",
             "the book was lovely.", "the trip was poor.", "the play was superb.",
             "the game was weak.", "the album was moving.", "the hotel was clumsy.",
             "the concert was clever."]
    bundle = task.build_tiny([{"text": t} for t in texts], 3)
    folder = tmp_path / "bert"
    bundle.model.save_pretrained(folder)
    bundle.tokenizer.save_pretrained(folder)
    runner = task.make_runner(bundle, 8)
    return folder, texts, [o["id"] for o in runner([{"text": t} for t in texts])]


def test_integer_labels_and_latency_per_batch(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder, texts, predicted = _saved_tiny_bert(tmp_path)
    inputs = tmp_path / "texts.jsonl"
    inputs.write_text("".join(json.dumps({"text": t, "label": p}) + "\n"
                              for t, p in zip(texts, predicted)))
    spec = _spec(tmp_path, '[compare]\ninputs = "texts.jsonl"\nwindows = 2\n'
                           f'fairness = false\n[variants.base]\nmodel = "{folder.name}"\n'
                           'batch_size = 4\n')
    assert main(["compare", spec, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    base = data["variants"][0]
    # labels are the model's own integer predictions; its names are LABEL_0/LABEL_1
    assert base["quality"] == 1.0
    assert base["batch_size"] == 4 and base["windows"] == 2
    assert base["latency_s"] < base["duration_s"] / 2 / 2    # one of 3 batches per window


def test_compression_variants_and_break_even_fields(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, '[compare]\nlimit = 12\nwindows = 2\nbatch_size = 6\n'
                           'max_quality_loss = 0.05\n'
                           '[variants.base]\nmodel = "tiny"\n'
                           '[variants.w8]\nmodel = "tiny"\nquantize = "int8-weight"\n'
                           '[variants.w4]\nmodel = "tiny"\nquantize = "int4-weight"\n'
                           '[variants.rows]\nmodel = "tiny"\nprune = 0.5\n'
                           'prune_method = "structured"\n'
                           '[variants.student]\nmodel = "tiny"\ndistil_steps = 3\n')
    assert main(["compare", spec, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {v["name"]: v for v in data["variants"]}
    assert all(v["status"] == "ok" for v in rows.values()), rows
    assert rows["base"]["make_energy_j"] is None
    for name in ("w8", "w4", "rows", "student"):
        v = rows[name]
        assert v["make_energy_j"] > 0 and v["make_method"]
        assert "break_even_queries" in v
        assert (v["break_even_queries"] is None) == (v["break_even_reason"] is not None)
        assert v["fairness"]["check"] == "counterfactual"
    assert "weight-only int4 (optimum-quanto)" == rows["w4"]["make_method"]
    assert "best_within_quality_loss" in data


def test_the_shipped_example_spec_is_valid() -> None:
    from wattlm.cli.compare import load_spec

    spec = load_spec(str(ROOT / "examples" / "compare_tiny.toml"))
    assert spec["compare"]["task"] == "classification"
    assert set(spec["variants"]) == {"base", "int8", "int4-weight", "pruned-50", "student"}


def test_pruning_reaches_the_requested_sparsity() -> None:
    import torch

    from wattlm.integrations.compression import prune

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 10), torch.nn.ReLU(), torch.nn.Linear(10, 4))
    pruned = prune(model, 0.5)
    zeros = [float((m.weight == 0).float().mean()) for m in pruned if hasattr(m, "weight")]
    assert zeros == [pytest.approx(0.5), pytest.approx(0.5)]
    rows = prune(model, 0.3, "structured")[0].weight
    assert int((rows.abs().sum(dim=1) == 0).sum()) == 3        # 3 of 10 output rows
    assert float((model[0].weight == 0).float().mean()) == 0.0  # the original is untouched


def test_weight_only_quantisation_keeps_outputs_close() -> None:
    import torch

    from wattlm.integrations.compression import weight_only

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8))
    x = torch.randn(4, 64)
    reference = model(x)
    with torch.no_grad():
        error8 = float((weight_only(model, 8)(x) - reference).abs().max())
        error4 = float((weight_only(model, 4)(x) - reference).abs().max())
    assert 0 < error8 < 0.02 < error4 < 0.5        # int4 loses more than int8, both bounded


