"""rlog_env: Gymnasium environments in which language models learn and are measured on log
analysis, after the R-Log method (reasoning-first answers scored by a joint format + answer
reward).

Importing the package registers the environments of the registered tasks with Gymnasium::

    import gymnasium as gym
    import rlog_env

    env = gym.make("RLog/AnomalyDetection-v0", source="loghub", data_dir="shared/data")
    prompt, info = env.reset(seed=0)
    prompt, reward, terminated, truncated, info = env.step("<think>…</think><answer>normal</answer>")

``gymnasium.make("rlog_env:RLog/AnomalyDetection-v0")`` works without the import.
"""

from __future__ import annotations

from rlog_env._version import __version__
from rlog_env.datasets import DataError, load_source
from rlog_env.envs import ENVIRONMENTS, RLogEnv, default_env_ids, register_environments
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

# The built-in environments' ids (a snapshot at import; default_env_ids() reads the registry live).
ENV_IDS = default_env_ids()

__all__ = [
    "ENV_IDS", "ENVIRONMENTS", "FORMATS", "SCHEMES", "TASKS", "AnswerReward", "DataError", "FormatReward", "RLogEnv",
    "Reward", "Sample", "__version__", "default_env_ids", "get_task", "load_source", "register_environments",
    "trl_reward_functions",
]
