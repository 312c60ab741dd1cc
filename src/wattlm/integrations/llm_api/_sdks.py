"""Per-SDK adapters: which methods to wrap and how to read model and tokens from their answers.

* ``openai``: ``chat.completions.create`` (sync, async, ``stream=True``; usage in the last
  chunk with ``stream_options={"include_usage": True}``) and ``responses.create`` (usage in
  the ``response.completed`` event).
* ``anthropic``: ``messages.create`` (sync, async, ``stream=True``: ``message_start`` carries
  the input tokens, ``message_delta`` the output tokens) and the ``messages.stream(...)``
  helper (its ``MessageStream`` reports once consumed, e.g. by ``get_final_message()``).
* ``mistralai``: ``chat.complete``, ``chat.complete_async``, ``chat.stream``,
  ``chat.stream_async`` (events whose ``data`` is a chunk; usage in the last one).
* ``litellm``: ``completion`` and ``acompletion`` (OpenAI-shaped answers; the provider comes
  from the model's ``provider/`` prefix or the catalogue).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from wattlm.integrations.llm_api._observe import (
    Usage,
    attach,
    finish_call,
    observe_manager,
    observe_stream,
    safely,
)

__all__ = ["SDKS", "wrap_method"]


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _openai_usage(obj: Any, usage: Usage) -> None:
    """An OpenAI-shaped response or chunk (OpenAI, Mistral chunk data, LiteLLM)."""
    usage.model = _get(obj, "model") or usage.model
    choices = _get(obj, "choices") or []
    if choices:
        delta = _get(choices[0], "delta")
        if delta is not None and _get(delta, "content"):
            usage.chunks += 1
    found = _get(obj, "usage")
    if found is not None and _int(_get(found, "completion_tokens")) is not None:
        usage.output_tokens = _int(_get(found, "completion_tokens"))
        usage.input_tokens = _int(_get(found, "prompt_tokens"))
        usage.final = True


def _openai_responses(obj: Any, usage: Usage) -> None:
    """A Responses-API ``Response``, or one of its stream events."""
    kind = _get(obj, "type")
    if isinstance(kind, str) and kind.startswith("response."):
        if kind.endswith("output_text.delta"):
            usage.chunks += 1
        if kind not in ("response.completed", "response.incomplete", "response.created"):
            return
        obj = _get(obj, "response")
    usage.model = _get(obj, "model") or usage.model
    found = _get(obj, "usage")
    if found is not None and _int(_get(found, "output_tokens")) is not None:
        usage.output_tokens = _int(_get(found, "output_tokens"))
        usage.input_tokens = _int(_get(found, "input_tokens"))
        usage.final = True


def _mistral_event(event: Any, usage: Usage) -> None:
    _openai_usage(_get(event, "data"), usage)


def _anthropic_event(event: Any, usage: Usage) -> None:
    kind = _get(event, "type")
    if kind == "message_start":
        message = _get(event, "message")
        usage.model = _get(message, "model") or usage.model
        usage.input_tokens = _int(_get(_get(message, "usage"), "input_tokens"))
    elif kind == "content_block_delta":
        usage.chunks += 1
    elif kind == "message_delta":
        found = _get(event, "usage")
        if _int(_get(found, "output_tokens")) is not None:
            usage.output_tokens = _int(_get(found, "output_tokens"))
            if _int(_get(found, "input_tokens")):
                usage.input_tokens = _int(_get(found, "input_tokens"))
            usage.final = True


def _anthropic_message(message: Any, usage: Usage) -> None:
    usage.model = _get(message, "model")
    found = _get(message, "usage")
    usage.input_tokens = _int(_get(found, "input_tokens"))
    usage.output_tokens = _int(_get(found, "output_tokens"))


def _litellm_provider(model: str | None, kwargs: dict[str, Any]) -> str:
    name = str(kwargs.get("model") or model or "")
    prefix = name.split("/", 1)[0] if "/" in name else ""
    return {"openai": "openai", "azure": "openai", "anthropic": "anthropic",
            "mistral": "mistral"}.get(prefix, "unknown")


class _Sdk:
    """How to find the methods of one SDK and read its answers."""

    def __init__(self, module: str, provider: str, targets: tuple[tuple[str, str, bool], ...],
                 whole: Callable[[Any, Usage], None], chunk: Callable[[Any, Usage], None],
                 stream_types: tuple[str, ...]) -> None:
        self.module, self.provider, self.targets = module, provider, targets
        self.whole, self.chunk, self.stream_types = whole, chunk, stream_types

    def is_stream(self, value: Any) -> bool:
        return any(cls.__name__ == name for cls in type(value).__mro__
                   for name in self.stream_types)


SDKS: dict[str, _Sdk] = {
    # targets: (module path, Class.method or function, async)
    "openai": _Sdk("openai", "openai", (
        ("openai.resources.chat.completions.completions", "Completions.create", False),
        ("openai.resources.chat.completions.completions", "AsyncCompletions.create", True)),
        _openai_usage, _openai_usage, ("Stream", "AsyncStream")),
    "openai-responses": _Sdk("openai", "openai", (
        ("openai.resources.responses.responses", "Responses.create", False),
        ("openai.resources.responses.responses", "AsyncResponses.create", True)),
        _openai_responses, _openai_responses, ("Stream", "AsyncStream")),
    "anthropic": _Sdk("anthropic", "anthropic", (
        ("anthropic.resources.messages.messages", "Messages.create", False),
        ("anthropic.resources.messages.messages", "AsyncMessages.create", True),
        ("anthropic.resources.messages.messages", "Messages.stream", False),
        ("anthropic.resources.messages.messages", "AsyncMessages.stream", False)),
        _anthropic_message, _anthropic_event, ("Stream", "AsyncStream")),
    "mistralai": _Sdk("mistralai", "mistral", (
        ("mistralai.client.chat", "Chat.complete", False),
        ("mistralai.client.chat", "Chat.complete_async", True),
        ("mistralai.client.chat", "Chat.stream", False),
        ("mistralai.client.chat", "Chat.stream_async", True)),
        _openai_usage, _mistral_event, ("EventStream", "EventStreamAsync")),
    "litellm": _Sdk("litellm", "unknown", (
        ("litellm", "completion", False), ("litellm", "acompletion", True)),
        _openai_usage, _openai_usage, ("CustomStreamWrapper",)),
}


def _after(sdk: _Sdk, result: Any, kwargs: dict[str, Any], asynchronous: bool) -> Any:
    provider = sdk.provider
    if sdk.module == "litellm":
        provider = _litellm_provider(_get(result, "model"), kwargs)
    if type(result).__name__ in ("MessageStreamManager", "AsyncMessageStreamManager"):
        return observe_manager(result, provider, sdk.chunk)
    if sdk.is_stream(result):
        return observe_stream(result, provider, sdk.chunk, asynchronous)
    usage = Usage()
    sdk.whole(result, usage)
    attach(result, finish_call(provider, usage))
    return result


def _finish(sdk: _Sdk, result: Any, kwargs: dict[str, Any], asynchronous: bool) -> Any:
    done = safely(f"a {sdk.module} call",
                  lambda: _after(sdk, result, kwargs, asynchronous))
    return result if done is None else done


def wrap_method(sdk: _Sdk, func: Callable[..., Any], asynchronous: bool) -> Callable[..., Any]:
    """``func`` with impacts attached to what it returns; the user's errors pass unchanged."""
    if getattr(func, "__wattlm_wrapped__", False):
        return func
    if asynchronous or inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            result = await func(*args, **kwargs)
            return _finish(sdk, result, kwargs, True)

        async_wrapper.__wattlm_wrapped__ = True  # type: ignore[attr-defined]
        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _finish(sdk, func(*args, **kwargs), kwargs, False)

    wrapper.__wattlm_wrapped__ = True  # type: ignore[attr-defined]
    return wrapper
