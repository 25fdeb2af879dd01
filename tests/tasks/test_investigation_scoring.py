"""The investigation tasks' partial credit, on hand-written facts: each element, its tolerance,
names by host, several faults, healthy incidents, answers that are not JSON objects, and the
rewards each scheme makes of a score."""

from __future__ import annotations

import pytest

from rlog_env._times import iso
from rlog_env.tasks import (INVESTIGATIONS, Case, FaultLocalization, IncidentDetection, RootCauseInvestigation,
                            get_investigation)
from rlog_env.tasks.investigation import read_answer

MIN = 60_000_000
T0 = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z
CAUSE = "The disk of db-07 filled up with WAL segments because archiving failed, so writes stopped."
DISK = {"component": "postgresql-1", "host": "db-07", "category": "disk full", "onset": T0 + 10 * MIN,
        "cause": CAUSE, "lines": (5, 6)}
OOM = {"component": "apache-1", "host": "web-03", "category": "out of memory", "onset": T0 + 30 * MIN,
       "cause": "Apache workers were killed by the OOM killer.", "lines": (9,)}


def case(*faults) -> Case:
    facts = {"start": T0, "end": T0 + 60 * MIN, "unseen": False, "faults": list(faults),
             "components": {"postgresql-1": "db-07", "apache-1": "web-03", "linux-1": "srv-11"}}
    return Case("alert", T0, T0 + 60 * MIN, ("disk full", "out of memory"), facts)


def score(task, answer: dict, c: Case) -> tuple[float, dict]:
    return task.score_answer(answer, c)


def test_detection_elements():
    task = IncidentDetection()
    faulty, healthy = case(DISK), case()
    assert score(task, {"abnormal": True, "onset": iso(DISK["onset"])}, faulty)[0] == 1.0
    assert score(task, {"abnormal": "yes", "onset": "22:24:00"}, faulty) == (1.0, {"detection": 1.0, "onset": 1.0})
    assert score(task, {"abnormal": True, "onset": "22:25:01"}, faulty)[0] == 0.5  # 1 min 1 s off
    assert score(task, {"abnormal": True}, faulty)[0] == 0.5
    assert score(task, {"abnormal": False}, faulty)[0] == 0.0
    assert score(task, {"abnormal": "maybe", "onset": "22:23"}, faulty)[0] == 0.0
    assert score(task, {"abnormal": False}, healthy) == (1.0, {"detection": 1.0, "onset": None})
    assert score(task, {"abnormal": True, "onset": "22:23"}, healthy)[0] == 0.0
    assert score(IncidentDetection(onset_tolerance=2), {"abnormal": True, "onset": "22:25:01"}, faulty)[0] == 1.0
    assert score(IncidentDetection(onset_tolerance=0), {"abnormal": True, "onset": "22:23:20"}, faulty)[0] == 1.0
    assert task.reference(faulty.facts) == {"abnormal": True, "onset": "2023-11-14T22:23:20.000000Z"}


def test_localization_f1_and_hosts():
    task = FaultLocalization()
    two, healthy = case(DISK, OOM), case()
    assert score(task, {"components": ["postgresql-1", "apache-1"]}, two)[0] == 1.0
    assert score(task, {"components": ["DB-07", " web-03 "]}, two)[0] == 1.0  # hosts, any case
    assert score(task, {"components": ["postgresql-1"]}, two)[0] == pytest.approx(2 / 3)
    assert score(task, {"components": ["postgresql-1", "linux-1", "nosuch"]}, case(DISK))[0] == pytest.approx(0.5)
    assert score(task, {"components": "postgresql-1"}, case(DISK))[0] == 1.0
    assert score(task, {"components": []}, healthy)[0] == 1.0
    assert score(task, {"components": ["linux-1"]}, healthy)[0] == 0.0
    assert score(task, {"components": ["nosuch"]}, healthy)[0] == 0.0
    assert score(task, {"components": 3}, case(DISK))[0] == 0.0
    assert task.reference(two.facts) == {"components": ["apache-1", "postgresql-1"]}


def test_root_cause_elements_and_several_faults():
    task = RootCauseInvestigation()
    two = case(DISK, OOM)
    full = {"category": "Disk Full", "component": "db-07", "onset": "22:23:30", "cause": CAUSE}
    assert score(task, full, two) == (1.0, {"category": 1.0, "component": 1.0, "onset": 1.0, "cause": 1.0})
    value, elements = score(task, {"category": "out of memory", "component": "apache-1"}, two)
    assert value == 0.5 and elements["onset"] == 0.0  # the best-matching fault: OOM
    value, elements = score(task, {**full, "cause": "the disk filled up"}, two)
    assert 0.75 < value < 1.0 and 0 < elements["cause"] < 1
    assert score(task, {"category": "none"}, case())[0] == 1.0
    assert score(task, full, case())[0] == 0.0
    assert task.reference(case().facts)["category"] == "none"
    assert task.reference(two.facts) == {"category": "disk full", "component": "postgresql-1",
                                         "onset": "2023-11-14T22:23:20.000000Z", "cause": CAUSE}


@pytest.mark.parametrize("name", list(INVESTIGATIONS))
def test_reference_scores_one_and_rewards_per_scheme(name):
    for c in (case(DISK), case(DISK, OOM), case()):
        rlog, unit = get_investigation(name), get_investigation(name, reward="unit", step_cost=0.1)
        assert score(rlog, read_answer(rlog.reference_text(c.facts)), c)[0] == 1.0
        assert rlog.final_reward(rlog.reference_completion(c.facts), c, 0)[0].total == pytest.approx(1.1)
        assert unit.final_reward(unit.reference_completion(c.facts), c, 0)[0].total == pytest.approx(1.0)
        assert unit.final_reward(unit.reference_completion(c.facts), c, 3)[0].total == pytest.approx(0.7)
        reward, answer = rlog.final_reward("<think>t</think><answer>[1, 2]</answer>", c, 0)
        assert (reward.total, reward.answer_valid, answer) == (-0.9, False, "[1, 2]")
        assert rlog.final_reward("nothing", c, 0)[0].total == -2.0
        assert unit.final_reward("nothing", c, 0)[0].total == 0.0


def test_read_answer():
    assert read_answer('```json\n{"a": 1}\n```') == {"a": 1}
    assert read_answer("{'a': 1}") is None and read_answer("[]") is None and read_answer("") is None
    assert read_answer("[" * 100_000) is None


@pytest.mark.parametrize("kwargs, match", [({"reward": "grounded"}, "scores investigations"),
                                           ({"step_cost": 2}, "step_cost expects"),
                                           ({"step_cost": True}, "step_cost expects"),
                                           ({"onset_tolerance": -1}, "onset_tolerance expects"),
                                           ({"reasoning": "xml"}, "reasoning expects")])
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IncidentDetection(**kwargs)
