"""The 13 reasoning strategies: R-Log's layout, validation, and which apply where."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from rlog_env.tasks import TASKS
from rlog_env.tasks.strategies import (
    ACTIONS, LAYOUT, STRATEGIES, Strategy, parse_strategies, strategies_for,
)

RAW = json.loads(resources.files("rlog_env.tasks").joinpath("strategies.json").read_text("utf-8"))


def test_thirteen_strategies_with_rlogs_kinds_per_task():
    assert len(STRATEGIES) == 13
    for task in TASKS:
        kinds = sorted(s.kind for s in STRATEGIES.values() if s.task == task)
        expected = sorted(k for k, n in LAYOUT[task].items() for _ in range(n))
        assert kinds == expected, task
    assert sum(1 for s in STRATEGIES.values() if s.kind == "management-guidance") == 2


def test_strategies_are_frozen_and_complete():
    for name, s in STRATEGIES.items():
        assert isinstance(s, Strategy) and s.name == name
        assert s.steps and all(isinstance(t, str) and t for t in s.steps)
        assert len(s.actions) == len(s.steps) and s.actions[-1] == "conclude"
        assert set(s.actions) <= set(ACTIONS[s.task])
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


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("domain", ["HDFS", "apache", "user-reports", "unknown-system"])
def test_every_task_and_domain_has_a_strategy(task, domain):
    found = strategies_for(task, domain)
    assert found and all(s.task == task for s in found)
    assert all(s.domains is None for s in found)


def test_strategies_for_rejects_unknown_tasks():
    with pytest.raises(ValueError, match="task expects one of"):
        strategies_for("summarisation", "BGL")


@pytest.mark.parametrize("breakage, message", [
    (lambda d: d["strategies"].pop(), "expects strategies of kinds"),
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
