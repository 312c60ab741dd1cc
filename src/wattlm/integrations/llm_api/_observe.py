"""Attach impacts to a response or a stream without changing what the user's call returns.

A response gets ``response.impacts`` (set with ``object.__setattr__``, so pydantic models keep
serialising exactly as before). A stream keeps its class and identity: its class is swapped for
a cached subclass whose ``__next__``/``__anext__`` watch the chunks; the chunk that carries the
final usage gets ``.impacts``, and so does the stream once exhausted. Any failure in here
becomes warning W623 and the response is returned as it came.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wattlm.errors import ApiImpactWarning, warn

__all__ = ["Usage", "attach", "finish_call", "observe_manager", "observe_stream", "safely"]


@dataclass
class Usage:
    """What a provider adapter read from a response or from stream chunks so far."""

    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    chunks: int = 0
    final: bool = False  # the chunk just read carried the final usage


def safely(what: str, func: Callable[[], Any]) -> Any:
    """Run ``func``; on any exception warn (W623) and return None: never break the user's call."""
    try:
        return func()
    except Exception as e:  # noqa: BLE001 - wattlm must never break the user's API call
        warn(f"could not estimate the impacts of {what} ({type(e).__name__}: {e}); the "
             "response is unchanged", ApiImpactWarning, "W623")
        return None


def attach(obj: Any, impacts: Any) -> None:
    """Set ``obj.impacts`` bypassing pydantic's ``__setattr__`` (not a field, not dumped)."""
    object.__setattr__(obj, "impacts", impacts)


def finish_call(provider: str, usage: Usage) -> Any:
    """Impacts of a finished call; added to the running ``wattlm.track()`` run if any."""
    from wattlm.integrations.llm_api._impacts import compute_impacts

    extra: tuple[str, ...] = ()
    if usage.output_tokens is None:
        usage.output_tokens = usage.chunks
        extra = (warn(f"{provider} response without usage: output tokens counted from "
                      f"{usage.chunks} stream chunks, input tokens unknown (0)",
                      ApiImpactWarning, "W624"),)
    if usage.output_tokens < 0 or (usage.input_tokens or 0) < 0:
        raise ValueError(f"the response's usage has negative token counts "
                         f"({usage.input_tokens}, {usage.output_tokens})")
    impacts = compute_impacts(provider, usage.model or "unknown", int(usage.input_tokens or 0),
                              int(usage.output_tokens))
    if extra:
        from dataclasses import replace

        impacts = replace(impacts, warnings=impacts.warnings + extra)
    _add_to_run(impacts)
    return impacts


def _add_to_run(impacts: Any) -> None:
    from wattlm.tracking.tracker import active_tracker

    tracker = active_tracker()
    add = getattr(tracker, "add_api_energy", None)
    if add is not None:
        add(impacts)


class _State:
    def __init__(self, provider: str, read: Callable[[Any, Usage], None]) -> None:
        self.provider, self.read, self.usage, self.done = provider, read, Usage(), False
        self.impacts: Any = None

    def see(self, stream: Any, chunk: Any) -> None:
        self.usage.final = False
        self.read(chunk, self.usage)
        if self.usage.final and not self.done:
            self.done = True
            self.impacts = finish_call(self.provider, self.usage)
            attach(chunk, self.impacts)
            attach(stream, self.impacts)

    def end(self, stream: Any) -> None:
        if not self.done:
            self.done = True
            self.impacts = finish_call(self.provider, self.usage)
            attach(stream, self.impacts)


def _state(stream: Any) -> _State:
    return object.__getattribute__(stream, "_wattlm_state")  # type: ignore[no-any-return]


def _watch(stream: Any, chunk: Any) -> None:
    safely("a stream chunk", lambda: _state(stream).see(stream, chunk))


def _end(stream: Any) -> None:
    safely("a stream", lambda: _state(stream).end(stream))


_classes: dict[tuple[type, bool], type] = {}


def _observed_class(cls: type, asynchronous: bool) -> type:
    """A subclass of the SDK's stream class that watches each chunk (same behaviour otherwise)."""
    if getattr(cls, "__wattlm_observed__", False):
        return cls
    key = (cls, asynchronous)
    if key in _classes:
        return _classes[key]
    if asynchronous:
        async def __anext__(self: Any) -> Any:  # noqa: N807
            try:
                chunk = await cls.__anext__(self)  # type: ignore[attr-defined]
            except StopAsyncIteration:
                _end(self)
                raise
            _watch(self, chunk)
            return chunk

        def __aiter__(self: Any) -> Any:  # noqa: N807
            return self

        namespace: dict[str, Any] = {"__anext__": __anext__, "__aiter__": __aiter__}
    else:
        def __next__(self: Any) -> Any:  # noqa: N807
            try:
                chunk = cls.__next__(self)  # type: ignore[attr-defined]
            except StopIteration:
                _end(self)
                raise
            _watch(self, chunk)
            return chunk

        def __iter__(self: Any) -> Any:  # noqa: N807
            return self

        namespace = {"__next__": __next__, "__iter__": __iter__}
    observed = type(cls.__name__, (cls,), {**namespace, "__module__": cls.__module__,
                                           "__qualname__": cls.__qualname__,
                                           "__wattlm_observed__": True})
    _classes[key] = observed
    return observed


def observe_stream(stream: Any, provider: str, read: Callable[[Any, Usage], None],
                   asynchronous: bool) -> Any:
    """Make ``stream`` report its impacts as it is consumed; returns the same object."""
    object.__setattr__(stream, "_wattlm_state", _State(provider, read))
    stream.__class__ = _observed_class(type(stream), asynchronous)
    return stream


def _observed_manager(cls: type, provider: str, read: Callable[[Any, Usage], None]) -> type:
    key = (cls, provider == "anthropic")  # one provider per manager class in practice
    if key in _classes:
        return _classes[key]

    def __enter__(self: Any) -> Any:  # noqa: N807
        stream = cls.__enter__(self)  # type: ignore[attr-defined]
        return safely("a stream", lambda: observe_stream(stream, provider, read, False)) \
            or stream

    async def __aenter__(self: Any) -> Any:  # noqa: N807
        stream = await cls.__aenter__(self)  # type: ignore[attr-defined]
        return safely("a stream", lambda: observe_stream(stream, provider, read, True)) \
            or stream

    namespace: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                 "__wattlm_observed__": True}
    if hasattr(cls, "__enter__"):
        namespace["__enter__"] = __enter__
    if hasattr(cls, "__aenter__"):
        namespace["__aenter__"] = __aenter__
    _classes[key] = type(cls.__name__, (cls,), namespace)
    return _classes[key]


def observe_manager(manager: Any, provider: str, read: Callable[[Any, Usage], None]) -> Any:
    """A stream manager (``with client.messages.stream(...) as stream``) whose stream reports."""
    if not getattr(type(manager), "__wattlm_observed__", False):
        manager.__class__ = _observed_manager(type(manager), provider, read)
    return manager
