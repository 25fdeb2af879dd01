"""Log parsing: turn a raw log message into its template, variables replaced by ``<*>``.

R-Log answer reward: the token-level F1 of :func:`rlog_env.tasks.parsing_metric.parsing_f1`
(template words and variables, values found by matching the reference against the message).
Total under ``rlog``: [-2, 1.1]; the reference template earns 1.1. Under ``hardened`` the same
F1, except that a template that is mostly ``<*>``, or that still contains the whole raw message,
earns 0 (:meth:`rlog_env.tasks.hardening.ParsingContext.guard`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from rlog_env.tasks.base import HARDENED, Judgement, Task
from rlog_env.tasks.hardening import ParsingContext, parsing_context
from rlog_env.tasks.parsing_metric import (AnalysedTemplate, analyse_template, analysed_f1,
                                           lower_score_tokens, normalise_template, tokens_f1)


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
        if self.reward == HARDENED:
            return self.judge_for(reference, logs, facts)(answer)
        return self._judge_analysed(analyse_template(reference, logs or None),
                                    normalise_template(reference), answer)

    def judge_for(self, reference: str, logs: str = "", facts=None):
        # The reference's tokens and its variables' values in the message, once for the group.
        analysed = analyse_template(reference, logs or None)
        if self.reward == HARDENED:
            return partial(self._judge_hardened, analysed, normalise_template(reference),
                           parsing_context(reference, logs))
        return partial(self._judge_analysed, analysed, normalise_template(reference))

    @staticmethod
    def _judge_hardened(analysed: AnalysedTemplate, normalised: str, context: ParsingContext,
                        answer: str) -> Judgement:
        """The ``rlog`` judgement, and the ``hardened`` answer reward: the same F1 unless a
        parsing closure applies (then 0, what a template sharing nothing with the reference
        earns). The answer is tokenised once for both."""
        predicted = lower_score_tokens(answer)
        score = tokens_f1(predicted, analysed)
        normalised_answer = normalise_template(answer)
        guard = context.guard(predicted, normalised_answer)
        return Judgement(
            rlog=score.f1,
            unit=score.f1,
            metrics={
                "exact_match": normalised_answer == normalised,
                "token_f1": score.f1,
                "template_matched": score.template_matched,
                "guard": guard,
            },
            hardened=0.0 if guard else score.f1,
        )

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
