"""Talk to an OpenAI-compatible server: check it before the load, and send one streamed request.

``httpx`` is imported here only (``pip install 'wattlm[serving]'``). Times are
``time.perf_counter()`` seconds. A request's output tokens come from the stream's ``usage``
(``stream_options.include_usage``; vLLM, llama.cpp, TGI, Ollama send it) or, when the server
sends none, from the number of content chunks (about one token each in vLLM and TGI).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from wattlm.errors import InvalidInputError, MissingExtraError

__all__ = ["RequestResult", "ServerInfo", "base_url", "make_clients", "preflight",
           "send_request"]

PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as e:  # pragma: no cover - the extra is part of the test set
        raise MissingExtraError("httpx", "serving", "serve-bench") from e
    return httpx


def make_clients(count: int, *, connections: int, timeout_s: float, https: bool) -> list[Any]:
    """``count`` ``httpx.AsyncClient`` s of ``connections`` each, sharing one TLS context.

    No TLS context is loaded for ``http://`` (loading the CA bundle costs ~50 ms per client);
    proxies from the environment are ignored (the server is local or named explicitly).
    """
    httpx = _httpx()
    verify: Any = httpx.create_ssl_context() if https else False
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx.Timeout(timeout_s, connect=5.0)
    return [httpx.AsyncClient(timeout=timeout, limits=limits, verify=verify, trust_env=False)
            for _ in range(count)]


def base_url(url: str) -> str:
    """``http://host:port`` (plus any path prefix) from what the user gave; ``/v1`` dropped.

    Raises:
        InvalidInputError: not an ``http://`` or ``https://`` URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(f"the server URL must look like http://127.0.0.1:8000, "
                                f"got {url!r}")
    path = parts.path.rstrip("/")
    for suffix in ("/chat/completions", "/completions", "/models"):
        path = path.removesuffix(suffix)
    return f"{parts.scheme}://{parts.netloc}{path.removesuffix('/v1')}"


