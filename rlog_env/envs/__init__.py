"""The Gymnasium environments over tasks and sources, and their registration: the one-step
environments (:mod:`.log_env`, :mod:`.registry`) and the multi-step investigations
(:mod:`.investigation_env`)."""

from __future__ import annotations

from rlog_env.envs.investigation_env import (INVESTIGATION_ENVIRONMENTS, InvestigationEnv, investigation_class,
                                             investigation_manual, register_investigation_environment,
                                             register_investigation_environments,
                                             unregister_investigation_environment)
from rlog_env.envs.log_env import RLogEnv, environment_class, environment_manual, reset_info
from rlog_env.envs.registry import (ENVIRONMENTS, default_env_ids, register_environment,
                                    register_environments, registered_environment, unregister_environment)
from rlog_env.envs.spaces import ACTION_SPACE, OBSERVATION_SPACE, LogText
from rlog_env.envs.vector import make_vector_env

register_environments()
register_investigation_environments()  # opt-in: not in default_env_ids()

# The built-in environment classes by name (generated from their tasks).
from rlog_env.envs.log_env import (  # noqa: E402
    AnomalyDetectionEnv,
    LogInterpretationEnv,
    LogParsingEnv,
    RootCauseAnalysisEnv,
    SolutionRecommendationEnv,
)


__all__ = [
    "ACTION_SPACE", "ENVIRONMENTS", "INVESTIGATION_ENVIRONMENTS", "InvestigationEnv", "investigation_class",
    "investigation_manual", "register_investigation_environment", "register_investigation_environments",
    "unregister_investigation_environment", "OBSERVATION_SPACE", "AnomalyDetectionEnv", "LogInterpretationEnv",
    "LogParsingEnv", "LogText", "RLogEnv", "RootCauseAnalysisEnv", "SolutionRecommendationEnv",
    "default_env_ids", "environment_class", "environment_manual", "make_vector_env", "register_environment",
    "register_environments", "registered_environment", "reset_info", "unregister_environment",
]
