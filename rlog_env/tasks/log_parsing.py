"""Log parsing: turn a raw log message into its template, variables replaced by ``<*>``.

R-Log answer reward: the token-level F1 of :func:`rlog_env.tasks.parsing_metric.parsing_f1`
(template words and variables, values found by matching the reference against the message).
Total under ``rlog``: [-2, 1.1]; the reference template earns 1.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlog_env.tasks.base import Judgement, Task
from rlog_env.tasks.parsing_metric import normalise_template, parsing_f1


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
        score = parsing_f1(answer, reference, logs or None)
        return Judgement(
            rlog=score.f1,
            unit=score.f1,
            metrics={
                "exact_match": normalise_template(answer) == normalise_template(reference),
                "token_f1": score.f1,
                "template_matched": score.template_matched,
            },
        )
