"""Root cause investigation: the fault's category, component, onset and cause (an investigation)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Mapping

from rlog_env._times import iso
from rlog_env.tasks.investigation import (HEALTHY, Case, Investigation, component_of, onset_score,
                                          register_investigation, same_name)
from rlog_env.tasks.root_cause_analysis import RootCauseAnalysis
from rlog_env.tasks.schemes import UNIT

_HEALTHY_CAUSE = "No fault: the system is healthy."


@lru_cache(maxsize=1)
def _cause_judge() -> RootCauseAnalysis:
    # The root cause analysis task's text reward, relative to what the reference earns against
    # itself (the ``unit`` judgement): 1.0 for the reference's own words.
    return RootCauseAnalysis(reward=UNIT)


def cause_score(answer: object, reference: str) -> float:
    """The free-text cause's score in [0, 1]: the R-Log text reward (BLEU-4 + ROUGE-1/2/L)
    relative to the reference's own."""
    if not isinstance(answer, str) or not answer.strip():
        return 0.0
    return _cause_judge().judge(answer[:20_000], reference, "").unit


@register_investigation
@dataclass(frozen=True)
class RootCauseInvestigation(Investigation):
    """Name the fault: its category, the component where it starts, its onset and its cause."""

    name: ClassVar[str] = "root_cause_investigation"
    env_id: ClassVar[str] = "RLog/RootCauseInvestigation-v0"
    title: ClassVar[str] = "Root cause investigation"
    summary: ClassVar[str] = "find a fault's category, component, onset and cause from a system's logs"
    question: ClassVar[str] = ("Find the root cause: the fault's category (one of those listed below), "
                               "the component where it starts, the time of its first log line, and the "
                               "cause in a sentence or two.")
    answer_fields: ClassVar[str] = (
        'The answer is {"category": "<one of the fault categories listed>", "component": '
        '"<component name or host>", "onset": "<time of the fault\'s first log line, UTC, HH:MM:SS '
        f'or ISO-8601>", "cause": "<the root cause in words>"}}, or {{"category": "{HEALTHY}"}} '
        'when nothing is wrong.'
    )
    weights: ClassVar[Mapping[str, float]] = {"category": 0.25, "component": 0.25, "onset": 0.25, "cause": 0.25}
    manual_reward: ClassVar[str] = (
        "Answer score: a quarter each for ``category`` (exact, case-insensitive), ``component`` "
        "(by name or host), ``onset`` (within ``onset_tolerance`` minutes) and ``cause`` (the R-Log "
        "text reward, BLEU-4 + ROUGE-1/2/L, relative to the reference's own); with several faults "
        f"the best-matching one counts. On a healthy incident: 1 for category ``{HEALTHY!r}``, else 0."
    )

    def reference(self, facts):
        faults = facts["faults"]
        if not faults:
            return {"category": HEALTHY, "component": None, "onset": None, "cause": _HEALTHY_CAUSE}
        fault = faults[0]
        return {"category": fault["category"], "component": fault["component"],
                "onset": iso(fault["onset"], exact=True), "cause": fault["cause"]}

    def answer_of(self, diagnosis):
        if not diagnosis.get("faulty"):
            return {"category": HEALTHY}
        return {key: diagnosis.get(key) for key in ("category", "component", "onset", "cause")}

    def elements(self, answer, case: Case):
        faults = case.facts["faults"]
        category = same_name(answer.get("category"))
        if not faults:
            return {"category": float(category == HEALTHY), "component": None, "onset": None, "cause": None}
        component = component_of(answer.get("component"), case)
        best: dict[str, float] = {}
        for fault in faults:
            scores = {
                "category": float(category == same_name(fault["category"])),
                "component": float(component == fault["component"]),
                "onset": onset_score(answer.get("onset"), fault["onset"], case, self.onset_tolerance),
                # A source that states no cause (real logs' labels) does not score one.
                "cause": cause_score(answer.get("cause"), fault["cause"]) if fault["cause"] else None,
            }
            if not best or self._weighted(scores) > self._weighted(best):
                best = scores
        return best

    def _weighted(self, scores: Mapping[str, float | None]) -> float:
        return sum(self.weights[k] * v for k, v in scores.items() if v is not None)

