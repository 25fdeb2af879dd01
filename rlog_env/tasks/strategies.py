"""R-Log's 13 reasoning strategies: the templates reasoning trajectories are written from.

R-Log writes its cold-start reasoning data by instantiating expert strategies on each sample:
two for log parsing, three for anomaly detection, two for log interpretation and three each for
root cause analysis and solution recommendation. A strategy is

- **conceptional**: a pattern abstracted from experience ("judge the whole meaning; abnormal
  only when the text states a failure");
- **procedural**: a checklist ("replace ips, numbers, block ids and paths with <*>"; "isolate
  the symptom, trace backwards, check the common causes, confirm nothing contradicts");
- **management-guidance**: the questions an operations manager asks ("trigger or real issue?",
  "does the fix prevent recurrence?").

The strategies are data (``strategies.json`` beside this module), read and validated once on
import. Each step carries an ``action``: what the trajectory builder
(:mod:`rlog_env.datasets.reasoning`) grounds in the sample at that step. Two anomaly-detection
strategies apply only to some domains (supercomputer hardware logs, system service logs):
:func:`strategies_for` picks the strategies that apply to a sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping

from rlog_env.tasks.registry import TASKS

CONCEPTIONAL, PROCEDURAL, GUIDANCE = "conceptional", "procedural", "management-guidance"
KINDS = (CONCEPTIONAL, PROCEDURAL, GUIDANCE)
# The step actions the trajectory builder knows, per task; every strategy ends with "conclude".
ACTIONS: Mapping[str, tuple[str, ...]] = {
    "log_parsing": ("overview", "variables", "constants", "merge", "conclude"),
    "anomaly_detection": ("overview", "location", "severity", "scan", "benign", "conclude"),
    "log_interpretation": ("overview", "evidence", "components", "meaning", "chain", "conclude"),
    "root_cause_analysis": ("evidence", "chain", "cause", "check", "trigger", "why", "facts",
                            "conclude"),
    "solution_recommendation": ("evidence", "components", "cause", "fix", "verify", "recurrence",
                                "risk", "conclude"),
}
# R-Log's layout: how many strategies of each kind every task has.
LAYOUT: Mapping[str, Mapping[str, int]] = {
    "log_parsing": {CONCEPTIONAL: 1, PROCEDURAL: 1},
    "anomaly_detection": {CONCEPTIONAL: 1, PROCEDURAL: 2},
    "log_interpretation": {CONCEPTIONAL: 1, PROCEDURAL: 1},
    "root_cause_analysis": {CONCEPTIONAL: 1, PROCEDURAL: 1, GUIDANCE: 1},
    "solution_recommendation": {CONCEPTIONAL: 1, PROCEDURAL: 1, GUIDANCE: 1},
}
FILE = "strategies.json"


@dataclass(frozen=True)
class Strategy:
    """One reasoning strategy: a named, ordered list of steps for one task.

    ``domains`` restricts where it applies (sample domains, matched case-insensitively), or
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
    steps = raw.get("steps")
    if not isinstance(steps, list) or len(steps) < 2:
        raise ValueError(f"{where}: steps expects a list of at least two {{'action', 'text'}} objects")
    texts, actions = [], []
    for i, step in enumerate(steps):
        if (not isinstance(step, dict) or not isinstance(step.get("text"), str)
                or not step["text"].strip() or not isinstance(step.get("action"), str)):
            raise ValueError(f"{where}: step {i} expects {{'action': str, 'text': non-empty str}}, "
                             f"got {step!r}")
        if step["action"] not in ACTIONS[task]:
            raise ValueError(f"{where}: step {i} action expects one of {', '.join(ACTIONS[task])}, "
                             f"got {step['action']!r}")
        texts.append(step["text"].strip())
        actions.append(step["action"])
    if actions[-1] != "conclude" or actions.count("conclude") != 1:
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
    action, a missing conclusion, duplicate names, or a layout other than R-Log's 13
    strategies (:data:`LAYOUT`), each task keeping at least one strategy for every domain.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("strategies"), list):
        raise ValueError(f"{where}: expects an object with a list 'strategies'")
    out: dict[str, Strategy] = {}
    for i, item in enumerate(raw["strategies"]):
        strategy = _strategy(item, f"{where}: strategies[{i}]")
        if strategy.name in out:
            raise ValueError(f"{where}: strategy name {strategy.name!r} is defined twice")
        out[strategy.name] = strategy
    for task, kinds in LAYOUT.items():
        found: dict[str, int] = {}
        for s in out.values():
            if s.task == task:
                found[s.kind] = found.get(s.kind, 0) + 1
        if found != dict(kinds):
            raise ValueError(f"{where}: {task} expects strategies of kinds {dict(kinds)}, got {found}")
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


STRATEGIES: Mapping[str, Strategy] = _load()


def strategies_for(task: str, domain: str) -> tuple[Strategy, ...]:
    """The strategies that apply to a ``task`` sample of ``domain``, in a fixed order (always
    at least one: the general ones, plus the domain-specific ones where the domain matches)."""
    if task not in TASKS:
        raise ValueError(f"task expects one of {', '.join(TASKS)}, got {task!r}")
    if not isinstance(domain, str):
        raise ValueError(f"domain expects a str (a sample's domain), got {domain!r}")
    return tuple(s for s in STRATEGIES.values() if s.task == task and s.applies_to(domain))


__all__ = ["ACTIONS", "KINDS", "LAYOUT", "STRATEGIES", "Strategy", "parse_strategies",
           "strategies_for"]
