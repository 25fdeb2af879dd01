"""Anomaly detection: is this log (a line or a window) normal or abnormal?

R-Log answer reward: +1.0 when the answer equals the label after lower-casing and stripping,
else -1.0. Total under ``rlog``: [-2, 1.1].
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from types import MappingProxyType
from typing import ClassVar

from rlog_env.tasks.base import LABEL, Judgement, Task

NORMAL, ABNORMAL = "normal", "abnormal"
LABELS = (NORMAL, ABNORMAL)


def score_label(answer: str, label: str) -> bool:
    """Whether ``answer`` names ``label`` exactly (case and surrounding whitespace ignored)."""
    return answer.strip().lower() == label.strip().lower()


@dataclass(frozen=True)
class AnomalyDetection(Task):
    """Classify logs as ``normal`` or ``abnormal``."""

    name: ClassVar[str] = "anomaly_detection"
    kind: ClassVar[str] = LABEL
    env_id: ClassVar[str] = "RLog/AnomalyDetection-v0"
    title: ClassVar[str] = "Anomaly detection"
    default_instruction: ClassVar[str] = (
        "Decide whether the following logs are normal or abnormal."
    )
    answer_rule: ClassVar[str] = "The answer is exactly one word: normal or abnormal."
    rlog_answer_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    answer_noun: ClassVar[str] = "label"
    summary: ClassVar[str] = "are these logs normal or abnormal?"
    manual_description: ClassVar[str] = (
        "The agent sees logs and answers ``normal`` or ``abnormal``: ``sim``, a simulated "
        "window of one system (abnormal when a fault writes into it); ``loghub``, a raw BGL line "
        "with its alert label removed; ``loglm``, a BGL or Spirit message; ``hdfs``, every line "
        "of one HDFS block's session (session-level detection)."
    )
    manual_reward: ClassVar[str] = (
        "``rlog``: format +0.1 or -1.0 as R-Log; answer +1.0 when it equals the label after "
        "lower-casing and stripping, else -1.0. Total in [-2, 1.1]. ``unit``: 0.1 for the format "
        "+ 0.9 when right, in [0, 1]. ``hardened``: as ``rlog``, under the strict tag rule. "
        "``info[\"metrics\"]`` holds ``predicted_label`` (``normal``, ``abnormal`` or "
        "``invalid``) and ``correct``."
    )

    def judge(self, answer: str, reference: str, logs: str, facts=None) -> Judgement:
        return self._judge_label(reference.strip().lower(), answer)

    def judge_for(self, reference: str, logs: str = "", facts=None):
        return partial(self._judge_label, reference.strip().lower())

    @staticmethod
    def _judge_label(label: str, answer: str) -> Judgement:
        predicted = answer.strip().lower()
        return _verdict(predicted if predicted in LABELS else "invalid", predicted == label)


@lru_cache(maxsize=None)  # at most six: three predicted labels, right or wrong
def _verdict(predicted_label: str, correct: bool) -> Judgement:
    # Shared between answers, so its metrics are a read-only view.
    return Judgement(
        rlog=1.0 if correct else -1.0,
        unit=1.0 if correct else 0.0,
        metrics=MappingProxyType({"predicted_label": predicted_label, "correct": correct}),
    )
