"""Fixtures for the environment tests: a cache of made environments and fresh-process settings.

Every environment is made with ``data_dir`` passed explicitly, so these tests need no
``RLOG_DATA_DIR``. Made environments are cached for the session (sources are cached by the
package anyway); tests that need a fresh generator make their own.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import gymnasium as gym
import pytest

import rlog_env

REPO_ROOT = Path(__file__).resolve().parents[2]

ENV_ID = {task: rlog_env.get_task(task).env_id for task in rlog_env.TASKS}


ENDLESS_WALK = 200  # how many indices of an endless source (the simulator's train stream) to walk


def _walk(base) -> range:
    return range(len(base)) if getattr(base.source, "finite", True) else range(ENDLESS_WALK)


@pytest.fixture(scope="session")
def walk():
    """``walk(env.unwrapped)``: the indices to walk: the whole split of a finite source, the
    first few of an endless one (the simulator's train stream)."""
    return _walk


@pytest.fixture(scope="session")
def make_env(data_dir):
    """``make_env(task, source, split=, reasoning=, reward=)``: a cached ``gymnasium.make`` env."""
    cache: dict[tuple, gym.Env] = {}

    def make(task: str, source: str, split: str = "train", reasoning: str = "think-first",
             reward: str = "rlog") -> gym.Env:
        key = (task, source, split, reasoning, reward)
        if key not in cache:
            cache[key] = gym.make(ENV_ID[task], source=source, data_dir=data_dir, split=split,
                                  reasoning=reasoning, reward=reward)
        return cache[key]

    yield make
    for env in cache.values():
        env.close()


@pytest.fixture(scope="session")
def subprocess_env(data_dir):
    """``subprocess_env(hashseed)``: an environment for a fresh ``python`` process that can
    import the package from the repository and find the data."""

    def build(hashseed: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env["RLOG_DATA_DIR"] = str(data_dir)
        if hashseed is not None:
            env["PYTHONHASHSEED"] = hashseed
        return env

    return build


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable
