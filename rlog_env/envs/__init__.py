"""The Gymnasium environments over tasks and sources, and their registration."""

from __future__ import annotations

import functools

import gymnasium as gym

from rlog_env.envs.log_env import (
    ENVIRONMENTS,
    AnomalyDetectionEnv,
    LogInterpretationEnv,
    LogParsingEnv,
    RLogEnv,
    RootCauseAnalysisEnv,
    SolutionRecommendationEnv,
)
from rlog_env.envs.spaces import ACTION_SPACE, OBSERVATION_SPACE, LogText
from rlog_env.envs.vector import make_vector_env


def register_environments() -> None:
    """Register the five ``RLog/…-v0`` ids with Gymnasium (idempotent)."""
    for env_id, cls in ENVIRONMENTS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=f"{cls.__module__}:{cls.__name__}",
            vector_entry_point=functools.partial(make_vector_env, env_id),
            disable_env_checker=False,
        )


__all__ = [
    "ACTION_SPACE", "ENVIRONMENTS", "OBSERVATION_SPACE", "AnomalyDetectionEnv", "LogInterpretationEnv",
    "LogParsingEnv", "LogText", "RLogEnv", "RootCauseAnalysisEnv", "SolutionRecommendationEnv",
    "make_vector_env", "register_environments",
]
