"""What every investigation task shares: the brief, the JSON answer, partial credit, step rewards.

An investigation is an episode of several turns over an incident (hours of logs from several
components): the agent calls tools to query the logs, then gives one final answer in the R-Log
format whose answer part is a JSON object. An investigation task declares the answer's fields
and scores each *element* of it in [0, 1] against the incident's hidden facts (OpenRCA-style
partial credit); this module turns those element scores into rewards under a reward scheme, and
defines the step rewards of tool turns and of truncation.

Rewards, for a scheme that ``scores_investigations`` (``rlog``, ``unit``):

- final answer: ``format + answer - cost``. ``format`` is the scheme's format term (``rlog``:
  +0.1 / -1.0); ``answer`` the scheme's answer reward of the answer score ``s`` in [0, 1] (the
  weighted element scores: ``rlog`` ``s``, ``unit`` ``0.9 s``), or the scheme's bottom
  (``rlog`` -1.0, ``unit`` 0) when the format is wrong or the answer is not a JSON object.
- tool turn: ``-step_cost`` under ``rlog``; 0 under ``unit``, which takes ``step_cost`` per
  tool turn from the final reward instead (never below 0: ``cost`` is capped), so the return
  stays in [0, 1].
- truncation (out of turns, or of observation budget): the scheme's bottom (``rlog`` -2.0,
  ``unit`` 0).

Plain Python: the facts arrive as plain data (see
:func:`rlog_env.datasets.sim.incident_model.incident_facts`); nothing here imports Gymnasium or
the data sources.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from rlog_env._registry import Registry
from rlog_env._times import iso, parse_utc
from rlog_env.tasks.base import SYSTEM_ROLE, Judgement, env_column
from rlog_env.tasks.formats import (THINK_FIRST, check_format, format_instructions, parse_completion, unfenced,
                                    write_completion)
from rlog_env.tasks.schemes import RLOG, SCHEMES, RewardScheme, get_scheme

INVESTIGATION = "investigation"  # the kind of every investigation task
MAX_STEP_COST = 1.0
HEALTHY = "none"  # the category of a healthy incident, as an answer names it


@dataclass(frozen=True)
class Case:
    """One incident as an investigation task sees it: the ``alert`` that starts it, the time span
    of its logs (``start``, ``end``, microseconds), the fault ``categories`` an answer may name
    (the whole vocabulary of the source, never this incident's), and the hidden ``facts``
    (never shown to an agent)."""

    alert: str
    start: int
    end: int
    categories: tuple[str, ...]
    facts: Mapping[str, Any]


@dataclass(frozen=True)
class FinalReward:
    """The reward of a final answer: ``total = format + answer - cost``; ``score`` the answer
    score in [0, 1] (``None`` when no answer could be read), ``elements`` each element's score
    (``None`` for an element that does not apply to this incident)."""

    total: float
    format: float
    answer: float
    cost: float
    score: float | None
    elements: Mapping[str, float | None]
    answer_valid: bool
    well_formed: bool

    def as_dict(self) -> dict[str, float]:
        """The reward parts, as ``info["reward"]`` carries them."""
        return {"total": self.total, "format": self.format, "answer": self.answer, "cost": self.cost}


@dataclass(frozen=True)
class Investigation(ABC):
    """Base class of the investigation tasks.

    Arguments:
        reasoning: the format of the final answer: ``"think-first"`` (default),
            ``"answer-first"`` or ``"none"`` (the whole turn is the JSON answer).
        reward: a registered scheme that scores investigations: ``"rlog"`` (default) or ``"unit"``.
        step_cost: the cost of one tool turn, in [0, 1] (default 0.01; 0 allowed).
        onset_tolerance: minutes an answered onset may be off and still score (default 1).
    """

    reasoning: str = THINK_FIRST
    reward: str = RLOG
    step_cost: float = 0.01
    onset_tolerance: float = 1.0
    scheme: RewardScheme = field(init=False, repr=False, compare=False)

    name: ClassVar[str]
    env_id: ClassVar[str]
    title: ClassVar[str]
    kind: ClassVar[str] = INVESTIGATION
    summary: ClassVar[str]
    question: ClassVar[str]  # the brief's request, after the alert
    answer_fields: ClassVar[str]  # the answer's JSON fields, as the system message states them
    weights: ClassVar[Mapping[str, float]]  # element -> its share of the answer score
    manual_reward: ClassVar[str]

    @classmethod
    def column(cls) -> str:
        """The environment's short name, as tables head it: ``"RootCauseInvestigation"``."""
        return env_column(cls.env_id)

    def __post_init__(self) -> None:
        check_format(self.reasoning)
        scheme = get_scheme(self.reward)
        if not scheme.scores_investigations:
            accepted = [name for name, s in SCHEMES.items() if s.scores_investigations]
            raise ValueError(f"reward expects a scheme that scores investigations ({', '.join(map(repr, accepted))}), "
                             f"got {self.reward!r}")
        for name, value, top in (("step_cost", self.step_cost, MAX_STEP_COST), ("onset_tolerance", self.onset_tolerance, 1440)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= top:
                raise ValueError(f"{name} expects a number in [0, {top}], got {value!r}")
        object.__setattr__(self, "scheme", scheme)

    # -- the brief ---------------------------------------------------------------------------
    def system_message(self, tools_text: str, max_steps: int) -> str:
        """The system message: the analyst's role, the answer's JSON fields, the format rule, how
        to call tools (``tools_text``, from the tools' layer) and the turn budget."""
        return (f"{SYSTEM_ROLE} You investigate an incident by querying its logs with tools, then "
                f"answer. {self.answer_fields} {format_instructions(self.reasoning)} The answer is "
                f"one JSON object.\n\n{tools_text}\n\nYou have at most {max_steps} turns in all; a turn "
                "without a tool call is your final answer and ends the investigation.")

    def brief(self, case: Case) -> str:
        """The user message: the alert, the logs' time span and the request."""
        categories = "; ".join(case.categories)
        return (f"Alert: {case.alert}\n\nThe logs cover {iso(case.start)} to {iso(case.end)} (UTC). "
                f"{self.question}\n\nFault categories: {categories}.")

    # -- the reference -------------------------------------------------------------------------
    @abstractmethod
    def reference(self, facts: Mapping[str, Any]) -> dict:
        """The reference answer of an incident, as a JSON object."""

    @abstractmethod
    def answer_of(self, diagnosis: Mapping[str, Any]) -> dict:
        """This task's answer object for an investigator's ``diagnosis``: a mapping with
        ``faulty`` (bool), ``components`` (the faulty components), ``component`` (where the
        fault starts), ``onset`` (a time string), ``category`` and ``cause`` (words); an
        investigator finds these once, and each task writes the answer it asks for."""

    def reference_text(self, facts: Mapping[str, Any]) -> str:
        """The reference answer exactly as a final answer carries it (inside ``<answer>``)."""
        return json.dumps(self.reference(facts), ensure_ascii=False)

    def reference_completion(self, facts: Mapping[str, Any]) -> str:
        """The reference written as a final answer in this task's format: the top-scoring turn."""
        return write_completion(self.reference_text(facts), "The reference answer.", self.reasoning)

    # -- scoring -------------------------------------------------------------------------------
    @abstractmethod
    def elements(self, answer: Mapping[str, Any], case: Case) -> dict[str, float | None]:
        """Each element's score in [0, 1] for a JSON ``answer`` (``None``: the element does not
        apply to this incident; its weight goes to the others)."""

    def score_answer(self, answer: Mapping[str, Any], case: Case) -> tuple[float, dict[str, float | None]]:
        """The answer score in [0, 1]: the elements' weighted mean over those that apply."""
        scores = self.elements(answer, case)
        applied = [(self.weights[k], v) for k, v in scores.items() if v is not None]
        total = sum(w for w, _ in applied)
        score = sum(w * v for w, v in applied) / total if total else 0.0
        return min(1.0, max(0.0, score)), scores

    def final_reward(self, completion: str, case: Case, tool_turns: int) -> tuple[FinalReward, str | None]:
        """The reward of a final answer after ``tool_turns`` tool turns, and the answer text the
        format rule read (``None`` when it read none). Never raises on a string."""
        scheme = self.scheme
        parsed = parse_completion(completion, self.reasoning)
        answer = read_answer(parsed.answer) if parsed.well_formed and parsed.answer else None
        if answer is None:
            fmt = scheme.format_ok if parsed.well_formed else scheme.format_bad
            value, score, elements = scheme.answer_bad, None, {}
        else:
            fmt = scheme.format_ok
            score, elements = self.score_answer(answer, case)
            value = scheme.answer(Judgement(rlog=score, unit=score, metrics={}))
        cost = 0.0
        if scheme.folds_step_cost:
            cost = min(fmt + value, self.step_cost * tool_turns)
        reward = FinalReward(fmt + value - cost, fmt, value, cost, score, elements, answer is not None,
                             parsed.well_formed)
        return reward, parsed.answer

    def tool_turn_reward(self) -> float:
        """The reward of a tool turn."""
        return 0.0 if self.scheme.folds_step_cost else -float(self.step_cost)

    def truncation_reward(self) -> float:
        """The reward of the step that truncates an episode: the scheme's bottom."""
        return self.scheme.format_bad + self.scheme.answer_bad

    @property
    def final_range(self) -> tuple[float, float]:
        """The lowest and highest reward of a final answer."""
        scheme = self.scheme
        top = scheme.format_ok + scheme.answer(Judgement(rlog=1.0, unit=1.0, metrics={}))
        return (self.truncation_reward(), top)

    @property
    def step_range(self) -> tuple[float, float]:
        """The lowest and highest reward of any one step."""
        low, high = self.final_range
        return (min(low, self.tool_turn_reward()), high)

    def return_range(self, max_steps: int) -> tuple[float, float]:
        """The lowest and highest return of an episode of at most ``max_steps`` turns."""
        low, high = self.final_range
        return (low + (max_steps - 1) * min(0.0, self.tool_turn_reward()), high)


def read_answer(text: str | None) -> dict | None:
    """The JSON object of a final answer (a fenced ```json block accepted), or ``None``."""
    if not text:
        return None
    try:
        value = json.loads(unfenced(text))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


# -- element scorers the tasks share ---------------------------------------------------------
def answered_time(value: Any, case: Case) -> int | None:
    """An answered time (ISO-8601 or a clock time on the incident's day) in microseconds, or
    ``None`` when it is not a time."""
    if not isinstance(value, str):
        return None
    try:
        return parse_utc(value, case.start, case.end)
    except ValueError:
        return None


def onset_score(value: Any, onset: int, case: Case, tolerance_minutes: float) -> float:
    """1.0 when the answered time is within ``tolerance_minutes`` of ``onset``, else 0.0."""
    at = answered_time(value, case)
    return float(at is not None and abs(at - onset) <= tolerance_minutes * 60_000_000)


def same_name(value: Any) -> str:
    """A name or label as answers are compared: a string, stripped and case-folded ('' otherwise)."""
    return " ".join(value.split()).casefold() if isinstance(value, str) else ""


def component_of(value: Any, case: Case) -> str | None:
    """The component an answer names, by its name or its host (case-insensitive), or ``None``."""
    wanted = same_name(value)
    if not wanted:
        return None
    for component, host in case.facts["components"].items():
        if wanted in (same_name(component), same_name(host)):
            return component
    return None


# -- the registry -----------------------------------------------------------------------------
def _check(name: str, cls: Any) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Investigation)) or getattr(cls, "__abstractmethods__", None):
        raise TypeError(f"register_investigation expects a concrete Investigation subclass, got {cls!r}")
    taken = [t.name for t in INVESTIGATIONS.values() if t.env_id == cls.env_id and t.name != name]
    if taken:
        raise ValueError(f"environment id {cls.env_id!r} already belongs to investigation {taken[0]!r}")


INVESTIGATIONS: Registry = Registry("investigation task", _check)


def register_investigation(cls: type[Investigation]) -> type[Investigation]:
    """Register the investigation task class ``cls`` under its ``name`` (a class decorator)."""
    return INVESTIGATIONS.add(getattr(cls, "name", None), cls)


def unregister_investigation(name: str) -> None:
    """Remove the investigation task ``name`` (the inverse of :func:`register_investigation`)."""
    INVESTIGATIONS.remove(name)


def get_investigation(name: str, **config: Any) -> Investigation:
    """The investigation task ``name`` with its configuration (``reasoning``, ``reward``, ...)."""
    cls = INVESTIGATIONS.get(name)
    if cls is None:
        raise INVESTIGATIONS.missing(name)
    return cls(**config)


__all__ = ["HEALTHY", "INVESTIGATION", "INVESTIGATIONS", "Case", "FinalReward", "Investigation",
           "answered_time", "component_of", "get_investigation", "onset_score", "read_answer",
           "register_investigation", "same_name", "unregister_investigation"]
