"""What every task shares: the sample, the reward, the reward schemes and the task base class.

A task turns a :class:`Sample` into a prompt (one text, or chat messages) and scores a
completion against the sample's reference. Scoring is pure: the environment, the TRL reward
functions and the evaluation runner all call :meth:`Task.score`, so a score means the same
wherever it is seen.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, Callable, ClassVar, Iterable, Mapping

from rlog_env.tasks.formats import (
    THINK_FIRST,
    ParsedCompletion,
    check_format,
    format_instructions,
    parse_completion,
)

RLOG = "rlog"
UNIT = "unit"
GROUNDED = "grounded"
HARDENED = "hardened"
SCHEMES = (RLOG, UNIT, GROUNDED, HARDENED)

# R-Log's format reward; the unit scheme keeps the same share of the top reward for the format.
_RLOG_FORMAT_OK, _RLOG_FORMAT_BAD, _RLOG_ANSWER_BAD = 0.1, -1.0, -1.0
_UNIT_FORMAT_OK, _UNIT_ANSWER_WEIGHT = 0.1, 0.9

SYSTEM_ROLE = (
    "You are an experienced operations and maintenance (O&M) engineer who analyses system logs."
)


def check_scheme(reward: str) -> str:
    """Return ``reward`` if it names a known reward scheme, else raise a ``ValueError``."""
    if reward not in SCHEMES:
        raise ValueError(
            f"reward expects one of {', '.join(map(repr, SCHEMES))}, got {reward!r}; "
            "'rlog' is the released R-Log reward, 'unit' the same judgement in [0, 1], "
            "'grounded' scores free-text answers by their key facts (simulator only), "
            "'hardened' is 'rlog' with its known exploits closed (docs/rewards.md)"
        )
    return reward


@dataclass(frozen=True)
class Sample:
    """One labelled example: the logs an agent sees and the reference it is scored against.

    ``logs`` is the log text shown to the agent; ``reference`` the reference answer (a template,
    a label, or free text). ``instruction`` is the source's own wording of the request, when it
    has one (LogLM does), else empty and the task's default is used. ``facts`` holds what the
    scorer may know but the agent must not see: the key facts a fact-grounded reward checks
    (``key_facts``), and on the simulator the faults, the line labels and whether a held-out
    fault or family is involved. ``meta`` describes where the sample comes from (source, split,
    index, id, ...) and is shown to the agent: it never holds the reference or a hint of it.
    """

    task: str
    domain: str
    logs: str
    reference: str
    instruction: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reward:
    """A scored completion: ``total = format + answer``, plus the task's cheap metrics."""

    total: float
    format: float
    answer: float
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        """The three reward parts, as the environment's ``info["reward"]`` carries them."""
        return {"total": self.total, "format": self.format, "answer": self.answer}


@dataclass(frozen=True)
class Judgement:
    """A task's verdict on a well-formed, non-empty answer.

    ``rlog`` is the R-Log answer reward; ``unit`` the same judgement in [0, 1] with the
    reference at 1.0; ``grounded`` the fact-grounded answer reward where the task has one (the
    free-text tasks, on the ``rlog`` range); ``hardened`` the answer reward with ``rlog``'s
    exploits closed, where the task's differs from ``rlog`` (parsing and the free-text tasks,
    on the ``rlog`` range); ``metrics`` the cheap metrics reported in ``info``.
    """

    rlog: float
    unit: float
    metrics: Mapping[str, Any]
    grounded: float | None = None
    hardened: float | None = None


def prompt_text(messages: list[dict[str, str]]) -> str:
    """The prompt of :meth:`Task.messages`' two chat messages as one text: the system message,
    a blank line, the user message."""
    system, user = messages
    return f"{system['content']}\n\n{user['content']}"


