"""A real local HTTP server that speaks the OpenAI ``/v1/chat/completions`` protocol and answers
with canned text (chosen per request by a function), for the assistant's wiring tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: Picks the answer's content from the request body (messages, response_format, ...).
Responder = Callable[[dict[str, object]], str]


@dataclass
class FakeLLM:
    url: str
    requests: list[dict[str, object]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def last_user(body: dict[str, object]) -> str:
    msgs = body["messages"]
    assert isinstance(msgs, list)
    return str(msgs[-1]["content"])


@contextmanager
def fake_llm(respond: Responder, status: int = 200) -> Iterator[FakeLLM]:
    """Serve ``respond`` on 127.0.0.1 (a free port) for the duration of the block."""
    state = FakeLLM("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            state.headers.append(dict(self.headers))
            if self.path != "/v1/chat/completions":
                self.send_response(404)
                self.end_headers()
                return
            payload = {
                "id": "fake",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": respond(body)},
                        "finish_reason": "stop",
                    }
                ],
            }
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
