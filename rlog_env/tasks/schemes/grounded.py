"""``grounded``: free-text answers scored by the key facts they state (simulator only).

The ``rlog`` format rule and range; for a task of the ``text`` kind the answer reward is
1.25 x the fact-grounded score of :mod:`rlog_env.tasks.grounding` (the share of the sample's key
facts stated, minus invented claims, times concision); every other kind keeps its ``rlog``
answer reward. It needs the key facts a sample carries (``facts["key_facts"]``), so a text task
on a source without them is refused when the environment is made.
"""

from __future__ import annotations

from dataclasses import replace

from rlog_env.tasks.grounding import grounded_score
from rlog_env.tasks.schemes.base import RewardScheme

GROUNDED = "grounded"
_TEXT_SCALE = 0.8  # the text tasks' scale: the reference earns 1 / 0.8 = 1.25, as under rlog


class GroundedScheme(RewardScheme):
    """Fact-grounded answer rewards for the free-text tasks."""

    name = GROUNDED
    description = "scores free-text answers by their key facts (simulator only)"
    kinds = frozenset({"text"})  # the task kinds whose answers are grounded in key facts

    def judge_for(self, task, reference, logs, facts):
        judge = task.judge_for(reference, logs, facts)
        if task.kind not in self.kinds:
            return judge
        if facts is None:
            raise ValueError(
                "reward='grounded' scores a free-text answer by the key facts of its sample, "
                "which only the simulator provides; use source='sim', or reward='rlog'"
            )

        def grounded(answer: str):
            verdict = judge(answer)
            grounding = grounded_score(answer, reference, logs, facts)
            metrics = {**verdict.metrics, "facts_stated": grounding.facts_stated,
                       "facts_total": grounding.facts_total,
                       "invented_claims": len(grounding.invented_claims), "concision": grounding.concision}
            return replace(verdict, metrics=metrics, adjusted=grounding.score / _TEXT_SCALE)

        return grounded

    def answer(self, verdict) -> float:
        return verdict.adjusted if verdict.adjusted is not None else verdict.rlog

    def top_reward(self, task, reference: str) -> float:
        if task.kind in self.kinds:
            return self.reward_range(task)[1]
        return super().top_reward(task, reference)

    def check_source(self, task, source) -> None:
        if task.kind in self.kinds and not source.key_facts:
            raise ValueError(
                f"reward='grounded' needs the key facts that only some sources' samples carry; "
                f"got source={source.name!r}: use source='sim', or reward='rlog' or 'unit'"
            )
