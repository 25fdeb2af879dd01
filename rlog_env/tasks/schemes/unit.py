"""``unit``: the task's judgement in [0, 1]. 0.1 for a well-formed completion plus 0.9 x the
answer's quality relative to the reference's (the reference earns 1.0); a malformed completion
or an empty answer earns 0."""

from __future__ import annotations

from rlog_env.tasks.schemes.base import RewardScheme

UNIT = "unit"
_ANSWER_WEIGHT = 0.9  # the format keeps the share of the top reward it has under rlog


class UnitScheme(RewardScheme):
    """The same judgement in [0, 1], the reference at 1.0."""

    name = UNIT
    description = "the same judgement in [0, 1]"
    uses_unit = True
    scores_investigations = True
    folds_step_cost = True  # an investigation's return stays in [0, 1]
    format_ok, format_bad, answer_bad = 0.1, 0.0, 0.0

    def answer(self, verdict) -> float:
        return _ANSWER_WEIGHT * verdict.unit

    def reward_range(self, task) -> tuple[float, float]:
        return (0.0, 1.0)

    def top_reward(self, task, reference: str) -> float:
        return 1.0
