"""A fake OpenAI-compatible chat endpoint that misbehaves on purpose (stdlib only, loopback only).

    with FakeLLM(mode="500") as llm:          # every request answers HTTP 500
        ctx = Context(llm_base_url=llm.base_url, llm_model="fake", llm_api_key="x")

Modes: `ok` (answers `reply`), `timeout` (holds the request for `hang_s` seconds, then drops it),
`500`, `429` (with Retry-After: 0), `invalid_json` (structured output that is not
JSON; plain chat gets `reply`),
`empty` (empty content, or a stream with no tokens), `endless` (a stream that never finishes:
tokens until the client leaves or `hang_s` passes), `bad_citations` (an answer citing sources that
do not exist), `flaky` (the first `fail_first` requests answer 500, then `ok`), `disconnect`
(closes the socket without answering). Every request is recorded (`requests`), and every handler
is bounded in time, so a test can never hang on the fake itself.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

MODES = ("ok", "timeout", "500", "429", "invalid_json", "empty", "endless", "bad_citations", "flaky", "disconnect")
BAD_CITATION_REPLY = "The ferry leaves at seven [img 99], see also [42] and [audio 7 at 9:59] and [video 3 at 1:00:00]."


class FakeLLM:
    def __init__(
        self,
        mode: str = "ok",
        reply: str | Callable[[dict[str, Any]], str] = "I do not know.",
        hang_s: float = 20.0,
        fail_first: int = 2,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        self.mode = mode
        self.reply = reply
        self.hang_s = hang_s
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "FakeLLM":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeLLM":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r.get("path", "").endswith("/chat/completions")]

    # -- behaviour -------------------------------------------------------------------------------
    def _text_for(self, body: dict[str, Any]) -> str:
        if self.mode == "bad_citations":
            return BAD_CITATION_REPLY
        if self.mode == "invalid_json" and (body.get("tools") or body.get("response_format")):
            return '{"sub_queries": [{"text": "unterminated'  # structured output that is not JSON
        if self.mode == "empty":
            return ""
        return self.reply(body) if callable(self.reply) else self.reply

    def _effective_mode(self) -> str:
        if self.mode != "flaky":
            return self.mode
        with self._lock:
            n = len(self.chat_requests)
        return "500" if n <= self.fail_first else "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "test"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = min(int(self.headers.get("Content-Length") or 0), 50_000_000)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"_unparsed": raw[:200].decode("utf-8", "replace")}
                with fake._lock:
                    fake.requests.append({"path": self.path, "body": body, "t": time.monotonic()})
                mode = fake._effective_mode()
                if mode == "timeout":
                    fake._stop.wait(fake.hang_s)
                    self.close_connection = True
                    return
                if mode == "disconnect":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if mode == "500":
                    self._json(500, {"error": {"message": "internal error (injected)", "type": "server_error"}})
                    return
                if mode == "429":
                    self._json(429, {"error": {"message": "rate limited (injected)", "type": "rate_limit"}}, {"Retry-After": "0"})
                    return
                text = fake._text_for(body)
                if body.get("stream"):
                    self._stream(body, text, endless=mode == "endless")
                else:
                    self._json(200, completion(body, text))

            def _stream(self, body: dict[str, Any], text: str, endless: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.close_connection = True
                model = body.get("model", "fake")
                deadline = time.monotonic() + fake.hang_s
                pieces = [text[i : i + 8] for i in range(0, len(text), 8)]
                try:
                    i = 0
                    while True:
                        if endless:
                            if time.monotonic() > deadline or fake._stop.is_set():
                                return  # the client never gave up: drop the connection
                            piece = "more words "
                            time.sleep(0.005)
                        elif i < len(pieces):
                            piece = pieces[i]
                        else:
                            break
                        i += 1
                        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    end = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                           "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                    self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return

        return Handler


def completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    """A non-streaming chat completion; structured-output requests get `text` as tool arguments."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    tools = body.get("tools") or []
    if tools and body.get("tool_choice") not in (None, "none", "auto"):
        name = tools[0].get("function", {}).get("name", "tool")
        message = {"role": "assistant", "content": None,
                   "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": name, "arguments": text}}]}
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
