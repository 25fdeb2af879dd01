"""rlog_env: Gymnasium environments in which language models learn and are measured on log
analysis, after the R-Log method (reasoning-first answers scored by a joint format + answer
reward).

Importing the package registers five environments with Gymnasium::

    import gymnasium as gym
    import rlog_env

    env = gym.make("RLog/AnomalyDetection-v0", source="loghub", data_dir="shared/data")
    prompt, info = env.reset(seed=0)
    prompt, reward, terminated, truncated, info = env.step("<think>…</think><answer>normal</answer>")

``gymnasium.make("rlog_env:RLog/AnomalyDetection-v0")`` works without the import.
"""

from __future__ import annotations

from rlog_env.datasets import DataError, load_source
from rlog_env.envs import ENVIRONMENTS, RLogEnv, register_environments
from rlog_env.tasks import (
    FORMATS,
    SCHEMES,
    TASKS,
    AnswerReward,
    FormatReward,
    Reward,
    Sample,
    get_task,
    trl_reward_functions,
)

__version__ = "0.1.0"
ENV_IDS = tuple(ENVIRONMENTS)

register_environments()

__all__ = [
    "ENV_IDS", "FORMATS", "SCHEMES", "TASKS", "AnswerReward", "DataError", "FormatReward", "RLogEnv",
    "Reward", "Sample", "__version__", "get_task", "load_source", "register_environments",
    "trl_reward_functions",
]
