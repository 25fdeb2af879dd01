"""The three free-text tasks' shared reward: BLEU-4 and ROUGE-1/2/L, R-Log's way.

Answer reward = (BLEU-4 + ROUGE-1 + ROUGE-2 + ROUGE-L) / 400 (each in per cent), divided by
0.8 when above 0, else 0. A reference of four words or more earns 1.25 against itself (BLEU-4
is 0 below four words). Total under ``rlog``: [-2, 1.35]. Under ``unit`` the answer reward is
divided by what the reference earns against itself, so the reference scores 1.0 at any length.
Under ``grounded`` the answer reward is the fact-grounded score (:mod:`rlog_env.tasks.grounding`)
divided by 0.8: the reference earns 1.25 whatever its length. Under ``hardened`` it is the
``unit`` judgement divided by 0.8 (the ``rlog`` reward itself for a reference of four words or
more; 1.25 for the reference at any length) times the repetition, copying and length factors
of :mod:`rlog_env.tasks.hardening`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from rlog_env.tasks.base import GROUNDED, HARDENED, UNIT, Judgement, Task
from rlog_env.tasks.grounding import grounded_score
from rlog_env.tasks.hardening import text_context
from rlog_env.tasks.text_metrics import TextReference, text_reference

TEXT_SCALE = 0.8


def rlog_text_reward(mean_fraction: float) -> float:
    """R-Log's answer reward from (BLEU + R1 + R2 + RL) / 400: divided by 0.8 when above 0."""
    return mean_fraction / TEXT_SCALE if mean_fraction > 0 else 0.0


@dataclass(frozen=True)
class TextTask(Task):
    """Base of the free-text tasks, scored by BLEU-4 and ROUGE-1/2/L."""

    rlog_answer_range: ClassVar[tuple[float, float]] = (0.0, 1.0 / TEXT_SCALE)

    def judge(self, answer: str, reference: str, logs: str, facts=None) -> Judgement:
        return self._judge_analysed(text_reference(reference), logs, facts, answer)

    def judge_for(self, reference: str, logs: str = "", facts=None):
        # The reference's words, n-grams and LCS bit masks, once for the whole group.
        return partial(self._judge_analysed, text_reference(reference), logs, facts)

    def _judge_analysed(self, analysed: TextReference, logs: str, facts, answer: str) -> Judgement:
        reward = self.reward
        if reward == HARDENED:  # the answer's words serve the metrics and the hardened factors
            words = answer.split()
            scores = analysed.score_words(words)
        else:
            scores = analysed.score(answer)
        fraction = scores.mean_fraction
        rlog = rlog_text_reward(fraction)
        unit = 0.0
        if reward == UNIT or reward == HARDENED:  # relative to what the reference earns against itself
            best = analysed.self_score.mean_fraction
            unit = min(1.0, fraction / best) if best > 0 else 0.0
        metrics = {"bleu4": scores.bleu4, "rouge1": scores.rouge1,
                   "rouge2": scores.rouge2, "rougeL": scores.rougeL}
        hardened = None
        if reward == HARDENED:
            factors = text_context(analysed.text, logs).factors(words)
            # unit / 0.8 is rlog's reward, to the bit, for a reference of four words or more
            hardened = rlog_text_reward(unit) * factors.product
            metrics.update(repetition=factors.repetition, copying=factors.copying,
                           length=factors.length)
        grounded = None
        if self.reward == GROUNDED:
            if facts is None:
                raise ValueError(
                    "reward='grounded' scores a free-text answer by the key facts of its sample, "
                    "which only the simulator provides; use source='sim', or reward='rlog'"
                )
            grounding = grounded_score(answer, analysed.text, logs, facts)
            grounded = grounding.score / TEXT_SCALE
            metrics.update(facts_stated=grounding.facts_stated, facts_total=grounding.facts_total,
                           invented_claims=len(grounding.invented_claims),
                           concision=grounding.concision)
        return Judgement(rlog=rlog, unit=unit, metrics=metrics, grounded=grounded, hardened=hardened)
