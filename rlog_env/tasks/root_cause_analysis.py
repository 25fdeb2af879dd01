"""Root cause analysis: a free-text task scored by BLEU-4 and ROUGE-1/2/L (see :mod:`rlog_env.tasks.text_tasks`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlog_env.tasks.text_tasks import TextTask


@dataclass(frozen=True)
class RootCauseAnalysis(TextTask):
    """Root cause analysis of the given logs, answered in free text."""

    name: ClassVar[str] = "root_cause_analysis"
    env_id: ClassVar[str] = "RLog/RootCauseAnalysis-v0"
    title: ClassVar[str] = "Root cause analysis"
    default_instruction: ClassVar[str] = (
        "Identify the root cause of the problem shown in the following logs."
    )
    answer_rule: ClassVar[str] = "The answer names the root cause in plain operator language."
    answer_noun: ClassVar[str] = "root cause"
    summary: ClassVar[str] = "name the root cause of what the logs show"
    manual_description: ClassVar[str] = (
        "The agent sees logs, often with the user's description of the problem, and names the "
        "root cause in free text."
    )
