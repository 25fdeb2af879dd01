"""What the baselines share: parameters the scikit-learn way, writing a completion, and
checking that an observation is of a kind of task the baseline plays.

A baseline's ``__init__`` only stores its parameters; :meth:`Baseline.get_params` reads them
back from the signature (so ``type(agent)(**agent.get_params())`` is an unfitted copy). What
``fit`` learns lives in attributes whose names end in ``_``.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar, Sequence

from rlog_env.tasks import TASKS, TEMPLATE
from rlog_env.tasks.formats import check_format, write_completion

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


def clip(text: str, limit: int = TRACE_LINE_CHARS) -> str:
    """One line of log quoted in a trace: whitespace collapsed, cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def task_kind(task: str) -> str | None:
    """The kind of the registered task ``task`` (``None`` when no such task is registered)."""
    cls = TASKS.get(task)
    return None if cls is None else cls.kind


def check_kinds(agent_name: str, observations: Sequence, kinds: Sequence[str]) -> None:
    """Raise a ``ValueError`` when an observation is of a task whose kind the agent does not play."""
    for observation in observations:
        kind = task_kind(observation.task)
        if kind not in kinds:
            what = f"kind {kind!r}" if kind is not None else "not a registered task"
            raise ValueError(f"agent {agent_name!r} plays tasks of kind {', '.join(map(repr, kinds))}; "
                             f"got an observation of {observation.task!r} ({what}); the 'heuristic' "
                             "agent routes each task to the baseline of its kind")


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class TemplateParser(Baseline):
    """What the log parsers share (tasks of kind ``template``): ``act`` answers each observation
    (``logs``: the message; ``domain``: its system) with the template :meth:`parse` finds,
    reasoned by :meth:`explain`."""

    kind: ClassVar[str] = TEMPLATE

    def parse(self, message: str, domain: str) -> dict[str, Any]:
        """The template of ``message`` in system ``domain`` (``"template"``), with what the
        parser's reasoning needs."""
        raise NotImplementedError

    def explain(self, message: str, domain: str, result: dict[str, Any]) -> str:
        """The reasoning that leads to ``result`` (what :meth:`parse` returned)."""
        raise NotImplementedError

    def act(self, observations: Sequence) -> list[str]:
        """One template per observation (``observation.logs``: the message; ``domain``: its system)."""
        self._check_params()
        check_kinds(self.name, observations, (self.kind,))
        answers = []
        for observation in observations:
            result = self.parse(observation.logs, observation.domain)
            answers.append(self._complete(result["template"], self.explain(observation.logs, observation.domain, result)))
        return answers
