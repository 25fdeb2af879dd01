"""Fault localization: which components of the system are faulty (an investigation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Mapping

from rlog_env.tasks.investigation import Case, Investigation, component_of, register_investigation


@register_investigation
@dataclass(frozen=True)
class FaultLocalization(Investigation):
    """Name the components where the faults start (not those that only suffer their cascade)."""

    name: ClassVar[str] = "fault_localization"
    env_id: ClassVar[str] = "RLog/FaultLocalization-v0"
    title: ClassVar[str] = "Fault localization"
    summary: ClassVar[str] = "name the faulty components of a system from its logs"
    question: ClassVar[str] = ("Which components are faulty? Name the components where a fault starts, "
                               "not those that only fail because a component they depend on failed; "
                               "none if nothing is wrong.")
    answer_fields: ClassVar[str] = (
        'The answer is {"components": ["<component name or host>", ...]}: the faulty components, '
        'an empty list when nothing is wrong.'
    )
    weights: ClassVar[Mapping[str, float]] = {"components": 1.0}
    manual_reward: ClassVar[str] = (
        "Answer score: ``components``, the F1 of the answered set against the faulty components "
        "(a host counts as its component; both empty: 1)."
    )

    def reference(self, facts):
        return {"components": sorted({fault["component"] for fault in facts["faults"]})}

    def answer_of(self, diagnosis):
        return {"components": list(diagnosis.get("components") or []) if diagnosis.get("faulty") else []}

    def elements(self, answer, case: Case):
        truth = {fault["component"] for fault in case.facts["faults"]}
        named = answer.get("components")
        if isinstance(named, str):  # one name without the list
            named = [named]
        if not isinstance(named, list):
            return {"components": 0.0}
        answered = {component_of(value, case) for value in named[:64]}
        unknown = sum(1 for value in named[:64] if component_of(value, case) is None)
        answered.discard(None)
        if not truth:
            return {"components": float(not answered and not unknown)}
        hits = len(answered & truth)
        size = len(answered) + unknown
        return {"components": 2 * hits / (size + len(truth)) if hits else 0.0}
