"""Baselines without a model, each writing a sample-specific reasoning trace and an answer.

- :class:`DrainParser` — templates (log parsing) with Drain (drain3) and masking rules, one
  miner per system;
- :class:`SubsumptionParser` — templates (log parsing) by generic masking and template
  subsumption, one set of templates per system (no dependency); the ``subsumption`` agent is
  the ``heuristic`` agent with it in place of Drain;
- :class:`RuleAnomalyDetector` — labels (anomaly detection) by severities, failure words and
  known-benign patterns;
- :class:`RetrievalAgent` — free text (interpretation, root cause, solution): the reference of
  the most similar training sample (TF-IDF);
- :class:`HeuristicAgent` — the baseline of each task's kind behind one name
  (:func:`register_baseline` adds one for another kind);
- the investigation baselines (:mod:`.investigators`): :class:`ScriptedInvestigator`, and the
  trivial :class:`AnswerNowAgent` and :class:`RandomToolsAgent` (:data:`INVESTIGATORS`);
- trivial baselines that a leaderboard needs to be read honestly: :class:`ConstantAgent`
  (always ``"normal"``), :class:`EchoAgent` (the logs as the answer), :class:`EmptyAgent`
  (an empty answer).

Every agent takes ``reasoning`` (``"think-first"``, default; ``"answer-first"``; ``"none"``),
follows scikit-learn (``__init__`` stores parameters; ``fit(samples)`` returns the agent and
keeps what it learnt in attributes ending in ``_``) and is deterministic.
:data:`BUILTIN_AGENTS` maps the command-line names to factories taking those options.
Drain needs the ``baselines`` extra (``pip install 'rlog_env[baselines]'``).
"""

from __future__ import annotations

from typing import Callable

from rlog_env.agents.baselines._common import NotFittedError
from rlog_env.agents.baselines.anomaly import RuleAnomalyDetector, inspect_logs
from rlog_env.agents.baselines.heuristic import (BASELINES, HeuristicAgent, heuristic_agent,
                                                 register_baseline, registered_baseline,
                                                 subsumption_agent, unregister_baseline)
from rlog_env.agents.baselines.investigators import (INVESTIGATORS, TRIVIAL_INVESTIGATORS, AnswerNowAgent,
                                                     RandomToolsAgent, ScriptedInvestigator)
from rlog_env.agents.baselines.parsing import DrainParser, mask_message
from rlog_env.agents.baselines.retrieval import RetrievalAgent
from rlog_env.agents.baselines.subsumption import SubsumptionParser
from rlog_env.agents.baselines.trivial import ConstantAgent, EchoAgent, EmptyAgent
from rlog_env.tasks.formats import write_completion


def constant_normal(**options) -> ConstantAgent:
    """The ``constant-normal`` agent: always answers ``normal``."""
    options.setdefault("name", "constant-normal")
    return ConstantAgent("normal", **options)


def echo(**options) -> EchoAgent:
    """The ``echo`` agent: the logs as the answer."""
    return EchoAgent(**options)


def empty(**options) -> EmptyAgent:
    """The ``empty`` agent: a well-formed completion with an empty answer."""
    return EmptyAgent(**options)


BUILTIN_AGENTS: dict[str, Callable[..., object]] = {
    "heuristic": heuristic_agent,
    "constant-normal": constant_normal,
    "subsumption": subsumption_agent,
    "echo": echo,
    "empty": empty,
}
TRIVIAL_AGENTS = ("constant-normal", "echo", "empty")

__all__ = [
    "BASELINES", "BUILTIN_AGENTS", "INVESTIGATORS", "TRIVIAL_AGENTS", "TRIVIAL_INVESTIGATORS", "AnswerNowAgent",
    "ConstantAgent", "DrainParser", "EchoAgent", "EmptyAgent", "HeuristicAgent", "RandomToolsAgent",
    "ScriptedInvestigator", "NotFittedError", "RetrievalAgent", "RuleAnomalyDetector", "SubsumptionParser",
    "constant_normal", "echo", "empty", "heuristic_agent", "inspect_logs", "mask_message",
    "register_baseline", "registered_baseline", "subsumption_agent", "unregister_baseline", "write_completion",
]
