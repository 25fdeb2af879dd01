"""The task registry: task names to task classes, and the lists derived from it.

:data:`TASKS` holds the registered task classes; :func:`register_task` adds one (from outside
the package too) and :func:`unregister_task` (or the :func:`registered_task` context manager)
removes it. Every per-task list elsewhere (the free-text tasks, titles, environment ids) is
derived from this registry, never written out.
"""

from __future__ import annotations

from rlog_env._registry import Registry
from rlog_env.tasks.anomaly_detection import AnomalyDetection
from rlog_env.tasks.base import TEXT, Task
from rlog_env.tasks.formats import THINK_FIRST
from rlog_env.tasks.log_interpretation import LogInterpretation
from rlog_env.tasks.log_parsing import LogParsing
from rlog_env.tasks.root_cause_analysis import RootCauseAnalysis
from rlog_env.tasks.schemes import RLOG
from rlog_env.tasks.solution_recommendation import SolutionRecommendation

_REQUIRED = ("name", "kind", "env_id", "title", "default_instruction", "answer_rule", "rlog_answer_range")


def _check(name: str, cls: type[Task]) -> None:
    """A task class must be a concrete Task that declares every class attribute a task has, with
    an environment id of its own."""
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise TypeError(f"register_task expects a Task subclass, got {cls!r}")
    missing = [attr for attr in _REQUIRED if not hasattr(cls, attr)]
    if missing:
        raise TypeError(f"task class {cls.__name__} does not declare {', '.join(missing)}; "
                        "a task sets each of these class attributes (see CONTRIBUTING.md)")
    if getattr(cls, "__abstractmethods__", None):
        raise TypeError(f"task class {cls.__name__} does not implement {', '.join(sorted(cls.__abstractmethods__))}")
    taken = [t.name for t in TASKS.values() if t.env_id == cls.env_id and t.name != name]
    if taken:
        raise ValueError(f"environment id {cls.env_id!r} already belongs to task {taken[0]!r}")


TASKS: Registry = Registry("task", _check)


def register_task(cls: type[Task]) -> type[Task]:
    """Register the task class ``cls`` under its ``name`` (usable as a class decorator).

    The class must be a concrete :class:`~rlog_env.tasks.base.Task` subclass that declares
    every class attribute a task has; a name or environment id already taken is an error.
    """
    return TASKS.add(getattr(cls, "name", None), cls)


def unregister_task(name: str) -> None:
    """Remove the task ``name`` (the inverse of :func:`register_task`)."""
    TASKS.remove(name)


def registered_task(cls: type[Task]):
    """The task class ``cls`` registered for the duration of a ``with`` block (for tests)."""
    return TASKS.registered(getattr(cls, "name", None), cls)


def get_task(name: str, reasoning: str = THINK_FIRST, reward: str = RLOG) -> Task:
    """The task called ``name`` (e.g. ``"anomaly_detection"``) under a format and a scheme."""
    cls = TASKS.get(name)
    if cls is None:
        raise ValueError(f"task expects one of {', '.join(TASKS)}, got {name!r}")
    return cls(reasoning=reasoning, reward=reward)


def tasks_of_kind(kind: str) -> tuple[str, ...]:
    """The names of the registered tasks of ``kind``, in registration order."""
    return tuple(name for name, cls in TASKS.items() if cls.kind == kind)


def text_task_names() -> tuple[str, ...]:
    """The registered free-text tasks (kind ``text``)."""
    return tasks_of_kind(TEXT)


for _cls in (LogParsing, AnomalyDetection, LogInterpretation, RootCauseAnalysis, SolutionRecommendation):
    register_task(_cls)
