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


def _generate(model, input_ids, attention_mask, *, max_new_tokens, eos_ids, temperature=0.0, top_p=1.0):
    """What TransformersAgent did before decode(): transformers' greedy generate(), which keeps
    every sequence in the batch until the last one ends (cut at each one's end here)."""
    out = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=max_new_tokens,
                         do_sample=False, temperature=None, top_p=None, top_k=None,
                         eos_token_id=sorted(eos_ids), pad_token_id=model.generation_config.pad_token_id)
    rows = []
    for tokens in out[:, input_ids.shape[1]:].tolist():
        end = next((k + 1 for k, token in enumerate(tokens) if token in eos_ids), len(tokens))
        rows.append(tokens[:end])
    return rows


def test_transformers_agent_decode_vs_generate(benchmark, monkeypatch):
    """Wall time of SmolLM2-135M on CPU answering 16 log-parsing prompts in one batch, greedy, up
    to 96 new tokens: decode(), which drops each answer from the batch when it ends, vs
    transformers' generate(), which decodes the whole batch to its longest answer. Same answers.
    The gain is the share of sequence-steps generate spends on answers that have ended: small
    here (the base model runs most answers to the cap), 1.57x on a reasoning model's batch of
    anomaly-detection episodes (BENCHMARKS.md)."""
    pytest.importorskip("transformers")
    from rlog_env.agents import transformers_agent
    from rlog_env.agents.models import cached_model

    path = cached_model("smollm2-135m")
    if path is None:
        pytest.skip("SmolLM2-135M is not in the model cache: rlog model get smollm2-135m")
    observations = _observations(PROMPTS)
    agent = transformers_agent.TransformersAgent(path, batch_size=PROMPTS, max_new_tokens=96, device="cpu").load()
    agent.act(observations)  # warm-up, at the batch's own shapes (the first pass at new shapes is slow)

    def timed():
        began = time.perf_counter()
        answers = agent.act(observations)
        return time.perf_counter() - began, answers, [u["completion_tokens"] for u in agent.last_usage_]

    ours, answers, lengths = benchmark.pedantic(timed, rounds=1, iterations=1)
    monkeypatch.setattr(transformers_agent, "decode", _generate)
    theirs, expected, _ = timed()
    ratio = theirs / ours
    benchmark.extra_info.update(decode_s=round(ours, 2), generate_s=round(theirs, 2), speedup=round(ratio, 2),
                                shortest=min(lengths), longest=max(lengths), mean=round(sum(lengths) / len(lengths), 1))
    print(f"\nSmolLM2-135M CPU, 16 answers of {min(lengths)}-{max(lengths)} tokens (mean "
          f"{sum(lengths) / len(lengths):.0f}): decode {ours:.1f} s, generate {theirs:.1f} s, {ratio:.2f}x")
    assert answers == expected
    # The assertion catches decode() becoming the slower of the two (with room for noise).
    assert ratio >= 0.9
