"""The reasoning strategies: the templates reasoning trajectories are written from.

R-Log writes its cold-start reasoning data by instantiating expert strategies on each sample.
A strategy belongs to one task (its steps are written for that task) and is

- **conceptional**: a pattern abstracted from experience ("judge the whole meaning; abnormal
  only when the text states a failure");
- **procedural**: a checklist ("replace ips, numbers, block ids and paths with <*>"; "isolate
  the symptom, trace backwards, check the common causes, confirm nothing contradicts");
- **management-guidance**: the questions an operations manager asks ("trigger or real issue?",
  "does the fix prevent recurrence?").

R-Log's strategies for the built-in tasks are data (``strategies.json`` beside this module),
read and validated on import; :func:`register_strategy` adds one for any registered task. Each
step carries an ``action``: what the trajectory grounding of the task's kind
(:mod:`rlog_env.datasets.reasoning`) writes about the sample at that step (:data:`ACTIONS`
lists them for the built-in kinds). A strategy may apply only to some domains:
:func:`strategies_for` picks the strategies that apply to a sample.
"""

from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, Iterator, Mapping

from rlog_env._registry import Registry
from rlog_env.tasks.base import LABEL, TEMPLATE, TEXT
from rlog_env.tasks.registry import TASKS

CONCEPTIONAL, PROCEDURAL, GUIDANCE = "conceptional", "procedural", "management-guidance"
KINDS = (CONCEPTIONAL, PROCEDURAL, GUIDANCE)
CONCLUDE = "conclude"  # the last action of every strategy
# The step actions the trajectory groundings of the built-in task kinds write. A strategy of a
# task of another kind may name any actions: that kind's grounding defines them.
ACTIONS: Mapping[str, tuple[str, ...]] = {
    TEMPLATE: ("overview", "variables", "constants", "merge", CONCLUDE),
    LABEL: ("overview", "location", "severity", "scan", "benign", CONCLUDE),
    TEXT: ("overview", "evidence", "components", "meaning", "chain", "trigger", "cause", "why",
           "check", "facts", "fix", "verify", "recurrence", "risk", CONCLUDE),
}
FILE = "strategies.json"


@dataclass(frozen=True)
class Strategy:
    """One reasoning strategy: a named, ordered list of steps for one task.

    ``kind`` is the strategy's kind (:data:`KINDS`), not the task's. ``domains`` restricts where it applies (sample domains, matched case-insensitively), or
    ``None`` for everywhere. ``actions`` says, step by step, what the trajectory builder grounds
    in the sample (``"variables"``, ``"scan"``, ``"cause"``, ...); the last one is ``"conclude"``.
    """

    name: str
    task: str
    kind: str
    title: str
    steps: tuple[str, ...]
    domains: tuple[str, ...] | None = None
    actions: tuple[str, ...] = ()

    def applies_to(self, domain: str) -> bool:
        """Whether this strategy applies to samples of ``domain``."""
        if self.domains is None:
            return True
        return domain.lower() in {d.lower() for d in self.domains}


