"""The log-analysis tasks: prompts, answer extraction, metrics and reward schemes.

A task is one module (its class declares everything true of it); :mod:`.registry` holds the
registered one-step tasks, :mod:`.investigation` the multi-step investigation tasks (their
registry, partial credit and step rewards) and :mod:`.schemes` the registered reward schemes. Plain Python: nothing here
imports Gymnasium, torch or the data sources.
"""

from __future__ import annotations

from rlog_env.tasks.anomaly_detection import AnomalyDetection
from rlog_env.tasks.base import LABEL, TEMPLATE, TEXT, Judgement, Reward, Sample, Task
# The investigation tasks register in the order their environments are listed.
from rlog_env.tasks.incident_detection import IncidentDetection  # isort: skip
from rlog_env.tasks.fault_localization import FaultLocalization  # isort: skip
from rlog_env.tasks.formats import (ANSWER_FIRST, FORMATS, NO_TAGS, TAGS, THINK_FIRST, parse_completion,
                                    write_completion)
from rlog_env.tasks.investigation import (INVESTIGATION, INVESTIGATIONS, Case, Investigation, get_investigation,
                                          register_investigation, unregister_investigation)
from rlog_env.tasks.log_interpretation import LogInterpretation
from rlog_env.tasks.log_parsing import LogParsing
from rlog_env.tasks.registry import (TASKS, get_task, register_task, registered_task, tasks_of_kind,
                                     text_task_names, unregister_task)
from rlog_env.tasks.root_cause_analysis import RootCauseAnalysis
from rlog_env.tasks.root_cause_investigation import RootCauseInvestigation
from rlog_env.tasks.schemes import (GROUNDED, HARDENED, RLOG, SCHEMES, UNIT, RewardScheme, get_scheme,
                                    register_scheme, registered_scheme, unregister_scheme)
from rlog_env.tasks.solution_recommendation import SolutionRecommendation
from rlog_env.tasks.trl_rewards import AnswerReward, FormatReward, trl_reward_functions

__all__ = [
    "ANSWER_FIRST", "FORMATS", "INVESTIGATION", "INVESTIGATIONS", "Case", "FaultLocalization",
    "IncidentDetection", "Investigation", "RootCauseInvestigation", "get_investigation",
    "register_investigation", "unregister_investigation", "GROUNDED", "HARDENED", "LABEL", "NO_TAGS", "RLOG", "SCHEMES", "TAGS",
    "TASKS", "TEMPLATE", "TEXT", "THINK_FIRST", "UNIT", "AnomalyDetection", "AnswerReward",
    "FormatReward", "Judgement", "LogInterpretation", "LogParsing", "Reward", "RewardScheme",
    "RootCauseAnalysis", "Sample", "SolutionRecommendation", "Task", "get_scheme", "get_task",
    "parse_completion", "register_scheme", "register_task", "registered_scheme", "registered_task",
    "tasks_of_kind", "text_task_names", "trl_reward_functions", "unregister_scheme", "unregister_task",
    "write_completion",
]
