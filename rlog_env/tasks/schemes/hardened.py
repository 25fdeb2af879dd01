"""``hardened``: ``rlog`` with its known exploits closed, for RL runs where the policy looks for them.

The same range and top values as ``rlog`` and the same judgement of an honest answer; the strict
format rule (no other spelling of a tag anywhere); and per task kind the closures of
:mod:`rlog_env.tasks.hardening` (docs/rewards.md lists each exploit and its measured scores):

- ``template`` (log parsing): a template that is mostly ``<*>`` or still holds the raw message
  earns answer 0 (``metrics["guard"]`` names the closure);
- ``text``: the answer reward relative to the reference's own (x 1.25, so a short reference
  still tops) times the repetition, copying and length factors;
- other kinds (``label``) keep the ``rlog`` judgement. :func:`register_hardening` adds the
  closures of a new kind.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from rlog_env.tasks.hardening import parsing_context, text_context
from rlog_env.tasks.parsing_metric import lower_score_tokens, normalise_template
from rlog_env.tasks.schemes.base import RewardScheme

HARDENED = "hardened"
_TEXT_SCALE = 0.8

# A closure factory: (judge, reference, logs) -> judge, for the answers to one reference.
Closure = Callable[[Callable, str, str], Callable]


def _harden_template(judge, reference: str, logs: str):
    context = parsing_context(reference, logs)

    def hardened(answer: str):
        verdict = judge(answer)
        guard = context.guard(lower_score_tokens(answer), normalise_template(answer))
        return replace(verdict, metrics={**verdict.metrics, "guard": guard},
                       adjusted=0.0 if guard else verdict.rlog)

    return hardened


def _harden_text(judge, reference: str, logs: str):
    context = text_context(reference, logs)

    def hardened(answer: str):
        verdict = judge(answer)  # its unit value: the answer relative to the reference's own score
        factors = context.factors(answer.split())
        adjusted = verdict.unit / _TEXT_SCALE if verdict.unit > 0 else 0.0  # rlog's, for ≥ 4-word references
        metrics = {**verdict.metrics, "repetition": factors.repetition, "copying": factors.copying,
                   "length": factors.length}
        return replace(verdict, metrics=metrics, adjusted=adjusted * factors.product)

    return hardened


_CLOSURES: dict[str, Closure] = {"template": _harden_template, "text": _harden_text}


def register_hardening(kind: str, closure: Closure | None) -> None:
    """Give task kind ``kind`` its hardened closures (``None`` removes them): ``closure(judge,
    reference, logs)`` returns a judge whose verdicts carry the hardened answer reward in
    ``adjusted``."""
    if closure is None:
        _CLOSURES.pop(kind, None)
    else:
        _CLOSURES[kind] = closure


class HardenedScheme(RewardScheme):
    """``rlog`` with its known exploits closed."""

    name = HARDENED
    description = "is 'rlog' with its known exploits closed (docs/rewards.md)"
    strict = True
    uses_unit = True

    def judge_for(self, task, reference: str, logs: str, facts: Any):
        judge = task.judge_for(reference, logs, facts)
        closure = _CLOSURES.get(task.kind)
        return judge if closure is None else closure(judge, reference, logs)

    def answer(self, verdict) -> float:
        return verdict.adjusted if verdict.adjusted is not None else verdict.rlog

    def top_reward(self, task, reference: str) -> float:
        return self.reward_range(task)[1]  # every closure leaves the reference its top value
