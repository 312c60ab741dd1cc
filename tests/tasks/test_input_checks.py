"""Bad input fails with one clear line naming the field and the valid choices, before loading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wattlm.cli.main import main
from wattlm.errors import ConfigError, InvalidInputError
from wattlm.tasks import plan, run_tasks
from wattlm.tasks.benchmark import check_device
from wattlm.tasks.inputs import load_file
from wattlm.tasks.registry import check_model_dir, get_task


def _model_dir(tmp_path: Path, architecture: str) -> Path:
    folder = tmp_path / architecture
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": [architecture]}))
    return folder


def test_unknown_task_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError, match="unknown task 'sumarise'; valid tasks: "
                       "classification, qa, summarisation, translation, generation, similarity"):
        get_task("sumarise")
    assert get_task("Summarization").name == "summarisation"
    assert get_task("text_generation").name == "generation"


def test_a_classifier_cannot_summarise(tmp_path: Path) -> None:
    folder = _model_dir(tmp_path, "BertForSequenceClassification")
    with pytest.raises(ConfigError, match=r"\(BertForSequenceClassification\) cannot do task "
                       r"summarisation: it needs a sequence-to-sequence model"):
        check_model_dir(get_task("summarisation"), str(folder))
    assert check_model_dir(get_task("classification"), str(folder)) == str(folder.resolve())
    t5 = _model_dir(tmp_path, "T5ForConditionalGeneration")
    with pytest.raises(ConfigError, match="cannot do task qa"):
        plan(["qa"], models={"qa": [str(t5)]})
    with pytest.raises(ConfigError, match="does not exist"):
        check_model_dir(get_task("qa"), str(tmp_path / "nowhere"))


def test_inputs_with_a_missing_field_name_it(tmp_path: Path) -> None:
    bad = tmp_path / "qa.jsonl"
    bad.write_text('{"question": "Who?", "context": "Ada is here.", "answer": "Ada"}\n'
                   '{"question": "Where?", "context": "Ada is here."}\n')
    with pytest.raises(ConfigError, match=r"item 2: missing field 'answer' for task qa; its "
                       r"items need the fields question, context, answer"):
        plan(["qa"], inputs=str(bad))
    csv_file = tmp_path / "c.csv"
    csv_file.write_text("text,label\ngood film,1\nbad film,0\n")
    jobs = plan(["classification"], inputs=str(csv_file))
    assert [i["text"] for i in jobs[0].items] == ["good film", "bad film"]
    parquet = tmp_path / "x.parquet"
    parquet.write_text("PAR1")
    with pytest.raises(ConfigError, match="valid types: .jsonl, .csv"):
        load_file(str(parquet))
    with pytest.raises(InvalidInputError, match="items of one task"):
        plan(None, inputs=str(csv_file))


def test_a_gpu_device_without_a_gpu_is_refused() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="needs a CUDA GPU and this machine has none.*valid "
                       "devices here: cpu"):
        check_device("cuda")
    with pytest.raises(ConfigError, match="valid devices: cpu, cuda, cuda:N"):
        check_device("tpu")
    with pytest.raises(ConfigError, match="CUDA GPU"):
        run_tasks(["classification"], device="cuda:0", limit=2)


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, r"batch_size must be a whole number in \[1, 1,000,000\]"),
    ({"windows": 0}, r"windows must be a whole number in \[1, 10,000\]"),
    ({"limit": 0}, r"limit must be a whole number in \[1, "),
    ({"windows": 10**30}, r"windows must be a whole number in \[1, 10,000\]"),
    ({"warmup": 10**30}, r"warmup must be a whole number in \[0, 10,000\]"),
    ({"batch_size": 2.5}, "batch_size must be a whole number >= 1"),
    ({"project": ""}, "project must be a non-empty line"),
    ({"split": "a\nb"}, "split must be a non-empty line"),
])
def test_bad_numbers(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        run_tasks(["classification"], **kwargs)


def test_cli_rejects_a_wrong_model_before_importing_transformers(tmp_path: Path) -> None:
    folder = _model_dir(tmp_path, "BertForSequenceClassification")
    code = ("import sys\nfrom wattlm.cli.main import main\n"
            f"rc = main(['tasks', '--task', 'summarisation', '--model', {str(folder)!r}])\n"
            "print(rc, 'transformers' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["2", "False", "False"]
    assert out.stderr.count("\n") == 1 and "cannot do task summarisation" in out.stderr


def test_cli_unknown_task_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "--task", "poetry"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wattlm: error: task: unknown task 'poetry'; valid tasks:")


def test_spec_with_an_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bench.toml"
    spec.write_text('[benchmark]\ntask = ["qa"]\n')
    assert main(["tasks", "--spec", str(spec)]) == 2
    assert "did you mean tasks?" in capsys.readouterr().err


def test_a_datasets_dataset_saved_on_disk(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = {"question": ["Where does Ada live?"], "context": ["Ada lives in Oslo."],
            "answers": [{"text": ["Oslo"], "answer_start": [13]}]}
    folder = tmp_path / "squad-like"
    datasets.DatasetDict({"validation": datasets.Dataset.from_dict(rows)}).save_to_disk(
        str(folder))
    jobs = plan(["qa"], dataset=str(folder))
    assert jobs[0].items[0]["answer"] == "Oslo"          # SQuAD-style answers converted
    with pytest.raises(ConfigError, match="unknown split 'test2'.*valid splits: validation"):
        plan(["qa"], dataset=str(folder), split="test2")
    with pytest.raises(ConfigError, match="not a dataset saved with save_to_disk"):
        plan(["qa"], dataset=str(tmp_path))
