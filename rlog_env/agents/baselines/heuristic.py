"""The ``heuristic`` agent: one baseline per task behind one name.

:class:`HeuristicAgent` sends each observation to the baseline of its task — Drain for log
parsing, the rules for anomaly detection, retrieval for the three free-text tasks — and each
training sample to the ``fit`` of the baseline of its task, so one agent plays all five
environments.
"""

from __future__ import annotations

from typing import Sequence

from rlog_env.agents.base import Observation
from rlog_env.agents.baselines._common import Baseline, check_tasks
from rlog_env.agents.baselines.anomaly import RuleAnomalyDetector
from rlog_env.agents.baselines.parsing import DrainParser
from rlog_env.agents.baselines.retrieval import RetrievalAgent
from rlog_env.tasks import TASKS, TEXT_TASKS, THINK_FIRST, Sample

PARSING, ANOMALY = "log_parsing", "anomaly_detection"


class HeuristicAgent(Baseline):
    """Drain (parsing), rules (anomaly detection) and retrieval (text tasks) as one agent.

    Arguments:
        reasoning: the output format of every answer (``think-first``, ``answer-first``, ``none``).
        name: the agent's name on the leaderboard.

    Fitted attributes: ``parser_`` (:class:`DrainParser`), ``detector_``
    (:class:`RuleAnomalyDetector`), ``retriever_`` (:class:`RetrievalAgent`, or ``None`` when no
    free-text training samples were given).
    """

    def __init__(self, reasoning: str = THINK_FIRST, name: str = "heuristic"):
        self.reasoning = reasoning
        self.name = name

    def fit(self, samples: Sequence[Sample]) -> "HeuristicAgent":
        """Fit each task's baseline on that task's training samples; returns the agent.

        Fit on the training samples of every task the agent will play (the evaluation runner
        passes the training split of each environment it evaluates).
        """
        self._check_params()
        by_task: dict[str, list[Sample]] = {}
        for sample in samples:
            by_task.setdefault(sample.task, []).append(sample)
        self.parser_ = DrainParser(self.reasoning).fit(by_task.get(PARSING, []))
        self.detector_ = RuleAnomalyDetector(self.reasoning).fit(by_task.get(ANOMALY, []))
        text = [s for task in TEXT_TASKS for s in by_task.get(task, [])]
        self.retriever_ = RetrievalAgent(self.reasoning).fit(text) if text else None
        return self

    def _agent_for(self, task: str) -> Baseline:
        if task == PARSING:
            # Unfitted: an empty miner per system, i.e. the masked message as the template.
            return getattr(self, "parser_", None) or DrainParser(self.reasoning)
        if task == ANOMALY:
            return getattr(self, "detector_", None) or RuleAnomalyDetector(self.reasoning)
        retriever = getattr(self, "retriever_", None)
        # An unfitted retriever raises NotFittedError naming what to do.
        return retriever if retriever is not None else RetrievalAgent(self.reasoning)

    def act(self, observations: Sequence[Observation]) -> list[str]:
        self._check_params()
        check_tasks(self.name, observations, tuple(TASKS))
        answers: list[str | None] = [None] * len(observations)
        groups: dict[str, list[int]] = {}
        for i, observation in enumerate(observations):
            groups.setdefault(observation.task, []).append(i)
        for task, positions in groups.items():
            agent = self._agent_for(task)
            if agent.reasoning != self.reasoning:  # a fitted sub-agent follows the agent's format
                agent.reasoning = self.reasoning
            for i, answer in zip(positions, agent.act([observations[i] for i in positions])):
                answers[i] = answer
        return answers  # type: ignore[return-value]


def heuristic_agent(**options) -> HeuristicAgent:
    """The ``heuristic`` agent (``options``: ``reasoning``, ``name``)."""
    return HeuristicAgent(**options)
