"""The ``heuristic`` agent: one baseline per kind of task behind one name.

:class:`HeuristicAgent` sends each observation, and each training sample, to the baseline
registered for its task's kind (:attr:`rlog_env.tasks.Task.kind`): Drain for templates, the
rules for labels, retrieval for free text. The ``subsumption`` agent is the same agent with
:class:`~rlog_env.agents.baselines.subsumption.SubsumptionParser` for templates. :func:`register_baseline` adds the baseline of
another kind (from outside the package too); :func:`unregister_baseline`, or the
:func:`registered_baseline` context manager, removes it.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from rlog_env._registry import Registry
from rlog_env.agents.base import Agent, Observation
from rlog_env.agents.baselines._common import Baseline
from rlog_env.agents.baselines.anomaly import RuleAnomalyDetector
from rlog_env.agents.baselines.parsing import DrainParser
from rlog_env.agents.baselines.retrieval import RetrievalAgent
from rlog_env.agents.baselines.subsumption import SubsumptionParser
from rlog_env.tasks import TASKS, THINK_FIRST, Sample

# A baseline factory: called as ``factory(reasoning=...)``, it returns an unfitted agent with
# ``fit(samples)`` (returning the agent) and ``act(observations)``.
BaselineFactory = Callable[..., Agent]


def _check(kind: str, factory: BaselineFactory) -> None:
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"register_baseline expects a task kind (a non-empty str), got {kind!r}")
    if not callable(factory):
        raise TypeError(f"register_baseline expects a factory callable as factory(reasoning=...), "
                        f"got {factory!r}")


BASELINES: Registry = Registry("baseline for kind", _check)


def register_baseline(kind: str, factory: BaselineFactory) -> BaselineFactory:
    """Make ``factory`` the baseline the ``heuristic`` agent plays tasks of ``kind`` with.

    ``factory(reasoning=...)`` must return an unfitted agent: ``fit(samples)`` gets the training
    samples of the tasks of ``kind`` and returns the agent, ``act(observations)`` answers
    observations of those tasks in the given format. A kind that already has a baseline is an
    error (:func:`unregister_baseline` it first). Returns ``factory``.
    """
    return BASELINES.add(kind, factory)


def unregister_baseline(kind: str) -> None:
    """Remove the baseline of ``kind`` (the inverse of :func:`register_baseline`)."""
    BASELINES.remove(kind)


def registered_baseline(kind: str, factory: BaselineFactory):
    """``factory`` registered as the baseline of ``kind`` for a ``with`` block (for tests)."""
    return BASELINES.registered(kind, factory)


for _cls in (DrainParser, RuleAnomalyDetector, RetrievalAgent):
    register_baseline(_cls.kind, _cls)


def _kind_of(task: str, own: Mapping[str, BaselineFactory] | None = None) -> str:
    cls = TASKS.get(task)
    if cls is None:
        raise ValueError(f"the heuristic agent got an observation of {task!r}, which is not a "
                         f"registered task; registered tasks: {', '.join(TASKS)}")
    kind = cls.kind
    if kind not in BASELINES and kind not in (own or {}):
        raise ValueError(
            f"the heuristic agent has no baseline for task {task!r} of kind {kind!r} (kinds with "
            f"one: {', '.join(BASELINES)}); add one with "
            f"rlog_env.agents.baselines.register_baseline({kind!r}, factory), where "
            "factory(reasoning=...) returns an agent with fit(samples) and act(observations)"
        )
    return kind


class HeuristicAgent(Baseline):
    """The baseline of each task's kind (:data:`BASELINES`) as one agent.

    Arguments:
        reasoning: the output format of every answer (``think-first``, ``answer-first``, ``none``).
        name: the agent's name on the leaderboard.
        baselines: kind -> baseline factory for this agent only, in place of the registered one
            (the ``subsumption`` agent is this agent with :class:`SubsumptionParser` for
            templates); ``None``: the registered baselines (:data:`BASELINES`) for every kind.

    Fitted attributes: ``baselines_`` (kind -> that kind's baseline, fitted on the training
    samples of the tasks of that kind; a kind with no training samples is absent and gets an
    unfitted baseline when it is played).
    """

    def __init__(self, reasoning: str = THINK_FIRST, name: str = "heuristic",
                 baselines: Mapping[str, BaselineFactory] | None = None):
        self.reasoning = reasoning
        self.name = name
        self.baselines = baselines

    def _factory(self, kind: str) -> BaselineFactory:
        own = self.baselines or {}
        return own[kind] if kind in own else BASELINES[kind]

    def fit(self, samples: Sequence[Sample]) -> "HeuristicAgent":
        """Fit each kind's baseline on the training samples of that kind's tasks; returns the agent.

        Fit on the training samples of every task the agent will play (the evaluation runner
        passes the training split of each environment it evaluates). Samples of tasks that are
        not registered, or whose kind has no baseline, are ignored.
        """
        self._check_params()
        by_kind: dict[str, list[Sample]] = {}
        for sample in samples:
            cls = TASKS.get(sample.task)
            if cls is not None and (cls.kind in BASELINES or cls.kind in (self.baselines or {})):
                by_kind.setdefault(cls.kind, []).append(sample)
        self.baselines_ = {kind: self._factory(kind)(reasoning=self.reasoning).fit(group)
                           for kind, group in by_kind.items()}
        return self

    def _agent_for(self, kind: str) -> Agent:
        agent = getattr(self, "baselines_", {}).get(kind)
        # Unfitted: Drain with an empty miner per system (the masked message as the template),
        # the rules as they are, retrieval raising NotFittedError naming what to do.
        return agent if agent is not None else self._factory(kind)(reasoning=self.reasoning)

    def act(self, observations: Sequence[Observation]) -> list[str]:
        """One answer per observation, each from the baseline of its task's kind.

        Raises ``ValueError`` for an observation of a task that is not registered, or whose kind
        has no baseline (the message says how to add one).
        """
        self._check_params()
        groups: dict[str, list[int]] = {}
        for i, observation in enumerate(observations):
            groups.setdefault(_kind_of(observation.task, self.baselines), []).append(i)
        answers: list[str | None] = [None] * len(observations)
        for kind, positions in groups.items():
            agent = self._agent_for(kind)
            if agent.reasoning != self.reasoning:  # a fitted baseline follows the agent's format
                agent.reasoning = self.reasoning
            for i, answer in zip(positions, agent.act([observations[i] for i in positions])):
                answers[i] = answer
        return answers  # type: ignore[return-value]


def heuristic_agent(**options) -> HeuristicAgent:
    """The ``heuristic`` agent (``options``: ``reasoning``, ``name``)."""
    return HeuristicAgent(**options)


def subsumption_agent(**options) -> HeuristicAgent:
    """The ``subsumption`` agent: the ``heuristic`` agent with :class:`SubsumptionParser` (generic
    masking and template subsumption) for log parsing instead of Drain (``options``:
    ``reasoning``, ``name``)."""
    options.setdefault("name", "subsumption")
    return HeuristicAgent(baselines={SubsumptionParser.kind: SubsumptionParser}, **options)
