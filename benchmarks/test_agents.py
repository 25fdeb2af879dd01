"""LLM agent throughput: batching in the transformers agent, concurrency in the
OpenAI-compatible agent. Ratios measured in one run.

Run: ``pytest benchmarks/test_agents.py --benchmark-only -s``. The SmolLM2 figure needs the model
in the cache (``rlog model get smollm2-135m``); without it that benchmark is skipped.
"""

from __future__ import annotations

import time

import gymnasium as gym
import pytest

import rlog_env  # noqa: F401  (registers the environments)
from rlog_env.agents.base import Observation

PROMPTS = 16


def _observations(n: int) -> list[Observation]:
    # Short prompts (one log line), so decoding — what batching speeds up — dominates rather
    # than the prompt's prefill, whose cost is the same batched or not.
    env = gym.make("RLog/LogParsing-v0", difficulty="easy")
    return [Observation.from_reset(*env.reset(seed=i)) for i in range(n)]


def _tokens_per_second(agent, observations) -> float:
    began = time.perf_counter()
    agent.act(observations)
    seconds = time.perf_counter() - began
    return sum(u["completion_tokens"] for u in agent.last_usage_) / seconds


def test_transformers_agent_batch_16_vs_batch_1(benchmark):
    """Tokens/s of SmolLM2-135M on CPU answering 16 prompts, batch 16 vs one at a time (same
    prompts, greedy, the same answers): tokens written per second of wall time."""
    pytest.importorskip("transformers")
    from rlog_env.agents.transformers_agent import TransformersAgent
    from rlog_env.agents.models import cached_model

    path = cached_model("smollm2-135m")
    if path is None:
        pytest.skip("SmolLM2-135M is not in the model cache: rlog model get smollm2-135m")
    observations = _observations(PROMPTS)
    single = TransformersAgent(path, batch_size=1, max_new_tokens=48, device="cpu").load()
    batched = TransformersAgent(path, batch_size=PROMPTS, max_new_tokens=48, device="cpu").load()
    batched.act(observations[:2])  # warm-up
    one = _tokens_per_second(single, observations)
    many = benchmark.pedantic(lambda: _tokens_per_second(batched, observations), rounds=2, iterations=1)
    ratio = many / one
    benchmark.extra_info.update(batch1_tokens_per_s=round(one, 1), batch16_tokens_per_s=round(many, 1),
                                ratio=round(ratio, 2))
    print(f"\nSmolLM2-135M CPU: batch 1 {one:.1f} tok/s, batch 16 {many:.1f} tok/s, ratio {ratio:.2f}x")
    # The target is 3x (measured 3.18x here, see BENCHMARKS.md); the assertion leaves room for a
    # loaded machine and catches what matters: batching that stopped paying.
    assert ratio >= 2.0
