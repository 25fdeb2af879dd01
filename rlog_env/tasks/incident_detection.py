"""Incident detection: is something wrong in this system, and since when (an investigation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from rlog_env._times import iso
from rlog_env.tasks.investigation import Case, Investigation, onset_score, register_investigation, same_name

_YES = {"true", "yes", "abnormal", "faulty"}
_NO = {"false", "no", "normal", "healthy"}


def answered_flag(value: Any) -> bool | None:
    """An answered yes/no: a JSON boolean, or one of the words true/yes/abnormal/faulty and
    false/no/normal/healthy (any case); ``None`` otherwise."""
    if isinstance(value, bool):
        return value
    word = same_name(value)
    return True if word in _YES else False if word in _NO else None


@register_investigation
@dataclass(frozen=True)
class IncidentDetection(Investigation):
    """Decide whether the incident holds a fault and, if so, when it began."""

    name: ClassVar[str] = "incident_detection"
    env_id: ClassVar[str] = "RLog/IncidentDetection-v0"
    title: ClassVar[str] = "Incident detection"
    summary: ClassVar[str] = "decide from a system's logs whether something is wrong, and since when"
    question: ClassVar[str] = ("Is something wrong in this system? If so, since when: the time of the "
                               "first log line of the fault.")
    answer_fields: ClassVar[str] = (
        'The answer is {"abnormal": true, "onset": "<time of the fault\'s first log line, UTC, '
        'HH:MM:SS or ISO-8601>"} when a fault is present, or {"abnormal": false} when nothing is wrong.'
    )
    weights: ClassVar[Mapping[str, float]] = {"detection": 0.5, "onset": 0.5}
    manual_reward: ClassVar[str] = (
        "Answer score: ``detection`` (``abnormal`` right: 1) and, on a faulty incident, ``onset`` "
        "(within ``onset_tolerance`` minutes of the first fault line: 1), half each; a wrong "
        "``abnormal`` scores 0 in all, a right ``false`` on a healthy incident 1."
    )

    def reference(self, facts):
        faults = facts["faults"]
        if not faults:
            return {"abnormal": False}
        return {"abnormal": True, "onset": iso(faults[0]["onset"], exact=True)}

    def answer_of(self, diagnosis):
        if not diagnosis.get("faulty"):
            return {"abnormal": False}
        return {"abnormal": True, "onset": diagnosis.get("onset")}

    def elements(self, answer, case: Case):
        faults = case.facts["faults"]
        flag = answered_flag(answer.get("abnormal"))
        if not faults:
            return {"detection": float(flag is False), "onset": None}
        if flag is not True:
            return {"detection": 0.0, "onset": 0.0}
        return {"detection": 1.0, "onset": onset_score(answer.get("onset"), faults[0]["onset"], case,
                                                      self.onset_tolerance)}
