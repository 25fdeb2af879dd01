"""What the baselines share: parameters the scikit-learn way, and writing a completion.

A baseline's ``__init__`` only stores its parameters; :meth:`Baseline.get_params` reads them
back from the signature (so ``type(agent)(**agent.get_params())`` is an unfitted copy). What
``fit`` learns lives in attributes whose names end in ``_``.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

from rlog_env.tasks import ANSWER_FIRST, NO_TAGS, THINK_FIRST
from rlog_env.tasks.formats import check_format

_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
TRACE_LINE_CHARS = 160  # a log line quoted in a trace is cut to this many characters


class NotFittedError(RuntimeError):
    """An agent that needs training samples was asked to act before ``fit``."""


class Baseline:
    """Base of the baselines: parameters, ``fit`` bookkeeping and the output format."""

    name: str
    reasoning: str

    # -- scikit-learn conventions ----------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters, as scikit-learn's ``get_params`` gives them."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "Baseline":
        """Set constructor parameters; unknown names raise ``ValueError``."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {key!r}; "
                                 f"parameters: {', '.join(sorted(valid))}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def _check_params(self) -> None:
        check_format(self.reasoning)

    # -- writing ---------------------------------------------------------------------------
    def _complete(self, answer: str, think: str) -> str:
        return write_completion(answer, think, self.reasoning)


def _untag(text: str) -> str:
    """``text`` with the four format tags defused, so quoted logs cannot break the format."""
    for tag in _TAGS:
        if tag in text:
            text = text.replace(tag, tag.replace("<", "‹").replace(">", "›"))
    return text


def write_completion(answer: str, think: str, reasoning: str = THINK_FIRST) -> str:
    """A completion in the ``reasoning`` format: ``<think>`` then ``<answer>`` (think-first),
    the other way round (answer-first), or the bare answer (none)."""
    check_format(reasoning)
    answer, think = _untag(answer).strip(), _untag(think).strip()
    if reasoning == NO_TAGS:
        return answer
    if reasoning == ANSWER_FIRST:
        return f"<answer>{answer}</answer>\n<think>\n{think}\n</think>"
    return f"<think>\n{think}\n</think>\n<answer>{answer}</answer>"


def clip(text: str, limit: int = TRACE_LINE_CHARS) -> str:
    """One line of log quoted in a trace: whitespace collapsed, cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_tasks(agent_name: str, observations: Sequence, tasks: Sequence[str]) -> None:
    """Raise a ``ValueError`` when an observation is of a task the agent does not play."""
    for observation in observations:
        if observation.task not in tasks:
            raise ValueError(f"agent {agent_name!r} plays {', '.join(tasks)}; got an observation "
                             f"of {observation.task!r} (use the 'heuristic' agent for every task)")


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