@dataclass
class RequestResult:
    """What happened to one request (``perf_counter`` seconds; tokens from ``usage`` or chunks).

    ``token_times_s`` holds the arrival time of each chunk that carried text;
    ``output_tokens``/``input_tokens`` are the server's ``usage`` figures when it sent them.
    """

    start_s: float
    end_s: float = 0.0
    token_times_s: list[float] = field(default_factory=list)
    output_tokens: int | None = None
    input_tokens: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the request completed without error."""
        return self.error is None

    @property
    def ttft_s(self) -> float | None:
        """Time to the first text chunk."""
        return self.token_times_s[0] - self.start_s if self.token_times_s else None

    @property
    def tokens(self) -> int:
        """Output tokens: ``usage`` when sent, else the number of text chunks."""
        return self.output_tokens if self.output_tokens is not None else len(self.token_times_s)


def _text_of(chunk: dict[str, Any]) -> str:
    choices = chunk.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    first = choices[0]
    delta = first.get("delta")
    if isinstance(delta, dict):
        text = delta.get("content") or delta.get("reasoning_content") or ""
        return text if isinstance(text, str) else ""
    text = first.get("text")
    return text if isinstance(text, str) else ""


def _read_chunk(result: RequestResult, payload: str) -> bool:
    """Account one ``data:`` payload; returns False at ``[DONE]``."""
    if payload == "[DONE]":
        return False
    chunk = json.loads(payload)
    if not isinstance(chunk, dict):
        raise ValueError("a stream chunk is not a JSON object")
    if "error" in chunk and "choices" not in chunk:
        raise ValueError(f"server error in stream: {chunk['error']}")
    if _text_of(chunk):
        result.token_times_s.append(time.perf_counter())
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        if isinstance(usage.get("completion_tokens"), int):
            result.output_tokens = usage["completion_tokens"]
        if isinstance(usage.get("prompt_tokens"), int):
            result.input_tokens = usage["prompt_tokens"]
    return True


async def send_request(client: Any, url: str, body: dict[str, Any]) -> RequestResult:
    """POST ``body`` to ``url`` and read the SSE stream; never raises (errors are recorded)."""
    result = RequestResult(start_s=time.perf_counter())
    try:
        async with client.stream("POST", url, json=body) as response:
            if response.status_code != 200:
                text = (await response.aread())[:200].decode("utf-8", "replace")
                result.error = f"HTTP {response.status_code}: {text}"
            else:
                done, pending = False, b""
                async for data in response.aiter_bytes():  # to the end: keeps the connection
                    if done:
                        continue
                    *lines, pending = (pending + data).split(b"\n")
                    for line in lines:
                        if not done and line.startswith(b"data:"):
                            done = not _read_chunk(result, line[5:].strip().decode("utf-8"))
                if not done and pending.startswith(b"data:"):
                    _read_chunk(result, pending[5:].strip().decode("utf-8"))
    except Exception as e:  # noqa: BLE001 - one failed request must not stop the load
        result.error = f"{type(e).__name__}: {e}"
    result.end_s = time.perf_counter()
    return result


@dataclass(frozen=True)
class ServerInfo:
    """What the preflight learnt: the model served and whether the stream reports ``usage``."""

    base_url: str
    model: str
    models: tuple[str, ...]
    stream_usage: bool


def _not_openai(url: str, why: str) -> InvalidInputError:
    return InvalidInputError(f"{url} answers but is not an OpenAI-compatible server: {why} "
                             f"(serve-bench needs GET /v1/models and streamed POST "
                             f"/v1/chat/completions or /v1/completions)")


async def _list_models(client: Any, base: str) -> list[str]:
    httpx = _httpx()
    try:
        response = await client.get(f"{base}/v1/models")
    except httpx.HTTPError as e:
        raise InvalidInputError(f"cannot reach the server at {base}: {type(e).__name__}"
                                f"{': ' + str(e) if str(e) else ''} (is it running? the URL "
                                f"came from the command line)") from e
    if response.status_code != 200:
        raise _not_openai(base, f"GET /v1/models returned HTTP {response.status_code}")
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        data = None
    if not isinstance(data, list):
        raise _not_openai(base, "GET /v1/models did not return a JSON object with a "
                                "\"data\" list")
    return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]


async def preflight(client: Any, url: str, endpoint: str, model: str | None) -> ServerInfo:
    """Check the server before any load: reachable, OpenAI-compatible, streaming works.

    Raises:
        InvalidInputError: unreachable, not OpenAI-compatible, no model to use, or the probe
            request failed (the message says which).
    """
    base = base_url(url)
    models = await _list_models(client, base)
    chosen = model or (models[0] if models else None)
    if not chosen:
        raise InvalidInputError(f"{base}/v1/models lists no model; pass --model NAME")
    body: dict[str, Any] = {"model": chosen, "max_tokens": 2, "stream": True,
                            "stream_options": {"include_usage": True}}
    if endpoint == "chat":
        body["messages"] = [{"role": "user", "content": "hello"}]
    else:
        body["prompt"] = "hello"
    probe = await send_request(client, base + PATHS[endpoint], body)
    if probe.error is not None:
        served = ""
        if model and models and model not in models:
            served = f" (the server lists {', '.join(models[:5])}; --model {model!r} is not one)"
        elif probe.error.startswith("HTTP 404"):
            raise _not_openai(base, f"POST {PATHS[endpoint]} returned HTTP 404")
        raise InvalidInputError(f"the probe request to {base}{PATHS[endpoint]} with model "
                                f"{chosen!r} failed before the load: {probe.error}{served}")
    if not probe.token_times_s and probe.output_tokens is None:
        raise _not_openai(base, f"the streamed answer of POST {PATHS[endpoint]} held no text "
                                "chunk and no usage")
    return ServerInfo(base, chosen, tuple(models), probe.output_tokens is not None)
