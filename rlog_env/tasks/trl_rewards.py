"""Reward functions for TRL's ``GRPOTrainer``: the task's format and answer rewards, apart.

TRL calls each reward function with keyword arguments ``prompts``, ``completions``,
``completion_ids`` and every extra column of the prompt data set, and logs each function under
its ``__name__``. The columns these functions read are ``reference`` (the reference answer),
``logs`` (the log text of the sample, needed by log parsing to find the variables' values, and
by the ``hardened`` scheme to recognise a copied message or log window) and, for the
``grounded`` scheme, ``facts`` (the sample's key facts, each a list of phrasings). Every scheme
of :data:`rlog_env.tasks.SCHEMES` is accepted, ``hardened`` included.
A function made with ``task=None`` serves a prompt set that mixes tasks: it reads each row's
task from the ``task`` column. A function made for one task refuses a batch whose ``task``
column names another (scoring an anomaly label as a template would be silently wrong).
Completions may be plain strings or chat messages. Format + answer = the environment's total
reward, to the bit.

The functions are picklable callable classes, so they cross process boundaries (dataloader
workers, ``accelerate``) like TRL's own ``trl.rewards``. The pair :func:`trl_reward_functions`
returns shares one cache of the last batch's rewards: TRL calls the format function, then the
answer function, on the same batch, and each completion is judged once for both.
"""

from __future__ import annotations

from typing import Any, Sequence

from rlog_env.tasks.base import Reward
from rlog_env.tasks.formats import THINK_FIRST, completion_text
from rlog_env.tasks.registry import TASKS, get_task
from rlog_env.tasks.schemes import RLOG


class GroupRewards:
    """The rewards of the last batch a reward function scored, for its sibling to reuse.

    Keyed by the batch's rows (task, reference, logs, facts) and completion texts, compared by
    value, so a different batch never reads a stale entry. The functions sharing it are made
    with the same format and scheme (:func:`trl_reward_functions`).
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._rewards: list[Reward] = []

    def get(self, key: tuple) -> list[Reward] | None:
        return self._rewards if key == self._key else None

    def put(self, key: tuple, rewards: list[Reward]) -> None:
        self._key, self._rewards = key, rewards


class _TaskRewardFunction:
    part = ""

    def __init__(self, task: str | None, reasoning: str = THINK_FIRST, reward: str = RLOG,
                 cache: GroupRewards | None = None):
        self._tasks = {name: get_task(name, reasoning, reward) for name in ([task] if task else TASKS)}
        self.task, self.reasoning, self.reward = task, reasoning, reward
        self._cache = cache if cache is not None else GroupRewards()
        self.__name__ = f"{task}_{self.part}" if task else self.part

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        *,
        reference: Sequence[str] | None = None,
        logs: Sequence[str] | None = None,
        facts: Sequence[Any] | None = None,
        task: Sequence[str] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        if completions is None:
            raise TypeError(f"{self.__name__} expects completions=[...], as TRL passes them")
        if reference is None:
            raise TypeError(
                f"{self.__name__} expects a 'reference' column in the prompt data set; "
                "build it with the training exports or add the sample's reference answer"
            )
        if len(reference) != len(completions):
            raise ValueError(
                f"{self.__name__} expects one reference per completion, got {len(reference)} "
                f"references for {len(completions)} completions"
            )
        if logs is None:
            logs = [""] * len(completions)
        if facts is None:
            facts = [None] * len(completions)
        if self.task is not None:
            if task is not None:  # a mixed export's task column: every row must be this task's
                others = sorted({str(t) for t in task if t != self.task})
                if others:
                    raise ValueError(
                        f"{self.__name__} scores {self.task!r} rows only, but the data set's 'task' column "
                        f"also names {others[:5]}; use trl_reward_functions(None) for a prompt set that "
                        f"mixes tasks (each row is then scored as its own task), or filter the rows")
            task = [self.task] * len(completions)
        elif task is None:
            raise TypeError(f"{self.__name__} (made with task=None) expects a 'task' column naming each "
                            "row's task; build the prompt set with rlog_env.training.export")
        unknown = sorted(set(task) - set(self._tasks))
        if unknown:
            raise ValueError(f"{self.__name__} expects tasks among {sorted(self._tasks)}, got {unknown}")
        # TRL repeats each prompt num_generations times, consecutively: each run of rows that share
        # a task, a reference, logs and facts is a GRPO group, scored as one (reference analysed once).
        rows = list(zip(task, reference, logs, facts))
        texts = [completion_text(c) for c in completions]
        # Compared by value; TRL passes the same objects to both functions, so it is quick.
        key = (self.task, self.reasoning, self.reward, rows, texts)
        rewards = self._cache.get(key)
        if rewards is None:
            rewards = self._score(rows, texts)
            self._cache.put(key, rewards)
        part = self.part
        return [getattr(r, part) for r in rewards]

    def _score(self, rows: list[tuple], texts: list[str]) -> list[Reward]:
        rewards: list[Reward] = []
        start = 0
        while start < len(rows):
            end = start + 1
            while end < len(rows) and rows[end] == rows[start]:
                end += 1
            name, ref, log, fact = rows[start]
            rewards.extend(self._tasks[name].score_group(texts[start:end], ref, log or "", fact or None))
            start = end
        return rewards

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(task={self.task!r}, reasoning={self.reasoning!r}, "
                f"reward={self.reward!r})")


class FormatReward(_TaskRewardFunction):
    """The format part of a task's reward, as a TRL reward function."""

    part = "format"


class AnswerReward(_TaskRewardFunction):
    """The answer part of a task's reward, as a TRL reward function."""

    part = "answer"


def trl_reward_functions(task: str | None, reasoning: str = THINK_FIRST, reward: str = RLOG) -> list:
    """``[FormatReward, AnswerReward]`` for ``task`` (``None``: each row's ``task`` column): pass
    them as ``GRPOTrainer(reward_funcs=…)``. The two share a :class:`GroupRewards`, so each
    completion of a batch is judged once for both."""
    cache = GroupRewards()
    return [FormatReward(task, reasoning, reward, cache), AnswerReward(task, reasoning, reward, cache)]
