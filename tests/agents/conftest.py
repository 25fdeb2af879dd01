"""The loopback OpenAI-compatible server as a fixture (see openai_loopback.py)."""

from __future__ import annotations

from typing import Callable

import pytest

from openai_loopback import ChatServer


@pytest.fixture
def serve():
    """``serve(behave)`` starts a :class:`ChatServer`; every server stops when the test ends."""
    servers: list[ChatServer] = []

    def start(behave: Callable) -> ChatServer:
        server = ChatServer(behave)
        server.thread.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
