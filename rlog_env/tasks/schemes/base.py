"""What every reward scheme is: the format rule, the bottom values, the answer mapping, the range."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # the task layer imports the schemes, not the other way round
    from rlog_env.tasks.base import Judgement, Task


class RewardScheme:
    """A reward scheme. Subclasses set the class attributes and override what they change.

    ``strict``: whether the format rule also refuses every other spelling of a tag
    (:func:`rlog_env.tasks.formats.parse_completion`). ``format_ok``/``format_bad``: the format
    reward of a well-formed / malformed completion; ``answer_bad``: the answer reward of a
    malformed completion or an empty answer. ``uses_unit``: whether :meth:`answer` reads the
    judgement's ``unit`` value (a task computes it only then). ``description`` completes "the
    scheme NAME ..." in error messages. ``scores_investigations``: whether the investigation
    environments (:mod:`rlog_env.tasks.investigation`) accept it; ``folds_step_cost``: whether
    an investigation's cost per tool turn is taken from its final reward (so the return stays
    in the scheme's range) rather than paid in each tool turn's reward.
    """

    name: str = ""
    description: str = ""
    strict: bool = False
    uses_unit: bool = False
    format_ok: float = 0.1
    format_bad: float = -1.0
    answer_bad: float = -1.0
    scores_investigations: bool = False
    folds_step_cost: bool = False

    def judge_for(self, task: "Task", reference: str, logs: str, facts: Any) -> Callable[[str], "Judgement"]:
        """A judge of non-empty answers against one reference under this scheme (by default the
        task's own judgement)."""
        return task.judge_for(reference, logs, facts)

    def judge(self, task: "Task", answer: str, reference: str, logs: str, facts: Any) -> "Judgement":
        """One answer's judgement under this scheme: ``judge_for(...)(answer)``."""
        return self.judge_for(task, reference, logs, facts)(answer)

    def answer(self, verdict: "Judgement") -> float:
        """The answer reward of a well-formed, non-empty answer judged ``verdict``."""
        return verdict.rlog

    def reward_range(self, task: "Task") -> tuple[float, float]:
        """The lowest and highest total reward of ``task`` under this scheme."""
        return (self.format_bad + self.answer_bad, self.format_ok + task.rlog_answer_range[1])

    def top_reward(self, task: "Task", reference: str) -> float:
        """The total reward the reference earns (the top of the range unless the task says a
        reference earns less, as a text reference under four words does under ``rlog``)."""
        return self.format_ok + task.reference_answer_reward(reference)

    def check_source(self, task: "Task", source: Any) -> None:
        """Raise a ``ValueError`` when this scheme cannot score ``task`` on ``source`` (a
        :class:`~rlog_env.datasets.SourceSpec`); every source by default."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
