"""serve-bench against a real `transformers serve` with a tiny Llama built from a config, on CPU.

Started by wattlm (``--start``), measured as a process tree (modelled CPU), stopped afterwards.
A few requests only; marked slow (about 30 s here, most of it the server loading torch).
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
from pathlib import Path

import pytest

from wattlm.cli.main import main

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")


def _tiny_model(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["the time people way year day thing man world life"] * 20, trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>",
                                                eos_token="</s>", unk_token="<unk>")
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n"
                          "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}")
    fast.save_pretrained(folder)
    config = transformers.LlamaConfig(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
        bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    model.generation_config.eos_token_id = None  # never stop early: max_tokens every time
    model.save_pretrained(folder)
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_bench_against_transformers_serve(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    cli = shutil.which("transformers") or str(Path(sys.executable).with_name("transformers"))
    model = _tiny_model(tmp_path / "tiny")
    port = _free_port()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(["serve-bench", f"http://127.0.0.1:{port}", "--start",
                 f"{cli} serve {model} --host 127.0.0.1 --port {port} --device cpu",
                 "--start-timeout", "180", "--concurrency", "2", "--duration", "3",
                 "--ramp-up", "1", "--idle", "0.5", "--input-tokens", "8", "--output-tokens",
                 "6", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (level,) = json.loads(out)
    assert level["model"] == str(model)
    assert level["token_source"] == "usage"
    # every request generated exactly max_tokens (no EOS), as the server's usage says
    assert level["mean_output_tokens"] == 6
    assert level["requests"]["failed"] == 0 and level["requests"]["completed_in_window"] >= 2
    assert level["mean_input_tokens"] >= 8  # the chat template adds tokens
    assert level["output_tokens"] > 0
    assert level["energy_per_output_token_j"] == pytest.approx(
        level["energy_j"] / level["output_tokens"], rel=1e-9)
    assert level["ttft_s"]["p50"] > 0 and level["ttft_s"]["p50"] <= level["ttft_s"]["p99"]
    assert level["measured"].startswith("process tree of pid ")
    assert level["provenance"] == "modelled"  # CPU x TDP of the server's tree on this machine
    assert not level["estimate"]["available"]  # a custom model on a CPU: no estimate
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # the server was stopped
