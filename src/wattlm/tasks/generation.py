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


def continuation_logprob(bundle: Bundle, prompts: Sequence[str],
                         continuations: Sequence[str]) -> list[float]:
    """Mean log-probability per token of each continuation after its prompt (one batch)."""
    import torch

    tokenizer = bundle.tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    heads = [tokenizer(p, add_special_tokens=False)["input_ids"] or [pad] for p in prompts]
    tails = [tokenizer(c, add_special_tokens=False)["input_ids"] or [pad]
             for c in continuations]
    width = max(len(h) + len(t) for h, t in zip(heads, tails))
    ids = torch.full((len(heads), width), pad, dtype=torch.long)
    mask = torch.zeros((len(heads), width), dtype=torch.long)
    for row, (head, tail) in enumerate(zip(heads, tails)):
        ids[row, :len(head) + len(tail)] = torch.tensor(head + tail)
        mask[row, :len(head) + len(tail)] = 1
    with torch.no_grad():
        logits = bundle.model(input_ids=ids.to(bundle.device),
                              attention_mask=mask.to(bundle.device)).logits.float().cpu()
    logp = torch.log_softmax(logits, dim=-1)
    scores = []
    for row, (head, tail) in enumerate(zip(heads, tails)):
        positions = torch.arange(len(head) - 1, len(head) + len(tail) - 1)
        picked = logp[row, positions, torch.tensor(tail)]
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
