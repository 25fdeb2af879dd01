"""The five log-analysis tasks: prompts, answer extraction, metrics and the R-Log reward.

Plain Python: nothing here imports Gymnasium, torch or the data sources.
"""

from __future__ import annotations

from rlog_env.tasks.anomaly_detection import AnomalyDetection
from rlog_env.tasks.base import (GROUNDED, HARDENED, RLOG, SCHEMES, UNIT, Judgement, Reward, Sample,
                                 Task)
from rlog_env.tasks.formats import ANSWER_FIRST, FORMATS, NO_TAGS, THINK_FIRST, parse_completion
from rlog_env.tasks.log_interpretation import LogInterpretation
from rlog_env.tasks.log_parsing import LogParsing
from rlog_env.tasks.registry import TASKS, TEXT_TASKS, get_task
from rlog_env.tasks.root_cause_analysis import RootCauseAnalysis
from rlog_env.tasks.solution_recommendation import SolutionRecommendation
from rlog_env.tasks.trl_rewards import AnswerReward, FormatReward, trl_reward_functions

__all__ = [
    "ANSWER_FIRST", "FORMATS", "GROUNDED", "HARDENED", "NO_TAGS", "RLOG", "SCHEMES", "TASKS",
    "TEXT_TASKS", "THINK_FIRST", "UNIT", "AnomalyDetection", "AnswerReward", "FormatReward", "Judgement", "LogInterpretation",
    "LogParsing", "Reward", "RootCauseAnalysis", "Sample", "SolutionRecommendation", "Task",
    "get_task", "parse_completion", "trl_reward_functions",
]
