"""What the load generator sends: synthetic prompts of set lengths, or prompts from a JSONL file.

A JSONL prompts file has one JSON object per line with either ``"prompt"`` (a string, sent to
``/v1/completions`` as is and to ``/v1/chat/completions`` as one user message) or
``"messages"`` (a list of ``{"role", "content"}``), and optionally ``"max_tokens"`` (a positive
whole number; default the workload's output length). Anything else on a line is ignored.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wattlm.errors import InvalidInputError

__all__ = ["DISTRIBUTIONS", "ENDPOINTS", "Prompt", "Workload", "load_prompts"]

ENDPOINTS = ("chat", "completions")
DISTRIBUTIONS = ("fixed", "uniform", "exponential")
MAX_TOKENS = 1_000_000

# Common English words, each one token in the tokenizers of most LLMs, so a synthetic prompt of
# N words is close to N tokens (the server's ``usage`` gives the exact count that is reported).
_WORDS = ("the time people way year day thing man world life hand part child eye woman place "
          "work week case point number group problem fact water room mother area money story "
          "night home state month book word side kind head house friend hour game line end "
          "member law car city name team minute idea kid body back face level office door "
          "health person art war party result change morning reason research girl guy moment "
          "air teacher force education").split()


@dataclass(frozen=True)
class Prompt:
    """One request's input: ``messages`` (chat) or ``text`` (completions), and ``max_tokens``."""

    text: str | None
    messages: tuple[dict[str, str], ...] | None
    max_tokens: int

    def body(self, endpoint: str, model: str) -> dict[str, Any]:
        """The request body for ``endpoint`` (``chat`` or ``completions``), streaming on."""
        body: dict[str, Any] = {"model": model, "max_tokens": self.max_tokens, "stream": True,
                                "stream_options": {"include_usage": True}}
        if endpoint == "chat":
            messages = self.messages if self.messages is not None else (
                {"role": "user", "content": self.text or ""},)
            body["messages"] = list(messages)
        else:
            body["prompt"] = self.text if self.text is not None else "\n".join(
                m["content"] for m in self.messages or ())
        return body


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value) or not 0 < value <= MAX_TOKENS:
        raise InvalidInputError(f"{what} must be a whole number between 1 and {MAX_TOKENS:,}, "
                                f"got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Workload:
    """The requests of a load level.

    Args:
        endpoint: ``chat`` (``/v1/chat/completions``) or ``completions`` (``/v1/completions``).
        input_tokens: mean prompt length of synthetic prompts, in words (about one token each).
        output_tokens: mean ``max_tokens`` of each request.
        distribution: how lengths vary around the means: ``fixed``; ``uniform`` (0.5x to 1.5x);
            ``exponential`` (mean as given, at least 1).
        prompts: prompts from a file (:func:`load_prompts`), used in turn instead of synthetic.
        seed: random seed of lengths and words, for repeatable workloads.
        extra_body: fields added to every request (``{"ignore_eos": True}`` for vLLM).
    """

    endpoint: str = "chat"
    input_tokens: int = 128
    output_tokens: int = 64
    distribution: str = "fixed"
    prompts: tuple[Prompt, ...] | None = None
    seed: int = 0
    extra_body: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise InvalidInputError(f"endpoint must be one of {', '.join(ENDPOINTS)}, "
                                    f"got {self.endpoint!r}")
        if self.distribution not in DISTRIBUTIONS:
            raise InvalidInputError(f"length distribution must be one of "
                                    f"{', '.join(DISTRIBUTIONS)}, got {self.distribution!r}")
        _positive_int(self.input_tokens, "input tokens")
        _positive_int(self.output_tokens, "output tokens")
        if self.prompts is not None and not self.prompts:
            raise InvalidInputError("the prompts file holds no prompt")

    def _length(self, rng: random.Random, mean: int) -> int:
        if self.distribution == "uniform":
            return max(1, round(rng.uniform(0.5 * mean, 1.5 * mean)))
        if self.distribution == "exponential":
            return max(1, min(MAX_TOKENS, round(rng.expovariate(1.0 / mean))))
        return mean

    def stream(self) -> Iterator[dict[str, Any]]:
        """Request bodies without end (a fixed sequence for a given seed), model left blank."""
        rng = random.Random(self.seed)
        extra = dict(self.extra_body)
        index = 0
        while True:
            if self.prompts is not None:
                prompt = self.prompts[index % len(self.prompts)]
            else:
                words = " ".join(rng.choice(_WORDS) for _ in range(
                    self._length(rng, self.input_tokens)))
                prompt = Prompt(words, None, self._length(rng, self.output_tokens))
            index += 1
            body = prompt.body(self.endpoint, "")
            body.update(extra)
            yield body


def _parse_line(line: str, where: str, default_max_tokens: int) -> Prompt:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"{where}: not valid JSON ({e.msg})") from e
    if not isinstance(item, dict):
        raise InvalidInputError(f"{where}: expected a JSON object with \"prompt\" or "
                                f"\"messages\", got {type(item).__name__}")
    max_tokens = default_max_tokens
    if "max_tokens" in item:
        max_tokens = _positive_int(item["max_tokens"], f"{where}: max_tokens")
    if isinstance(item.get("prompt"), str) and item["prompt"]:
        return Prompt(item["prompt"], None, max_tokens)
    messages = item.get("messages")
    if isinstance(messages, list) and messages:
        for m in messages:
            if not (isinstance(m, dict) and isinstance(m.get("role"), str)
                    and isinstance(m.get("content"), str)):
                raise InvalidInputError(f"{where}: each message needs string \"role\" and "
                                        f"\"content\", got {m!r}")
        return Prompt(None, tuple({"role": m["role"], "content": m["content"]}
                                  for m in messages), max_tokens)
    raise InvalidInputError(f"{where}: missing field: each line needs a non-empty \"prompt\" "
                            f"string or a \"messages\" list (found keys: "
                            f"{', '.join(sorted(item)) or 'none'})")


def load_prompts(path: str | Path, default_max_tokens: int = 64) -> tuple[Prompt, ...]:
    """Read and check a JSONL prompts file (blank lines skipped).

    Raises:
        InvalidInputError: the file is missing or unreadable, or a line is not an object with
            ``prompt`` or ``messages`` (the message names the line).
    """
    from wattlm import _validate

    file = Path(path)
    text = _validate.read_text(file, "the prompts file")
    prompts = [_parse_line(line, f"{file}:{n}", default_max_tokens)
               for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not prompts:
        raise InvalidInputError(f"the prompts file {file} holds no prompt (one JSON object "
                                "per line with \"prompt\" or \"messages\")")
    return tuple(prompts)
