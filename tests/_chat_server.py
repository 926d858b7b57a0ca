"""A small chat-completions server on 127.0.0.1 (the standard library's HTTP server) that keeps
every request body and answers after a delay: what the client really sends over the wire,
and how it behaves when the server is slower than its timeout, in a second rather than the
minutes llama.cpp's server takes to start and answer (``tests/_llama.py``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ChatServer:
    """The server's URL (``…/v1``), the bodies it received, and how long it waits to answer."""

    url: str = ""
    delay: float = 0.0
    reply: str = "Done."
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _answer(reply: str, *, stream: bool) -> tuple[bytes, str]:
    """A whole chat completion, or the same as server-sent events (a word each) for a
    streamed request, as the agent's replies are."""
    if not stream:
        message = {"role": "assistant", "content": reply}
        return json.dumps({"choices": [{"index": 0, "message": message}]}).encode(), (
            "application/json"
        )
    first, *rest = reply.split(" ")
    events = [
        json.dumps({"choices": [{"index": 0, "delta": {"content": piece}}]})
        for piece in [first, *(f" {word}" for word in rest)]
    ]
    text = "".join(f"data: {e}\n\n" for e in [*events, "[DONE]"])
    return text.encode(), "text/event-stream"


def _handler(state: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.bodies.append(body)
            time.sleep(state.delay)
            answer, kind = _answer(state.reply, stream=bool(body.get("stream")))
            try:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (its timeout): what the test is about

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads the bodies, not the access log."""

    return Handler


@contextmanager
def chat_server(delay: float = 0.0, reply: str = "Done.") -> Iterator[ChatServer]:
    """A running server; stopped on exit."""
    state = ChatServer(delay=delay, reply=reply)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
