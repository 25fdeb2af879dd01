"""The task registry: task names to task classes."""

from __future__ import annotations

from rlog_env.tasks.anomaly_detection import AnomalyDetection
from rlog_env.tasks.base import RLOG, Task
from rlog_env.tasks.formats import THINK_FIRST
from rlog_env.tasks.log_interpretation import LogInterpretation
from rlog_env.tasks.log_parsing import LogParsing
from rlog_env.tasks.root_cause_analysis import RootCauseAnalysis
from rlog_env.tasks.solution_recommendation import SolutionRecommendation

TASKS: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (LogParsing, AnomalyDetection, LogInterpretation, RootCauseAnalysis,
                SolutionRecommendation)
}
TEXT_TASKS = ("log_interpretation", "root_cause_analysis", "solution_recommendation")


def get_task(name: str, reasoning: str = THINK_FIRST, reward: str = RLOG) -> Task:
    """The task called ``name`` (e.g. ``"anomaly_detection"``) under a format and a scheme."""
    try:
        cls = TASKS[name]
    except KeyError:
        raise ValueError(f"task expects one of {', '.join(TASKS)}, got {name!r}") from None
    return cls(reasoning=reasoning, reward=reward)
