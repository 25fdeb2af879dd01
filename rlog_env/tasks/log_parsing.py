"""Log parsing: turn a raw log message into its template, variables replaced by ``<*>``.

R-Log answer reward: the token-level F1 of :func:`rlog_env.tasks.parsing_metric.parsing_f1`
(template words and variables, values found by matching the reference against the message).
Total under ``rlog``: [-2, 1.1]; the reference template earns 1.1. Under ``hardened`` the same
F1, except that a template that is mostly ``<*>``, or that still contains the whole raw message,
earns 0 (:mod:`rlog_env.tasks.schemes.hardened`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from rlog_env.tasks.base import TEMPLATE, Judgement, Task
from rlog_env.tasks.parsing_metric import AnalysedTemplate, analyse_template, analysed_f1, normalise_template


@dataclass(frozen=True)
class LogParsing(Task):
    """Abstract a log message into its template."""

    name: ClassVar[str] = "log_parsing"
    kind: ClassVar[str] = TEMPLATE
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
    answer_noun: ClassVar[str] = "template"
    summary: ClassVar[str] = "turn a raw log message into its template"
    manual_description: ClassVar[str] = (
        "The agent sees one log message (without its header; ``sim``: a line of a simulated "
        "window) and answers its template: the message with every variable part (ids, numbers, "
        "ips, paths, ...) replaced by ``<*>``."
    )
    manual_reward: ClassVar[str] = (
        "``rlog``: format +0.1 when the four tags occur once each in order, else -1.0; answer "
        "= R-Log's token-level F1 of the template against the reference (template words and "
        "variables), -1.0 for a wrong format or an empty answer. Total in [-2, 1.1]; the "
        "reference earns 1.1. ``unit``: 0.1 for the format + 0.9 x F1, in [0, 1]. "
        "``hardened``: as ``rlog``, but a template that is mostly ``<*>`` or still contains the "
        "raw message earns answer 0 (``info[\"metrics\"][\"guard\"]`` names the closure). "
        "``info[\"metrics\"]`` holds ``exact_match`` and ``token_f1``."
    )

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
