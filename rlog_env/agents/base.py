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