def _strategy(raw: Any, where: str) -> Strategy:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expects a strategy object, got {type(raw).__name__}")
    for key in ("name", "task", "kind", "title"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ValueError(f"{where}: expects a non-empty string field {key!r}, got {raw.get(key)!r}")
    name, task, kind = raw["name"], raw["task"], raw["kind"]
    where = f"{where} ({name})"
    if task not in TASKS:
        raise ValueError(f"{where}: task expects one of {', '.join(TASKS)}, got {task!r}")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind expects one of {', '.join(KINDS)}, got {kind!r}")
    known = ACTIONS.get(TASKS[task].kind)
    steps = raw.get("steps")
    if not isinstance(steps, list) or len(steps) < 2:
        raise ValueError(f"{where}: steps expects a list of at least two {{'action', 'text'}} objects")
    texts, actions = [], []
    for i, step in enumerate(steps):
        if (not isinstance(step, dict) or not isinstance(step.get("text"), str)
                or not step["text"].strip() or not isinstance(step.get("action"), str)):
            raise ValueError(f"{where}: step {i} expects {{'action': str, 'text': non-empty str}}, "
                             f"got {step!r}")
        if known is not None and step["action"] not in known:
            raise ValueError(f"{where}: step {i} action expects one of {', '.join(known)} (the "
                             f"actions of kind {TASKS[task].kind!r}), got {step['action']!r}")
        texts.append(step["text"].strip())
        actions.append(step["action"])
    if actions[-1] != CONCLUDE or actions.count(CONCLUDE) != 1:
        raise ValueError(f"{where}: expects exactly one 'conclude' step, and last; got actions {actions}")
    if len(set(actions)) != len(actions):
        raise ValueError(f"{where}: expects each action at most once, got {actions}")
    domains = raw.get("domains")
    if domains is not None:
        if (not isinstance(domains, list) or not domains
                or not all(isinstance(d, str) and d for d in domains)):
            raise ValueError(f"{where}: domains expects null or a non-empty list of names, got {domains!r}")
        domains = tuple(domains)
    return Strategy(name, task, kind, raw["title"].strip(), tuple(texts), domains, tuple(actions))


def parse_strategies(raw: Any, where: str = FILE) -> dict[str, Strategy]:
    """Validate the strategies document ``raw`` (as read from JSON) and index it by name.

    Raises ``ValueError`` naming the strategy and what was expected: unknown task, kind or
    action, a missing conclusion, duplicate names, or a task without a strategy that applies to
    every domain.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("strategies"), list):
        raise ValueError(f"{where}: expects an object with a list 'strategies'")
    out: dict[str, Strategy] = {}
    for i, item in enumerate(raw["strategies"]):
        strategy = _strategy(item, f"{where}: strategies[{i}]")
        if strategy.name in out:
            raise ValueError(f"{where}: strategy name {strategy.name!r} is defined twice")
        out[strategy.name] = strategy
    for task in dict.fromkeys(s.task for s in out.values()):
        if not any(s.task == task and s.domains is None for s in out.values()):
            raise ValueError(f"{where}: {task} expects at least one strategy without domains, "
                             "so that every domain has one")
    return out


def _load() -> dict[str, Strategy]:
    text = resources.files("rlog_env.tasks").joinpath(FILE).read_text(encoding="utf-8")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{FILE}: invalid JSON: {exc.msg} (line {exc.lineno})") from None
    return parse_strategies(raw)


STRATEGIES: Registry = Registry("strategy")
STRATEGIES.update(_load())


def _raw(strategy: Strategy) -> dict[str, Any]:
    return {"name": strategy.name, "task": strategy.task, "kind": strategy.kind, "title": strategy.title,
            "steps": [{"action": a, "text": t} for a, t in zip(strategy.actions, strategy.steps)],
            "domains": list(strategy.domains) if strategy.domains is not None else None}


def _checked(strategy: Strategy | Mapping[str, Any]) -> Strategy:
    """``strategy`` validated like the file's entries (a :class:`Strategy` or a mapping laid out
    like one entry of ``strategies.json``)."""
    if isinstance(strategy, Strategy):
        if len(strategy.actions) != len(strategy.steps):
            raise ValueError(f"strategy {strategy.name!r} expects one action per step, got "
                             f"{len(strategy.actions)} action(s) for {len(strategy.steps)} step(s)")
        strategy = _raw(strategy)
    return _strategy(dict(strategy) if isinstance(strategy, Mapping) else strategy, "register_strategy")


def register_strategy(strategy: Strategy | Mapping[str, Any]) -> Strategy:
    """Register a strategy for a registered task (from outside the package too): a
    :class:`Strategy`, or a mapping laid out like one entry of ``strategies.json``. It is
    validated like the file's entries; a name already taken is a ``ValueError``."""
    checked = _checked(strategy)
    return STRATEGIES.add(checked.name, checked)


def unregister_strategy(name: str) -> None:
    """Remove the strategy ``name`` (the inverse of :func:`register_strategy`)."""
    STRATEGIES.remove(name)


@contextmanager
def registered_strategies(*strategies: Strategy | Mapping[str, Any]) -> Iterator[tuple[Strategy, ...]]:
    """``strategies`` registered for the duration of a ``with`` block (for tests)."""
    with ExitStack() as stack:
        yield tuple(stack.enter_context(STRATEGIES.registered(c.name, c)) for c in map(_checked, strategies))


def has_strategies(task: str) -> bool:
    """Whether any strategy is registered for ``task``."""
    return any(s.task == task for s in STRATEGIES.values())


def strategies_for(task: str, domain: str) -> tuple[Strategy, ...]:
    """The strategies that apply to a ``task`` sample of ``domain``, in a fixed order (the
    general ones, plus the domain-specific ones where the domain matches). A task without
    strategies, or none that applies to ``domain``, is a ``ValueError``."""
    if task not in TASKS:
        raise ValueError(f"task expects one of {', '.join(TASKS)}, got {task!r}")
    if not isinstance(domain, str):
        raise ValueError(f"domain expects a str (a sample's domain), got {domain!r}")
    found = tuple(s for s in STRATEGIES.values() if s.task == task and s.applies_to(domain))
    if not found:
        which = "no reasoning strategies" if not has_strategies(task) else \
            f"no reasoning strategy that applies to domain {domain!r}"
        raise ValueError(f"task {task!r} has {which}; register one with "
                         "rlog_env.tasks.strategies.register_strategy")
    return found


__all__ = ["ACTIONS", "CONCLUDE", "KINDS", "STRATEGIES", "Strategy", "has_strategies", "parse_strategies",
           "register_strategy", "registered_strategies", "strategies_for", "unregister_strategy"]
