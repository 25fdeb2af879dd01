"""The reasoning strategies: R-Log's 13 and their layout, validation, registration, and which
apply where."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from rlog_env.tasks import TASKS, LogParsing, registered_task
from rlog_env.tasks.strategies import (
    ACTIONS, STRATEGIES, Strategy, has_strategies, parse_strategies, register_strategy,
    registered_strategies, strategies_for, unregister_strategy,
)

RAW = json.loads(resources.files("rlog_env.tasks").joinpath("strategies.json").read_text("utf-8"))
# R-Log's layout: how many strategies of each kind each of its tasks has.
RLOG_LAYOUT = {
    "log_parsing": {"conceptional": 1, "procedural": 1},
    "anomaly_detection": {"conceptional": 1, "procedural": 2},
    "log_interpretation": {"conceptional": 1, "procedural": 1},
    "root_cause_analysis": {"conceptional": 1, "procedural": 1, "management-guidance": 1},
    "solution_recommendation": {"conceptional": 1, "procedural": 1, "management-guidance": 1},
}


def test_thirteen_strategies_with_rlogs_kinds_per_task():
    assert len(STRATEGIES) == 13
    assert {s.task for s in STRATEGIES.values()} == set(RLOG_LAYOUT)
    for task in RLOG_LAYOUT:
        kinds = sorted(s.kind for s in STRATEGIES.values() if s.task == task)
        expected = sorted(k for k, n in RLOG_LAYOUT[task].items() for _ in range(n))
        assert kinds == expected, task
    assert sum(1 for s in STRATEGIES.values() if s.kind == "management-guidance") == 2


def test_strategies_are_frozen_and_complete():
    for name, s in STRATEGIES.items():
        assert isinstance(s, Strategy) and s.name == name
        assert s.steps and all(isinstance(t, str) and t for t in s.steps)
        assert len(s.actions) == len(s.steps) and s.actions[-1] == "conclude"
        assert set(s.actions) <= set(ACTIONS[TASKS[s.task].kind])
        with pytest.raises(AttributeError):
            s.title = "x"  # type: ignore[misc]


@pytest.mark.parametrize("domain", ["BGL", "bgl", "HPC", "Thunderbird", "BGL+Spirit"])
def test_supercomputer_domains_get_the_hardware_checklist(domain):
    names = [s.name for s in strategies_for("anomaly_detection", domain)]
    assert "anomaly_detection/procedural-supercomputer" in names
    assert "anomaly_detection/procedural-services" not in names


@pytest.mark.parametrize("domain", ["Linux", "linux", "OpenSSH", "Windows"])
def test_service_domains_get_the_services_checklist(domain):
    names = [s.name for s in strategies_for("anomaly_detection", domain)]
    assert "anomaly_detection/procedural-services" in names
    assert "anomaly_detection/procedural-supercomputer" not in names


@pytest.mark.parametrize("task", [t for t in TASKS if has_strategies(t)])
@pytest.mark.parametrize("domain", ["HDFS", "apache", "user-reports", "unknown-system"])
def test_every_task_and_domain_has_a_strategy(task, domain):
    found = strategies_for(task, domain)
    assert found and all(s.task == task for s in found)
    assert all(s.domains is None for s in found)


def test_strategies_for_rejects_unknown_tasks():
    with pytest.raises(ValueError, match="task expects one of"):
        strategies_for("summarisation", "BGL")


@pytest.mark.parametrize("breakage, message", [
    (lambda d: d.update(strategies=[s for s in d["strategies"] if s.get("domains") or
                                    s["task"] != "anomaly_detection"]), "without domains"),
    (lambda d: d["strategies"][0].update(kind="intuitive"), "kind expects one of"),
    (lambda d: d["strategies"][0].update(task="summarise"), "task expects one of"),
    (lambda d: d["strategies"][0]["steps"].pop(), "conclude"),
    (lambda d: d["strategies"][0]["steps"][0].update(action="guess"), "action expects one of"),
    (lambda d: d["strategies"][1].update(name=d["strategies"][0]["name"]), "defined twice"),
    (lambda d: d["strategies"][3].update(domains=[]), "domains expects"),
])
def test_validation_errors_say_what_was_expected(breakage, message):
    raw = copy.deepcopy(RAW)
    breakage(raw)
    with pytest.raises(ValueError, match=message):
        parse_strategies(raw)


class _Parsing2(LogParsing):
    name = "log_parsing_2"
    env_id = "RLog/LogParsing2-v0"


def _toy_strategy(**changes):
    raw = {"name": "log_parsing_2/procedural", "task": "log_parsing_2", "kind": "procedural",
           "title": "Mask", "steps": [{"action": "variables", "text": "Mask the values"},
                                      {"action": "conclude", "text": "Write the template"}]}
    return {**raw, **changes}


def test_a_task_without_strategies_is_an_error_not_a_fallback():
    with registered_task(_Parsing2):
        assert not has_strategies("log_parsing_2")
        with pytest.raises(ValueError, match="no reasoning strategies.*register_strategy"):
            strategies_for("log_parsing_2", "HDFS")
        with registered_strategies(_toy_strategy(domains=["HDFS"])) as (added,):
            assert strategies_for("log_parsing_2", "hdfs") == (added,)
            with pytest.raises(ValueError, match="applies to domain 'BGL'"):
                strategies_for("log_parsing_2", "BGL")
        assert "log_parsing_2/procedural" not in STRATEGIES


def test_register_strategy_validates_like_the_file():
    with registered_task(_Parsing2):
        with pytest.raises(ValueError, match="action expects one of"):  # a template-kind task
            register_strategy(_toy_strategy(steps=[{"action": "scan", "text": "x"},
                                                   {"action": "conclude", "text": "y"}]))
        with pytest.raises(ValueError, match="already registered"):
            register_strategy(_toy_strategy(name="log_parsing/procedural"))
        added = register_strategy(Strategy("log_parsing_2/mine", "log_parsing_2", "conceptional", "Mine",
                                           ("Look", "Write"), None, ("overview", "conclude")))
        try:
            assert strategies_for("log_parsing_2", "any") == (added,)
        finally:
            unregister_strategy(added.name)
    with pytest.raises(ValueError, match="task expects one of"):
        register_strategy(_toy_strategy())  # its task is no longer registered
    assert len(STRATEGIES) == 13
