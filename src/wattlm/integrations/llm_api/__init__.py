"""Per-request impacts of hosted LLM APIs: ``instrument(client)`` and ``response.impacts``.

::

    from openai import OpenAI
    from wattlm.integrations.llm_api import instrument

    client = instrument(OpenAI())
    response = client.chat.completions.create(model="gpt-4o-mini", messages=[...])
    print(response.impacts.energy, response.impacts.emissions, response.impacts.warnings)

``instrument(client)`` instruments one client of ``openai``, ``anthropic`` or ``mistralai``
(or the ``litellm`` module) and returns it; ``instrument()`` instruments every supported SDK
that is installed (``litellm`` once imported), for all their clients. Sync, async and
streamed calls are covered (a stream gets ``.impacts`` once consumed, and so does its final
usage chunk). Each figure is a
:class:`~wattlm.units.Range` with provenance ``estimated``; energy in J, emissions and embodied
in gCO2e, water in L. Calls made inside ``wattlm.track()`` are added to that run as an ``api``
device. wattlm never breaks the call: a failure is warning W623 and the response is unchanged.
Method and sources: ``docs/api-impacts.md``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any, TypeVar

from wattlm.errors import InvalidInputError
from wattlm.integrations.llm_api._impacts import Impacts, compute_impacts

__all__ = ["SUPPORTED", "Impacts", "compute_impacts", "instrument", "uninstrument"]

SUPPORTED = ("openai", "anthropic", "mistralai", "litellm")

C = TypeVar("C")

_originals: dict[tuple[str, str], Any] = {}


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _patch_module(sdk_name: str) -> None:
    from wattlm.integrations.llm_api._sdks import SDKS, wrap_method

    sdk = SDKS[sdk_name]
    for module_name, target, asynchronous in sdk.targets:
        module = importlib.import_module(module_name)
        owner_name, _, attr = target.rpartition(".")
        owner = getattr(module, owner_name) if owner_name else module
        original = getattr(owner, attr)
        if getattr(original, "__wattlm_wrapped__", False):
            continue
        _originals[(module_name, target)] = original
        setattr(owner, attr, wrap_method(sdk, original, asynchronous))


def _client_targets(client: Any) -> tuple[str, list[tuple[Any, ...]]]:
    """(sdk name, [(object, method name, async[, adapter])]) for one client instance."""
    module = type(client).__module__.split(".")[0] if not hasattr(client, "__spec__") else \
        client.__name__
    if module == "openai":
        chat, responses = client.chat.completions, client.responses
        asynchronous = type(chat).__name__.startswith("Async")
        return "openai", [(chat, "create", asynchronous),
                          (responses, "create", asynchronous, "openai-responses")]
    if module == "anthropic":
        resource = client.messages
        return "anthropic", [(resource, "create", type(resource).__name__.startswith("Async")),
                             (resource, "stream", False)]
    if module == "mistralai":
        chat = client.chat
        return "mistralai", [(chat, "complete", False), (chat, "complete_async", True),
                             (chat, "stream", False), (chat, "stream_async", True)]
    if module == "litellm":
        return "litellm", []
    raise InvalidInputError(f"instrument() supports clients of {', '.join(SUPPORTED)}; got "
                            f"{type(client).__module__}.{type(client).__name__}")


def instrument(client: C | None = None) -> C | tuple[str, ...]:
    """Give every response of ``client`` (or of every installed SDK) an ``impacts`` attribute.

    Args:
        client: an ``openai.OpenAI``/``AsyncOpenAI`` (or Azure) client, an
            ``anthropic.Anthropic``/``AsyncAnthropic``, a ``mistralai.Mistral``, or the
            ``litellm`` module. None instruments the SDK classes themselves (every client,
            present and future) of each supported SDK that is installed.

    Returns:
        The same client, instrumented; with no argument, the names of the SDKs instrumented.

    Raises:
        InvalidInputError: ``client`` is not of a supported SDK.
    """
    if client is None:
        done = []
        for name in SUPPORTED:
            # litellm fetches a price list over the network when imported: patch it only if
            # the program already imported it (or pass the module: instrument(litellm))
            if (name != "litellm" and _installed(name)) or (name == "litellm"
                                                           and name in sys.modules):
                _patch_module(name)
                if name == "openai":
                    _patch_module("openai-responses")
                done.append(name)
        return tuple(done)
    from wattlm.integrations.llm_api._sdks import SDKS, wrap_method

    sdk_name, targets = _client_targets(client)
    if sdk_name == "litellm":
        _patch_module("litellm")
        return client
    for owner, attr, asynchronous, *adapter in targets:
        sdk = SDKS[adapter[0] if adapter else sdk_name]
        setattr(owner, attr, wrap_method(sdk, getattr(owner, attr), asynchronous))
    return client


def uninstrument() -> None:
    """Undo :func:`instrument` ``()`` (class-level and ``litellm`` patches; not per client)."""
    for (module_name, target), original in list(_originals.items()):
        module = importlib.import_module(module_name)
        owner_name, _, attr = target.rpartition(".")
        setattr(getattr(module, owner_name) if owner_name else module, attr, original)
        del _originals[(module_name, target)]
