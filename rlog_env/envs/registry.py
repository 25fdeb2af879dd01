"""The environment registry: one environment per registered task, known to Gymnasium.

:func:`register_environment` makes a task's environment class (:func:`environment_class`),
checks that the task's default source serves it (the one place where both are known) and
registers its id with Gymnasium; :func:`unregister_environment` (or the
:func:`registered_environment` context manager) undoes it. :data:`ENVIRONMENTS` maps the
registered ids to their classes; :func:`default_env_ids` lists the ones ``rlog eval`` runs
when no ``--envs`` are named (opt-in environments, such as multi-step ones, are left out).
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Iterator

import gymnasium as gym

from rlog_env.datasets import SOURCES, sources_for
from rlog_env.envs import log_env
from rlog_env.envs.log_env import RLogEnv, environment_class
from rlog_env.envs.vector import make_vector_env
from rlog_env.tasks import TASKS

ENVIRONMENTS: dict[str, type[RLogEnv]] = {}
_OPT_IN: set[str] = set()  # ids left out of default_env_ids()


def register_environment(task_name: str, *, opt_in: bool = False) -> type[RLogEnv]:
    """Register the environment of the registered task ``task_name`` under its ``env_id``.

    ``opt_in=True`` keeps it out of :func:`default_env_ids` (it runs only when named). A task
    whose default source does not serve it, or an id already registered with Gymnasium, is a
    ``ValueError``.
    """
    if task_name not in TASKS:
        raise ValueError(f"no task named {task_name!r} is registered; register_task it first")
    task_cls = TASKS[task_name]
    default = task_cls.default_source
    if default not in SOURCES or not SOURCES[default].serves(task_name):
        serving = ", ".join(sources_for(task_name)) or "none registered"
        raise ValueError(f"task {task_name!r} names default_source={default!r}, which "
                         f"{'is not registered' if default not in SOURCES else 'does not serve it'}; "
                         f"sources that serve it: {serving}")
    env_id = task_cls.env_id
    if env_id in ENVIRONMENTS or env_id in gym.registry:
        raise ValueError(f"environment id {env_id!r} is already registered; unregister_environment it first")
    cls = environment_class(task_cls)
    # A module global, so the id's entry point is an importable string and the class pickles.
    setattr(log_env, cls.__name__, cls)
    gym.register(
        id=env_id,
        entry_point=f"{log_env.__name__}:{cls.__name__}",
        vector_entry_point=functools.partial(make_vector_env, env_id),
        disable_env_checker=False,
    )
    ENVIRONMENTS[env_id] = cls
    if opt_in:
        _OPT_IN.add(env_id)
    return cls


def unregister_environment(env_id: str) -> None:
    """Remove environment ``env_id`` from this registry and Gymnasium's (the inverse of
    :func:`register_environment`)."""
    cls = ENVIRONMENTS.pop(env_id, None)
    if cls is None:
        raise ValueError(f"no environment {env_id!r} is registered")
    _OPT_IN.discard(env_id)
    gym.registry.pop(env_id, None)
    if getattr(log_env, cls.__name__, None) is cls:
        delattr(log_env, cls.__name__)


@contextmanager
def registered_environment(task_name: str, *, opt_in: bool = False) -> Iterator[type[RLogEnv]]:
    """The environment of ``task_name`` registered for the duration of a ``with`` block."""
    cls = register_environment(task_name, opt_in=opt_in)
    env_id = TASKS[task_name].env_id
    try:
        yield cls
    finally:
        if env_id in ENVIRONMENTS:
            unregister_environment(env_id)


def default_env_ids() -> tuple[str, ...]:
    """The ids ``rlog eval`` and :func:`rlog_env.leaderboard.runner.run` cover when none are
    named: every registered environment that is not opt-in."""
    return tuple(env_id for env_id in ENVIRONMENTS if env_id not in _OPT_IN)


def register_environments() -> None:
    """Register the environment of every task registered so far (idempotent)."""
    for name, task_cls in TASKS.items():
        if task_cls.env_id not in ENVIRONMENTS:
            register_environment(name)
