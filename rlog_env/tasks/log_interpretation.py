"""Log interpretation: a free-text task scored by BLEU-4 and ROUGE-1/2/L (see :mod:`rlog_env.tasks.text_tasks`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlog_env.tasks.text_tasks import TextTask


@dataclass(frozen=True)
class LogInterpretation(TextTask):
    """Log interpretation of the given logs, answered in free text."""

    name: ClassVar[str] = "log_interpretation"
    env_id: ClassVar[str] = "RLog/LogInterpretation-v0"
    title: ClassVar[str] = "Log interpretation"
    default_instruction: ClassVar[str] = (
        "Explain what the following logs say: what happened, in which component, and whether it needs attention."
    )
    answer_rule: ClassVar[str] = "The answer is a short explanation in plain operator language."
    answer_noun: ClassVar[str] = "interpretation"
    summary: ClassVar[str] = "explain what the logs say"
    manual_description: ClassVar[str] = (
        "The agent sees logs (``sim``: a window with a fault; ``loglm``: real error logs from "
        "user reports) and explains them in plain operator language."
    )
