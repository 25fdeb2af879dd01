"""Vector environments for one-step episodes, built by ``gymnasium.make_vec``.

``gymnasium.make_vec("RLog/…-v0", num_envs=N)`` lands here (the ids register this as their
``vector_entry_point``): N sub-environments in the same-step autoreset mode, so each ``step``
scores N answers and returns N fresh prompts. ``vector_mode="async"`` runs them in worker
processes, without shared memory (text observations have no fixed-size buffer).
Passing ``vectorization_mode="sync"`` or ``"async"`` to ``make_vec`` uses Gymnasium's own
classes instead: give them ``vector_kwargs={"autoreset_mode": "SameStep"}``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv


def make_vector_env(env_id: str, num_envs: int = 1, vector_mode: str = "sync",
                    **kwargs: Any) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` (made with ``kwargs``) in a same-step vector env."""
    if vector_mode not in ("sync", "async"):
        raise ValueError(f"vector_mode expects 'sync' or 'async', got {vector_mode!r}")
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs expects a positive int, got {num_envs!r}")
    kwargs.pop("max_episode_steps", None)  # one-step episodes: nothing to truncate
    env_fns = [_EnvFactory(env_id, kwargs) for _ in range(num_envs)]
    if vector_mode == "async":
        return AsyncVectorEnv(env_fns, shared_memory=False, autoreset_mode=AutoresetMode.SAME_STEP)
    return SyncVectorEnv(env_fns, autoreset_mode=AutoresetMode.SAME_STEP)


class _EnvFactory:
    """A picklable ``gymnasium.make`` call, for worker processes."""

    def __init__(self, env_id: str, kwargs: dict[str, Any]):
        self.env_id, self.kwargs = env_id, dict(kwargs)

    def __call__(self) -> gym.Env:
        import rlog_env  # noqa: F401  (registers the ids in a fresh worker process)

        return gym.make(self.env_id, **self.kwargs)
