"""Dialogue / text generation: a reply per prompt; ROUGE-L against the reference reply.

The tiny default is a GPT-2 built from a config. The counterfactual fairness check for
generators compares the continuations and the mean log-probability of a fixed continuation
(see :mod:`wattlm.fairness.counterfactual`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wattlm.tasks import _hf, _seq2seq
from wattlm.tasks.base import Bundle, Item, Quality, Runner, Task

__all__ = ["TASK", "continuation_logprob"]

MAX_NEW_TOKENS = 16


def _tiny(items: Sequence[Item], seed: int) -> Bundle:
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = _hf.word_tokenizer(f"{i['prompt']} {i.get('reference', '')}" for i in items)
    _hf.seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2,
                        n_positions=256, bos_token_id=tokenizer.cls_token_id,
                        eos_token_id=tokenizer.sep_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    return Bundle(GPT2LMHeadModel(config).eval(), tokenizer,  # type: ignore[no-untyped-call]
                  "tiny GPT-2 (random weights, n_embd 32, 2 layers)")


def _load(path: str, device: str) -> Bundle:
    bundle = _hf.load_local(path, "AutoModelForCausalLM", device, path)
    if bundle.tokenizer.pad_token_id is None:
        bundle.tokenizer.pad_token = bundle.tokenizer.eos_token
    return bundle


def _runner(bundle: Bundle, batch_size: int) -> Runner:
    def run(items: list[Item]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(items), batch_size):
            prompts = [str(i["prompt"]) for i in items[start:start + batch_size]]
            out.extend(_hf.generate_texts(bundle, prompts, MAX_NEW_TOKENS))
        return out

    return run


def continuation_logprob(bundle: Bundle, prompts: Sequence[str], continuation: str) -> list[float]:
    """Mean log-probability per token of ``continuation`` after each prompt."""
    import torch

    tokenizer = bundle.tokenizer
    tail = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    scores = []
    for prompt in prompts:
        head = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([head + tail], device=bundle.device)
        with torch.inference_mode():
            logits = bundle.model(input_ids=ids).logits.float()[0]
        logp = torch.log_softmax(logits[len(head) - 1:-1], dim=-1)
        picked = logp[torch.arange(len(tail)), torch.tensor(tail, device=bundle.device)]
        scores.append(float(picked.mean()))
    return scores


def _score(outputs: list[Any], items: list[Item]) -> Quality:
    from wattlm.tasks.summarisation import rouge

    values = rouge([str(o) for o in outputs], [str(i["reference"]) for i in items])
    return Quality("rougeL", values["rougeL"], {"rouge1": values["rouge1"]})


TASK = Task(
    name="generation", title="dialogue / text generation",
    aliases=("text-generation", "dialogue", "chat", "causal-lm"),
    fields=("prompt", "reference"), text_field="prompt", metric="rougeL",
    architectures=("ForCausalLM", "LMHeadModel"),
    needs="a causal language model (architectures ending ForCausalLM or LMHeadModel)",
    generates=True, build_tiny=_tiny, load=_load, make_runner=_runner, score=_score,
    output_tokens=_seq2seq.output_tokens, fairness="generation")
