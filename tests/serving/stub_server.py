"""A small real OpenAI-compatible HTTP/1.1 server on 127.0.0.1 (asyncio streams, keep-alive).

Answers ``GET /v1/models``, ``GET /health``, ``GET /metrics`` (vLLM counter names) and streamed
``POST /v1/chat/completions`` / ``/v1/completions``: one chunk per token, ``max_tokens`` tokens,
``ttft_s`` before the first and ``token_s`` between tokens, usage in the last chunk (unless
``usage=False``). ``mode="html"`` answers every request with a web page (not OpenAI).
Runs in a thread (``StubServer``) or as a script (``python stub_server.py --port N``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
from dataclasses import dataclass, field


@dataclass
class StubOptions:
    ttft_s: float = 0.0
    token_s: float = 0.0
    usage: bool = True
    mode: str = "openai"
    metrics: bool = True
    prompt_tokens_per_word: int = 1
    model: str = "stub-model"
    counter_factor: float = 1.0  # the /metrics token counter over-counts by this factor
    counters: dict[str, float] = field(default_factory=lambda: {"gen": 0.0, "prompt": 0.0,
                                                                  "ok": 0.0})


def _head(status: str, ctype: str, length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"content-type: {ctype}"]
    lines.append(f"content-length: {length}" if length is not None
                 else "transfer-encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _send_json(writer: asyncio.StreamWriter, status: str, obj: object) -> None:
    body = json.dumps(obj).encode()
    writer.write(_head(status, "application/json", len(body)) + body)


def _prompt_words(body: dict) -> int:
    if "messages" in body:
        return sum(len(str(m.get("content", "")).split()) for m in body["messages"])
    return len(str(body.get("prompt", "")).split())


async def _stream(writer: asyncio.StreamWriter, body: dict, chat: bool, opt: StubOptions) -> None:
    n = int(body.get("max_tokens") or 16)
    prompt = _prompt_words(body) * opt.prompt_tokens_per_word
    writer.write(_head("200 OK", "text/event-stream", None))
    if opt.ttft_s:
        await writer.drain()
        await asyncio.sleep(opt.ttft_s)
    for i in range(n):
        if i and opt.token_s:
            await writer.drain()
            await asyncio.sleep(opt.token_s)
        choice = ({"index": 0, "delta": {"content": f"t{i} "}} if chat
                  else {"index": 0, "text": f"t{i} "})
        if i == n - 1:
            choice["finish_reason"] = "length"
        writer.write(_chunk(b"data: " + json.dumps({"id": "x", "object": "chunk",
                                                    "choices": [choice]}).encode() + b"\n\n"))
    if opt.usage:
        usage = {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n}
        writer.write(_chunk(b"data: " + json.dumps({"id": "x", "choices": [],
                                                    "usage": usage}).encode() + b"\n\n"))
    writer.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    opt.counters["gen"] += n * opt.counter_factor
    opt.counters["prompt"] += prompt
    opt.counters["ok"] += 1


def _metrics_text(opt: StubOptions) -> bytes:
    c = opt.counters
    return (f"# TYPE vllm:generation_tokens_total counter\n"
            f"vllm:generation_tokens_total{{model_name=\"{opt.model}\"}} {c['gen']}\n"
            f"# TYPE vllm:prompt_tokens_total counter\n"
            f"vllm:prompt_tokens_total{{model_name=\"{opt.model}\"}} {c['prompt']}\n"
            f"# TYPE vllm:request_success_total counter\n"
            f"vllm:request_success_total{{finished_reason=\"length\"}} {c['ok']}\n").encode()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  opt: StubOptions) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            length = int(headers.get("content-length", "0"))
            raw = await reader.readexactly(length) if length else b""
            await _route(writer, method, path, raw, opt)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await writer.wait_closed()


async def _route(writer: asyncio.StreamWriter, method: str, path: str, raw: bytes,
                 opt: StubOptions) -> None:
    if opt.mode == "html":
        page = b"<html><body>hello</body></html>"
        writer.write(_head("200 OK", "text/html", len(page)) + page)
    elif method == "GET" and path == "/v1/models":
        await _send_json(writer, "200 OK", {"object": "list", "data": [
            {"id": opt.model, "object": "model", "owned_by": "stub"}]})
    elif method == "GET" and path == "/health":
        await _send_json(writer, "200 OK", {"status": "ok"})
    elif method == "GET" and path == "/metrics" and opt.metrics:
        text = _metrics_text(opt)
        writer.write(_head("200 OK", "text/plain; version=0.0.4", len(text)) + text)
    elif method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
        body = json.loads(raw or b"{}")
        if body.get("model") != opt.model:  # as vLLM does for a model it does not serve
            await _send_json(writer, "404 Not Found", {"error": {
                "message": f"The model `{body.get('model')}` does not exist."}})
        else:
            await _stream(writer, body, path.endswith("chat/completions"), opt)
    else:
        await _send_json(writer, "404 Not Found", {"detail": "Not Found"})


class StubServer:
    """The stub in a background thread: ``with StubServer(StubOptions()) as s: s.url``."""

    def __init__(self, options: StubOptions | None = None, port: int = 0) -> None:
        self.options = options or StubOptions()
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(
                lambda r, w: _handle(r, w, self.options), "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def __enter__(self) -> StubServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._server is not None:
                await self._server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token-s", type=float, default=0.0)
    args = parser.parse_args()

    async def serve() -> None:
        opt = StubOptions(token_s=args.token_s)
        server = await asyncio.start_server(lambda r, w: _handle(r, w, opt), "127.0.0.1",
                                            args.port)
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
