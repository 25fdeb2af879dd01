"""The agent interface: a batch of observations in, a batch of answer texts out.

An :class:`Observation` is what an environment shows for one episode (the prompt, its chat
messages, the log text and the sample's metadata; in an investigation the whole conversation so
far and the tools' schemas), built from ``reset``'s (or a later ``step``'s) ``(observation,
info)``: an agent answers each with the next assistant turn. An agent answers a batch of them with completion texts in the format it declares
(``reasoning``: ``think-first``, ``answer-first`` or ``none``). Agents follow scikit-learn:
``__init__`` only stores parameters; ``fit(samples)`` may learn from training samples (state
ends in ``_``) and returns the agent. A plain function from prompt text to answer text is an
agent too: :func:`as_agent` wraps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

from rlog_env.tasks import THINK_FIRST, Sample


@dataclass(frozen=True)
class Observation:
    """One episode as an agent sees it."""

    prompt: str
    messages: tuple[Mapping[str, str], ...]
    task: str
    logs: str
    domain: str = ""
    source: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    tools: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_reset(cls, observation: str, info: Mapping[str, Any]) -> "Observation":
        """The observation of an environment's ``reset`` (its text and its ``info``), or of a
        later step of a multi-step episode (``info`` then holds the whole conversation)."""
        return cls(observation, tuple(info["messages"]), info["task"], info.get("logs", ""),
                   info.get("domain", ""), info.get("source", ""), dict(info.get("meta", {})),
                   tuple(info.get("tools", ())))


_CALL_TEXT = re.compile(r"<tool_call>.*?(?:</tool_call>|\Z)", re.DOTALL)


def openai_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """An investigation's conversation for native tool calling (an OpenAI server's ``tools=``, a
    chat template's ``tools``): each assistant turn's text without its ``<tool_call>`` blocks,
    with the calls the environment read from it as ``tool_calls``; each tool result as a
    ``tool`` message with its ``tool_call_id``; the environment's errors for calls it could not
    read, and its notes, as user messages."""
    out: list[dict[str, Any]] = []
    for message in messages:
        role, content = message.get("role"), message.get("content", "")
        if role == "assistant" and message.get("tool_calls"):
            out.append({"role": "assistant", "content": _CALL_TEXT.sub("", content).strip() or None,
                        "tool_calls": [dict(call) for call in message["tool_calls"]]})
        elif role == "tool" and message.get("tool_call_id"):
            out.append({"role": "tool", "tool_call_id": message["tool_call_id"], "content": content})
        elif role == "tool":
            out.append({"role": "user", "content": content})
        else:
            out.append({"role": role, "content": content})
    return out


def text_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """A conversation for a model that calls tools by writing ``<tool_call>`` itself: system,
    user and assistant messages as they are, each tool result a user message in
    ``<tool_response>`` … ``</tool_response>`` (Qwen's convention), so any chat format holds it."""
    out: list[dict[str, str]] = []
    for message in messages:
        role, content = message.get("role"), message.get("content", "")
        if role == "tool":
            out.append({"role": "user", "content": f"<tool_response>\n{content}\n</tool_response>"})
        else:
            out.append({"role": role, "content": content})
    return out


@runtime_checkable
class Agent(Protocol):
    """Answers observations. ``reasoning`` is the output format its answers are written in."""

    name: str
    reasoning: str

    def act(self, observations: Sequence[Observation]) -> list[str]:
        """One completion text per observation, in order."""
        ...


class FunctionAgent:
    """A plain function ``prompt -> answer`` used as an agent (one call per observation)."""

    def __init__(self, function: Callable[[str], str], name: str | None = None,
                 reasoning: str = THINK_FIRST):
        self.function = function
        self.name = name or getattr(function, "__name__", "function")
        self.reasoning = reasoning

    def fit(self, samples: Sequence[Sample]) -> "FunctionAgent":
        return self

    def act(self, observations: Sequence[Observation]) -> list[str]:
        answers = [self.function(o.prompt) for o in observations]
        for answer in answers:
            if not isinstance(answer, str):
                raise TypeError(f"agent {self.name!r} returned {type(answer).__name__}, expected str")
        return answers


def as_agent(obj: Any, name: str | None = None, reasoning: str = THINK_FIRST) -> Agent:
    """``obj`` if it is an agent, else a :class:`FunctionAgent` around a callable."""
    if hasattr(obj, "act") and hasattr(obj, "reasoning"):
        return obj
    if callable(obj):
        return FunctionAgent(obj, name, reasoning)
    raise TypeError(f"expected an agent (with act() and reasoning) or a function str -> str, got {obj!r}")
