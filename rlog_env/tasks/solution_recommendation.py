"""Solution recommendation: a free-text task scored by BLEU-4 and ROUGE-1/2/L (see :mod:`rlog_env.tasks.text_tasks`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlog_env.tasks.text_tasks import TextTask


@dataclass(frozen=True)
class SolutionRecommendation(TextTask):
    """Solution recommendation of the given logs, answered in free text."""

    name: ClassVar[str] = "solution_recommendation"
    env_id: ClassVar[str] = "RLog/SolutionRecommendation-v0"
    title: ClassVar[str] = "Solution recommendation"
    default_instruction: ClassVar[str] = (
        "Recommend how to fix the problem shown in the following logs."
    )
    answer_rule: ClassVar[str] = "The answer gives the concrete steps that fix the problem."
    answer_noun: ClassVar[str] = "solution"
    summary: ClassVar[str] = "recommend the fix for what the logs show"
    manual_description: ClassVar[str] = (
        "The agent sees logs, often with the user's description of the problem, and gives the "
        "concrete steps that fix it."
    )
