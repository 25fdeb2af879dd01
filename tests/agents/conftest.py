"""The loopback OpenAI-compatible server as a fixture (see openai_loopback.py)."""

from __future__ import annotations

from openai_loopback import serve  # noqa: F401  (the fixture)