@dataclass(frozen=True)
class Task(ABC):
    """Base class of the five tasks: prompt building and scoring under a format and a scheme.

    Arguments:
        reasoning: the output format, ``"think-first"`` (R-Log, default), ``"answer-first"``
            (R-Log-fast) or ``"none"`` (the whole completion is the answer).
        reward: the reward scheme, ``"rlog"`` (the released R-Log reward, default),
            ``"unit"`` (the same judgement in [0, 1]), ``"grounded"`` (free-text answers
            scored by the key facts they state, on the ``rlog`` range; needs the facts a
            simulated sample carries; parsing and anomaly detection keep the ``rlog`` reward)
            or ``"hardened"`` (``rlog``'s range and top values with its known exploits closed:
            a strict format rule, and per task the closures of docs/rewards.md).
    """

    reasoning: str = THINK_FIRST
    reward: str = RLOG

    name: ClassVar[str]
    env_id: ClassVar[str]
    title: ClassVar[str]
    default_instruction: ClassVar[str]
    answer_rule: ClassVar[str]
    rlog_answer_range: ClassVar[tuple[float, float]]

    def __post_init__(self) -> None:
        check_format(self.reasoning)
        check_scheme(self.reward)

    # -- prompts ---------------------------------------------------------------------------
    @cached_property
    def system_message(self) -> str:
        """The system message: the analyst's role, the task's answer rule, the format rules."""
        return f"{SYSTEM_ROLE} {self.answer_rule} {format_instructions(self.reasoning)}"

    def messages(self, sample: Sample) -> list[dict[str, str]]:
        """Chat messages: a system message with the format rules, a user message with the logs."""
        instruction = sample.instruction.strip() or self.default_instruction
        user = f"{instruction}\n\nLogs:\n{sample.logs}"
        return [{"role": "system", "content": self.system_message}, {"role": "user", "content": user}]

    def prompt(self, sample: Sample) -> str:
        """The prompt as one text: the system message, a blank line, the user message."""
        return prompt_text(self.messages(sample))

    # -- scoring ---------------------------------------------------------------------------
    def parse(self, completion: str) -> ParsedCompletion:
        """The completion's answer and reasoning under this task's format (under ``hardened``
        the strict rule: no other spelling of a tag anywhere)."""
        return parse_completion(completion, self.reasoning, self.reward == HARDENED)

    @abstractmethod
    def judge(self, answer: str, reference: str, logs: str, facts=None) -> Judgement:
        """Judge a non-empty answer against the reference: each task's own metric."""

    def judge_for(self, reference: str, logs: str = "", facts=None) -> Callable[[str], Judgement]:
        """A judge of answers against one reference: ``judge_for(reference, logs, facts)(answer)
        == judge(answer, reference, logs, facts)``. Tasks whose metric analyses the reference
        (tokens, n-grams, variable values) override it to do that analysis once, here."""
        return partial(self.judge, reference=reference, logs=logs, facts=facts)

    def score(self, completion: str, reference: str, logs: str = "", facts=None) -> Reward:
        """Score ``completion`` against ``reference`` (``logs``: the log text the sample shows;
        ``facts``: the key facts, each a sequence of accepted phrasings, for ``grounded``).

        Never raises on a string completion: any text earns a finite reward within
        :attr:`reward_range`.
        """
        parsed = self.parse(completion)
        if not parsed.well_formed or not parsed.answer:
            return self._unanswered(parsed.well_formed)
        return self._rewarded(self.judge(parsed.answer, reference, logs, facts))

    def score_group(self, completions: Iterable[str], reference: str, logs: str = "",
                    facts=None) -> list[Reward]:
        """Score several completions against one reference, as a GRPO group is: the same rewards
        as :meth:`score` on each, but the reference is analysed once (:meth:`judge_for`) and an
        answer that recurs in the group is judged once."""
        judge = None
        scored: dict[str, Reward] = {}  # answer -> its reward, for answers that recur
        parse, unanswered, rewarded = self.parse, self._unanswered, self._rewarded
        rewards = []
        for completion in completions:
            parsed = parse(completion)
            answer = parsed.answer
            if not parsed.well_formed or not answer:
                rewards.append(unanswered(parsed.well_formed))
                continue
            done = scored.get(answer)
            if done is None:
                if judge is None:  # not before an answer needs it, as score() does
                    judge = self.judge_for(reference, logs, facts)
                reward = scored[answer] = rewarded(judge(answer))
            else:  # the same answer again: the same reward, with details of its own
                reward = Reward(done.total, done.format, done.answer, dict(done.details))
            rewards.append(reward)
        return rewards

    def _unanswered(self, well_formed: bool) -> Reward:
        """The reward of a completion with a wrong format or an empty answer."""
        if self.reward != UNIT:  # rlog, and grounded and hardened, which keep rlog's values
            fmt = _RLOG_FORMAT_OK if well_formed else _RLOG_FORMAT_BAD
            return Reward(fmt + _RLOG_ANSWER_BAD, fmt, _RLOG_ANSWER_BAD,
                          {"well_formed": well_formed, "answer_empty": True})
        fmt = _UNIT_FORMAT_OK if well_formed else 0.0
        return Reward(fmt, fmt, 0.0, {"well_formed": well_formed, "answer_empty": True})

    def _rewarded(self, verdict: Judgement) -> Reward:
        """The reward of a well-formed, non-empty answer judged ``verdict``."""
        if self.reward == RLOG:
            fmt, answer = _RLOG_FORMAT_OK, verdict.rlog
        elif self.reward == GROUNDED:
            fmt = _RLOG_FORMAT_OK
            answer = verdict.grounded if verdict.grounded is not None else verdict.rlog
        elif self.reward == HARDENED:
            fmt = _RLOG_FORMAT_OK
            answer = verdict.hardened if verdict.hardened is not None else verdict.rlog
        else:
            fmt, answer = _UNIT_FORMAT_OK, _UNIT_ANSWER_WEIGHT * verdict.unit
        if not math.isfinite(answer):  # pragma: no cover - every judge returns finite values
            raise ArithmeticError(f"{self.name} produced a non-finite answer reward {answer!r}")
        details = {"well_formed": True, "answer_empty": False, **verdict.metrics}
        return Reward(fmt + answer, fmt, answer, details)

    def reward_for(self, completion: str, sample: Sample) -> Reward:
        """Score ``completion`` against ``sample``: the environment's reward."""
        return self.score(completion, sample.reference, sample.logs, sample.facts.get("key_facts"))

    @property
    def reward_range(self) -> tuple[float, float]:
        """The lowest and highest total reward under this task's scheme."""
        if self.reward == UNIT:
            return (0.0, 1.0)
        # grounded and hardened keep the rlog range: their answer rewards top at the same value.
        return (_RLOG_FORMAT_BAD + _RLOG_ANSWER_BAD, _RLOG_FORMAT_OK + self.rlog_answer_range[1])

    def reference_completion(self, sample: Sample) -> str:
        """The sample's reference written in this task's format: the top-scoring completion."""
        if self.reasoning == "none":
            return sample.reference
        think = "The reference answer."
        if self.reasoning == THINK_FIRST:
            return f"<think>{think}</think><answer>{sample.reference}</answer>"
        return f"<answer>{sample.reference}</answer><think>{think}</think>"
