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
    write_completion,
)
from rlog_env.tasks.schemes import RLOG, RewardScheme, get_scheme

# Task kinds: what the answer is. Other layers hang their per-task behaviour (field metrics,
# baselines, trajectory grounding, hardening) on a task's kind, never on its name; a new task may
# bring a new kind, and registers each layer's hook for it where it wants one.
LABEL = "label"  # one of a few labels (anomaly detection)
TEMPLATE = "template"  # a log template with <*> for each variable (log parsing)
TEXT = "text"  # free text (interpretation, root cause, solution)

SYSTEM_ROLE = (
    "You are an experienced operations and maintenance (O&M) engineer who analyses system logs."
)


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
    reference at 1.0 (a task may leave it 0.0 when its scheme does not read it:
    :attr:`~rlog_env.tasks.schemes.RewardScheme.uses_unit`); ``metrics`` the cheap metrics
    reported in ``info``; ``adjusted`` the answer reward a scheme put in place of ``rlog``
    (``grounded``'s fact score, ``hardened``'s closures), or ``None``.
    """

    rlog: float
    unit: float
    metrics: Mapping[str, Any]
    adjusted: float | None = None


def env_column(env_id: str) -> str:
    """An environment id's short name, as tables head it: ``"RLog/LogParsing-v0"`` -> ``"LogParsing"``."""
    return env_id.split("/", 1)[-1].rsplit("-v", 1)[0]


def prompt_text(messages: list[dict[str, str]]) -> str:
    """The prompt of :meth:`Task.messages`' two chat messages as one text: the system message,
    a blank line, the user message."""
    system, user = messages
    return f"{system['content']}\n\n{user['content']}"


@dataclass(frozen=True)
class Task(ABC):
    """Base class of the tasks: prompt building and scoring under a format and a scheme.

    A task module is the one home of what is true of its task: its ``name``, ``kind``,
    ``env_id``, ``title``, default source, answer rule, instruction, answer range and the manual
    text of its environment. Other layers hang per-task behaviour on the task's :attr:`kind`.

    Arguments:
        reasoning: the output format, ``"think-first"`` (R-Log, default), ``"answer-first"``
            (R-Log-fast) or ``"none"`` (the whole completion is the answer).
        reward: the name of a registered reward scheme (:mod:`rlog_env.tasks.schemes`):
            ``"rlog"`` (the released R-Log reward, default), ``"unit"``, ``"grounded"`` or
            ``"hardened"``.
    """

    reasoning: str = THINK_FIRST
    reward: str = RLOG
    scheme: RewardScheme = field(init=False, repr=False, compare=False)

    name: ClassVar[str]
    kind: ClassVar[str]  # LABEL, TEMPLATE, TEXT or a kind a new task brings
    env_id: ClassVar[str]
    title: ClassVar[str]
    default_source: ClassVar[str] = "sim"
    default_instruction: ClassVar[str]
    answer_rule: ClassVar[str]
    rlog_answer_range: ClassVar[tuple[float, float]]
    # The environment manual's task-specific parts (the environment layer adds the rest): a
    # one-line summary, what the agent sees and answers, and the reward under each scheme.
    summary: ClassVar[str] = ""
    answer_noun: ClassVar[str] = "answer"  # what the answer is called in traces ("root cause")
    manual_description: ClassVar[str] = ""
    manual_reward: ClassVar[str] = ""

    @classmethod
    def column(cls) -> str:
        """The environment's short name, as tables and manuals head it: ``"LogParsing"``."""
        return env_column(cls.env_id)

    def __post_init__(self) -> None:
        check_format(self.reasoning)
        object.__setattr__(self, "scheme", get_scheme(self.reward))

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
        """The completion's answer and reasoning under this task's format (under a strict
        scheme, ``hardened``, no other spelling of a tag anywhere)."""
        return parse_completion(completion, self.reasoning, self.scheme.strict)

    @abstractmethod
    def judge(self, answer: str, reference: str, logs: str, facts=None) -> Judgement:
        """Judge a non-empty answer against the reference: the task's own metric."""

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
        return self.score_parsed(self.parse(completion), reference, logs, facts)

    def score_parsed(self, parsed: ParsedCompletion, reference: str, logs: str = "", facts=None) -> Reward:
        """:meth:`score` of a completion already parsed by :meth:`parse` (the environment
        parses once, for the reward and for the answer it reports)."""
        if not parsed.well_formed or not parsed.answer:
            return self._unanswered(parsed.well_formed)
        return self._rewarded(self.scheme.judge(self, parsed.answer, reference, logs, facts))

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
                    judge = self.scheme.judge_for(self, reference, logs, facts)
                reward = scored[answer] = rewarded(judge(answer))
            else:  # the same answer again: the same reward, with details of its own
                reward = Reward(done.total, done.format, done.answer, dict(done.details))
            rewards.append(reward)
        return rewards

    def _unanswered(self, well_formed: bool) -> Reward:
        """The reward of a completion with a wrong format or an empty answer."""
        scheme = self.scheme
        fmt = scheme.format_ok if well_formed else scheme.format_bad
        return Reward(fmt + scheme.answer_bad, fmt, scheme.answer_bad,
                      {"well_formed": well_formed, "answer_empty": True})

    def _rewarded(self, verdict: Judgement) -> Reward:
        """The reward of a well-formed, non-empty answer judged ``verdict``."""
        scheme = self.scheme
        fmt, answer = scheme.format_ok, scheme.answer(verdict)
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
        return self.scheme.reward_range(self)

    def reference_answer_reward(self, reference: str) -> float:
        """The ``rlog`` answer reward of the reference against itself: the top of
        :attr:`rlog_answer_range` unless the task's metric gives some references less."""
        return self.rlog_answer_range[1]

    def top_reward(self, sample: Sample) -> float:
        """The total reward of the sample's reference under this task's scheme."""
        return self.scheme.top_reward(self, sample.reference)

    def reference_completion(self, sample: Sample) -> str:
        """The sample's reference written in this task's format: the top-scoring completion."""
        return write_completion(sample.reference, "The reference answer.", self.reasoning)
