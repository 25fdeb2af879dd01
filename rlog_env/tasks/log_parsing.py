"""Log parsing: turn a raw log message into its template, variables replaced by ``<*>``.

R-Log answer reward: the token-level F1 of :func:`rlog_env.tasks.parsing_metric.parsing_f1`
(template words and variables, values found by matching the reference against the message).
Total under ``rlog``: [-2, 1.1]; the reference template earns 1.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from rlog_env.tasks.base import Judgement, Task
from rlog_env.tasks.parsing_metric import (AnalysedTemplate, analyse_template, analysed_f1,
                                           normalise_template)


@dataclass(frozen=True)
class LogParsing(Task):
    """Abstract a log message into its template."""

    name: ClassVar[str] = "log_parsing"
    env_id: ClassVar[str] = "RLog/LogParsing-v0"
    title: ClassVar[str] = "Log parsing"
    default_instruction: ClassVar[str] = (
        "Convert the following log message into its template by replacing every variable part "
        "(ids, numbers, addresses, paths, names) with <*>."
    )
    answer_rule: ClassVar[str] = (
        "The answer is the log template only: the message with each variable replaced by <*>."
    )
    rlog_answer_range: ClassVar[tuple[float, float]] = (0.0, 1.0)

    def judge(self, answer: str, reference: str, logs: str, facts=None) -> Judgement:
        return self._judge_analysed(analyse_template(reference, logs or None),
                                    normalise_template(reference), answer)

    def judge_for(self, reference: str, logs: str = "", facts=None):
        # The reference's tokens and its variables' values in the message, once for the group.
        return partial(self._judge_analysed, analyse_template(reference, logs or None),
                       normalise_template(reference))

    @staticmethod
    def _judge_analysed(analysed: AnalysedTemplate, normalised: str, answer: str) -> Judgement:
        score = analysed_f1(answer, analysed)
        return Judgement(
            rlog=score.f1,
            unit=score.f1,
            metrics={
                "exact_match": normalise_template(answer) == normalised,
                "token_f1": score.f1,
                "template_matched": score.template_matched,
            },
        )
