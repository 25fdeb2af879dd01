"""Agents: the interface, baselines without a model, prompt-only LLM agents.

The baselines need the ``baselines`` extra (drain3), the LLM agents the ``llm`` extra (torch,
transformers); both are imported only when used. :func:`make_agent` builds an agent from a
command-line name.
"""

from rlog_env.agents.base import Agent, FunctionAgent, Observation, as_agent
from rlog_env.agents.registry import builtin_names, make_agent

__all__ = ["Agent", "FunctionAgent", "Observation", "as_agent", "builtin_names", "make_agent"]
