"""GRPO overhead of the environment: the reward functions' share of a training step.

A short GRPO run on the tiny model (the `rlog repro` size) gives TRL's step time; the same reward
functions then score a step's worth of well-formed completions (reasoning trajectories of the
step's samples, so every answer goes through the full metric, not the cheap bad-format path).
The target: under 1 % of the step. Run: ``pytest benchmarks/test_training.py --benchmark-only -s``.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("trl")

from rlog_env.datasets.reasoning import build_trajectories  # noqa: E402
from rlog_env.tasks import trl_reward_functions  # noqa: E402
from rlog_env.training.config import TrainConfig  # noqa: E402
from rlog_env.training.tiny import init_tiny  # noqa: E402
from rlog_env.training.trainers import final_metrics, train_grpo, training_samples  # noqa: E402

PROMPTS, GENERATIONS = 4, 4


def test_reward_share_of_a_grpo_step(benchmark, tmp_path):
    base = init_tiny(tmp_path / "base", hidden_size=64, num_layers=2, num_heads=2, corpus_episodes=40)
    config = TrainConfig(model=str(base), output_dir=str(tmp_path / "grpo"), episodes=1, difficulty="easy",
                         device="cpu", trl={"max_steps": 2, "num_generations": GENERATIONS,
                                            "per_device_train_batch_size": PROMPTS * GENERATIONS,
                                            "max_completion_length": 128, "logging_steps": 1,
                                            "save_strategy": "no"})
    history = final_metrics(train_grpo(config))["log_history"]
    step = min(e["step_time"] for e in history if "step_time" in e)

    samples = training_samples(config)[:PROMPTS]
    rows = [t for t in build_trajectories(samples) for _ in range(GENERATIONS)]
    columns = {"task": [t.task for t in rows], "reference": [t.reference for t in rows],
               "logs": [t.logs for t in rows], "facts": [[list(f) for f in t.facts.get("key_facts", ())] for t in rows]}
    completions = [t.completion("think-first") for t in rows]
    functions = trl_reward_functions(None)

    def score() -> float:
        began = time.perf_counter()
        for function in functions:
            function(completions=completions, **columns)
        return time.perf_counter() - began

    reward = min(score() for _ in range(5))
    benchmark.pedantic(score, rounds=5, iterations=1)
    share = reward / step
    benchmark.extra_info.update(step_seconds=round(step, 3), reward_seconds=round(reward, 5), share=share)
    print(f"\nGRPO step {step:.2f} s ({PROMPTS}x{GENERATIONS} completions), rewards {reward * 1000:.2f} ms: "
          f"{share:.4%} of the step")
    assert share < 0.01
