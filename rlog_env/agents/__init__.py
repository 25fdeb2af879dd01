"""Agents: the interface, baselines without a model, prompt-only LLM agents."""

from rlog_env.agents.base import Agent, FunctionAgent, Observation, as_agent

__all__ = ["Agent", "FunctionAgent", "Observation", "as_agent"]
