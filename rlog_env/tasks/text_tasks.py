"""The free-text tasks' shared reward: BLEU-4 and ROUGE-1/2/L, R-Log's way.

Answer reward = (BLEU-4 + ROUGE-1 + ROUGE-2 + ROUGE-L) / 400 (each in per cent), divided by
0.8 when above 0, else 0. A reference of four words or more earns 1.25 against itself (BLEU-4
is 0 below four words). Total under ``rlog``: [-2, 1.35]. Under ``unit`` the answer reward is
divided by what the reference earns against itself, so the reference scores 1.0 at any length.
The ``grounded`` and ``hardened`` schemes adjust it for the ``text`` kind
(:mod:`rlog_env.tasks.schemes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from rlog_env.tasks.base import TEXT, Judgement, Task
from rlog_env.tasks.text_metrics import TextReference, text_reference

TEXT_SCALE = 0.8


def rlog_text_reward(mean_fraction: float) -> float:
    """R-Log's answer reward from (BLEU + R1 + R2 + RL) / 400: divided by 0.8 when above 0."""
    return mean_fraction / TEXT_SCALE if mean_fraction > 0 else 0.0


@dataclass(frozen=True)
class TextTask(Task):
    """Base of the free-text tasks, scored by BLEU-4 and ROUGE-1/2/L."""

    kind: ClassVar[str] = TEXT
    rlog_answer_range: ClassVar[tuple[float, float]] = (0.0, 1.0 / TEXT_SCALE)
    manual_reward: ClassVar[str] = (
        "``rlog``: format +0.1 or -1.0 as R-Log; answer = (BLEU-4 + ROUGE-1 + ROUGE-2 + "
        "ROUGE-L) / 400 on whitespace words, divided by 0.8 when above 0; -1.0 for a wrong "
        "format or an empty answer. Total in [-2, 1.35]; a reference of four words or more "
        "earns 1.35. ``unit``: 0.1 for the format + 0.9 x the answer reward relative to the "
        "reference's own, in [0, 1]. ``grounded``: the answer reward is the fact-grounded score "
        "(key facts stated, claims invented, concision) x 1.25. ``hardened``: the answer reward "
        "relative to the reference's own (x 1.25) times the ``repetition``, ``copying`` and "
        "``length`` factors reported in ``info[\"metrics\"]``; the reference earns 1.35 at any "
        "length. ``info[\"metrics\"]`` holds ``bleu4``, ``rouge1``, ``rouge2``, ``rougeL`` (per cent)."
    )

    def judge(self, answer: str, reference: str, logs: str, facts=None) -> Judgement:
        return self._judge_analysed(text_reference(reference), logs, facts, answer)

    def judge_for(self, reference: str, logs: str = "", facts=None):
        # The reference's words, n-grams and LCS bit masks, once for the whole group.
        return partial(self._judge_analysed, text_reference(reference), logs, facts)

    def reference_answer_reward(self, reference: str) -> float:
        # BLEU-4 is 0 below four words, so a short reference earns less than the top.
        return rlog_text_reward(text_reference(reference).self_score.mean_fraction)

    def _judge_analysed(self, analysed: TextReference, logs: str, facts, answer: str) -> Judgement:
        scores = analysed.score(answer)
        fraction = scores.mean_fraction
        unit = 0.0
        if self.scheme.uses_unit:  # relative to what the reference earns against itself
            best = analysed.self_score.mean_fraction
            unit = min(1.0, fraction / best) if best > 0 else 0.0
        metrics = {"bleu4": scores.bleu4, "rouge1": scores.rouge1,
                   "rouge2": scores.rouge2, "rougeL": scores.rougeL}
        return Judgement(rlog=rlog_text_reward(fraction), unit=unit, metrics=metrics)
