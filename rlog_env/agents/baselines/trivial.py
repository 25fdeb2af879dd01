"""Trivial baselines that a leaderboard needs to be read honestly.

- :class:`ConstantAgent`: the same answer whatever the logs (``"normal"`` by default: on a data
  set where anomalies are rare it is right most of the time, and any detector must beat it);
- :class:`EchoAgent`: the log text itself as the answer (for parsing, the message with no
  variable abstracted; for the text tasks, the words of the logs);
- :class:`EmptyAgent`: a well-formed completion whose answer is empty (the format reward alone).

None of them looks at training data: ``fit`` only counts the samples it was given.
"""

from __future__ import annotations

from typing import Sequence

from rlog_env.agents.base import Observation
from rlog_env.agents.baselines._common import Baseline
from rlog_env.tasks import THINK_FIRST, Sample


class _Trivial(Baseline):
    def fit(self, samples: Sequence[Sample]) -> "_Trivial":
        """Nothing to learn; records how many samples were seen and returns the agent."""
        self._check_params()
        self.n_samples_seen_ = len(samples)
        return self


class ConstantAgent(_Trivial):
    """Always the same answer (``"normal"`` by default), whatever the task and the logs."""

    def __init__(self, answer: str = "normal", reasoning: str = THINK_FIRST, name: str | None = None):
        self.answer = answer
        self.reasoning = reasoning
        self.name = name if name is not None else f"constant-{answer}"

    def act(self, observations: Sequence[Observation]) -> list[str]:
        self._check_params()
        think = f"Constant baseline: the answer is {self.answer!r} whatever the logs say."
        return [self._complete(self.answer, think) for _ in observations]


class EchoAgent(_Trivial):
    """The log text of the observation, unchanged, as the answer."""

    def __init__(self, reasoning: str = THINK_FIRST, name: str = "echo"):
        self.reasoning = reasoning
        self.name = name

    def act(self, observations: Sequence[Observation]) -> list[str]:
        self._check_params()
        think = "Echo baseline: the answer repeats the logs as they are."
        return [self._complete(o.logs, think) for o in observations]


class EmptyAgent(_Trivial):
    """A well-formed completion with an empty answer."""

    def __init__(self, reasoning: str = THINK_FIRST, name: str = "empty"):
        self.reasoning = reasoning
        self.name = name

    def act(self, observations: Sequence[Observation]) -> list[str]:
        self._check_params()
        think = "Empty baseline: no answer is given."
        return [self._complete("", think) for _ in observations]
