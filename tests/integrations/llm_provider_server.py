"""A real HTTP server on 127.0.0.1 that answers like the OpenAI, Mistral and Anthropic APIs.

Response shapes follow the SDKs' own types (openai ``ChatCompletion``/``ChatCompletionChunk``,
mistralai ``ChatCompletionResponse``/``CompletionEvent``, anthropic ``Message`` and its raw
stream events). Output tokens = ``max_tokens`` (default 5); input tokens = words of the
messages + 7. ``usage=False`` drops usage from answers (to test the fallback).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPTIONS: dict[str, Any] = {"usage": True, "requests": 0}


def _words(body: dict[str, Any]) -> int:
    count = 0
    for m in body.get("messages", []):
        content = m.get("content", "")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        count += len(str(content).split())
    return count + 7


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, ctype: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        OPTIONS["requests"] += 1
        if self.path == "/v1/messages":
            self._anthropic(body)
        elif self.path == "/v1/chat/completions":
            self._openai(body)
        elif self.path == "/v1/responses":
            self._responses(body)
        else:
            self._send(404, "application/json", b'{"error": "not found"}')

    def _openai(self, body: dict[str, Any]) -> None:
        n = int(body.get("max_tokens") or 5)
        model = body.get("model", "gpt-4o-mini")
        usage = {"prompt_tokens": _words(body),
                 "completion_tokens": OPTIONS.get("completion_tokens", n),
                 "total_tokens": _words(body) + n}
        if not body.get("stream"):
            out: dict[str, Any] = {
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000,
                "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant",
                                                         "content": "hi " * n}}]}
            if OPTIONS["usage"]:
                out["usage"] = usage
            self._send(200, "application/json", json.dumps(out).encode())
            return
        events = []
        for i in range(n):
            events.append({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                           "created": 1700000000, "model": model,
                           "choices": [{"index": 0, "delta": {"content": f"t{i} "},
                                        "finish_reason": "stop" if i == n - 1 else None}]})
        if OPTIONS["usage"]:
            events.append({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                           "created": 1700000000, "model": model, "choices": [],
                           "usage": usage})
        text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        self._send(200, "text/event-stream", text.encode())

    def _responses(self, body: dict[str, Any]) -> None:
        n = int(body.get("max_output_tokens") or 5)
        words = len(str(body.get("input", "")).split()) + 7
        usage = {"input_tokens": words, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": n, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": words + n}
        response: dict[str, Any] = {
            "id": "resp_1", "object": "response", "created_at": 1700000000,
            "model": body.get("model", "gpt-4o"), "status": "completed",
            "output": [{"type": "message", "id": "msg_1", "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": "hi " * n,
                                     "annotations": []}]}],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "usage": usage}
        if not body.get("stream"):
            self._send(200, "application/json", json.dumps(response).encode())
            return
        created = dict(response, status="in_progress", output=[], usage=None)
        events = [{"type": "response.created", "response": created, "sequence_number": 0}]
        events += [{"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
                    "content_index": 0, "delta": f"t{i} ", "logprobs": [],
                    "sequence_number": i + 1} for i in range(n)]
        events.append({"type": "response.completed", "response": response,
                       "sequence_number": n + 1})
        text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
        self._send(200, "text/event-stream", text.encode())

    def _anthropic(self, body: dict[str, Any]) -> None:
        n = int(body.get("max_tokens") or 5)
        model = body.get("model", "claude-3-5-sonnet-20241022")
        usage = {"input_tokens": _words(body), "output_tokens": n}
        message = {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
                   "content": [{"type": "text", "text": "hi " * n}], "stop_reason": "end_turn",
                   "stop_sequence": None, "usage": usage}
        if not body.get("stream"):
            self._send(200, "application/json", json.dumps(message).encode())
            return
        start = dict(message, content=[], stop_reason=None,
                     usage={"input_tokens": usage["input_tokens"], "output_tokens": 1})
        events = [("message_start", {"type": "message_start", "message": start}),
                  ("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}})]
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "text_delta", "text": f"t{i} "}})
                   for i in range(n)]
        events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   ("message_delta", {"type": "message_delta",
                                      "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                      "usage": {"output_tokens": n}}),
                   ("message_stop", {"type": "message_stop"})]
        text = "".join(f"event: {k}\ndata: {json.dumps(v)}\n\n" for k, v in events)
        self._send(200, "text/event-stream", text.encode())


class ProviderServer:
    """``with ProviderServer() as server: server.url``"""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ProviderServer:
        OPTIONS.clear()
        OPTIONS.update(usage=True, requests=0)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
