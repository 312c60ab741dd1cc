"""Process-wide caches (probes, loaded tables) in one place, so tests can reset them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["cached", "clear_all"]

F = TypeVar("F", bound=Callable[..., Any])
_registry: list[Any] = []


def cached(func: F) -> F:
    """``functools.lru_cache(maxsize=None)`` that :func:`clear_all` can reset."""
    wrapper = functools.lru_cache(maxsize=None)(func)
    _registry.append(wrapper)
    return wrapper  # type: ignore[return-value]


def clear_all() -> None:
    """Forget every cached probe and table."""
    for wrapper in _registry:
        wrapper.cache_clear()
