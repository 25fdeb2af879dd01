"""A small OpenAI-compatible server on loopback, for the tests of the OpenAI agent.

``http.server.ThreadingHTTPServer`` on 127.0.0.1 (port 0) serving ``POST
/v1/chat/completions``; each test gives it a behaviour ``behave(server, body)`` that returns
``(status, payload, delay)`` or ``(status, payload, delay, headers)``:

- ``payload``: a dict (sent as JSON), bytes, :data:`RESET` (the connection is reset: TCP RST,
  no response) or a :class:`Trickle` (the headers at once, then the body a byte at a time);
- ``delay``: seconds before answering; ``None`` stalls (accepts, reads, never answers) until
  the test ends;
- ``headers``: extra response headers (``Retry-After``).

The server counts requests and the requests in flight, and records when each arrived.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import pytest

from rlog_env.agents.base import Observation

RESET = object()


@dataclass(frozen=True)
class Trickle:
    """A 200 response whose body arrives one byte every ``interval`` seconds."""

    data: bytes
    interval: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default listen backlog of 5 drops bursts of connections

    def handle_error(self, request, client_address):
        pass  # a reset or cut-off connection is what the tests want


class ChatServer:
    """The server (see the module docstring)."""

    def __init__(self, behave: Callable):
        self.behave = behave
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.arrivals: dict[str, list[float]] = {}
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                self.answered = False
                try:
                    length = int(self.headers.get("Content-Length", 0))
                    body = json.loads(self.rfile.read(length))
                    with server.lock:
                        server.requests.append(body)
                        server.headers.append(dict(self.headers))
                        content = body["messages"][-1]["content"]
                        server.arrivals.setdefault(content, []).append(time.monotonic())
                    if self.path != "/v1/chat/completions":
                        reply = (404, {"error": "not found"}, 0)
                    else:
                        reply = server.behave(server, body)
                    status, payload, delay = reply[:3]
                    extra = reply[3] if len(reply) > 3 else {}
                    if delay is None:
                        server.release.wait(30)
                        return
                    if delay:
                        time.sleep(delay)
                    if payload is RESET:
                        self._reset()
                        return
                    data = payload.data if isinstance(payload, Trickle) else (
                        payload if isinstance(payload, bytes) else json.dumps(payload).encode())
                    # No longer in flight once the answer starts: a client that has read it may
                    # send its next request before this thread returns.
                    self._leave()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if isinstance(payload, Trickle):
                        for byte in data:
                            if server.release.is_set():
                                return
                            self.wfile.write(bytes([byte]))
                            time.sleep(payload.interval)
                    else:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    self._leave()

            def _leave(self):
                if not self.answered:
                    self.answered = True
                    with server.lock:
                        server.in_flight -= 1

            def _reset(self):
                # SO_LINGER 0 then close: the kernel sends RST instead of FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.rfile.close()
                self.wfile.close()
                self.connection.close()

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def count(self, content: str) -> int:
        """How many requests carried ``content`` as their last message."""
        with self.lock:
            return len(self.arrivals.get(content, []))

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(content: str, usage: bool = True) -> dict:
    """A chat completion response body answering ``content``."""
    body = {"id": "chatcmpl-test", "object": "chat.completion", "model": "test-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}]}
    if usage:
        body["usage"] = {"prompt_tokens": 11, "completion_tokens": len(content.split()),
                         "total_tokens": 11 + len(content.split())}
    return body


def echo(server, body):
    """Answers ``<think>…</think><answer>{user content}</answer>``."""
    return 200, completion(f"<think>read it</think><answer>{body['messages'][-1]['content']}</answer>"), 0


def observations(n: int) -> list[Observation]:
    """``n`` observations whose user messages are ``question 0`` … ``question n-1``."""
    return [Observation(prompt=f"question {i}",
                        messages=({"role": "system", "content": "You analyse logs."},
                                  {"role": "user", "content": f"question {i}"}),
                        task="AnomalyDetection", logs="") for i in range(n)]


@pytest.fixture
def serve():
    """``serve(behave)`` starts a :class:`ChatServer`; every server stops when the test ends.
    A fixture: ``from openai_loopback import serve`` makes it one of a test module's (or conftest's)."""
    servers: list[ChatServer] = []

    def start(behave: Callable) -> ChatServer:
        server = ChatServer(behave)
        server.thread.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
