"""Agents by name, as the command line names them.

- built-in names: the baselines (``heuristic``, ``constant-normal``, ``echo``, ``empty``) and
  ``smollm2-135m`` (the prompt-only agent on SmolLM2-135M-Instruct, fetched by
  ``rlog model get smollm2-135m``);
- ``transformers:PATH_OR_ID``: a local transformers model, prompt-only;
- ``openai:MODEL@BASE_URL``: any OpenAI-compatible server (the model name may contain ``:``);
- ``python:module:callable``: a user's own agent object, agent factory, or function
  ``prompt -> answer``.
"""

from __future__ import annotations

import importlib
from typing import Any

from rlog_env.agents.base import Agent, as_agent

PREFIXES = ("transformers:", "openai:", "python:")


def builtin_names() -> tuple[str, ...]:
    """The names of the built-in agents."""
    from rlog_env.agents.baselines import BUILTIN_AGENTS

    return tuple(BUILTIN_AGENTS) + ("smollm2-135m",)


def make_agent(spec: str, **options: Any) -> Agent:
    """The agent a command-line ``spec`` names; ``ValueError`` naming the accepted forms."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"an agent spec must be a non-empty string, got {spec!r}")
    if spec.startswith("transformers:"):
        from rlog_env.agents.transformers_agent import TransformersAgent

        return TransformersAgent(spec.split(":", 1)[1], **options)
    if spec.startswith("openai:"):
        from rlog_env.agents.openai_agent import OpenAIAgent

        rest = spec.split(":", 1)[1]
        model, sep, base_url = rest.rpartition("@")
        if not sep or not model or not base_url:
            raise ValueError(f"expected openai:MODEL@BASE_URL (e.g. openai:qwen3:8b@http://localhost:8000/v1), got {spec!r}")
        return OpenAIAgent(model, base_url, **options)
    if spec.startswith("python:"):
        module_name, sep, attribute = spec.split(":", 1)[1].rpartition(":")
        if not sep:
            raise ValueError(f"expected python:module:callable, got {spec!r}")
        try:
            obj = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load {spec!r}: {exc}") from None
        if isinstance(obj, type):
            obj = obj(**options)
        return as_agent(obj, name=spec)
    if spec == "smollm2-135m":
        from rlog_env.agents.transformers_agent import TransformersAgent

        # A known model name: fetched into the model cache by get_model on first use.
        return TransformersAgent("smollm2-135m", name="smollm2-135m", **options)
    from rlog_env.agents.baselines import BUILTIN_AGENTS

    if spec in BUILTIN_AGENTS:
        return BUILTIN_AGENTS[spec](**options)
    raise ValueError(
        f"unknown agent {spec!r}: expected one of {', '.join(builtin_names())}, or "
        "transformers:PATH_OR_ID, openai:MODEL@BASE_URL, python:module:callable"
    )
