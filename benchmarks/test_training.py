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


def test_environment_share_of_a_multiturn_grpo_step(benchmark, tmp_path):
    """Multi-turn GRPO (TRL's environment_factory) on an investigation: the environment's work in a
    step — the rollouts' tool calls and their scoring (``_score`` replays each transcript through
    the Gymnasium environment) — against TRL's step time on the tiny model. The rollouts are the
    scripted investigator's transcripts (three tool turns, ~5 calls), a busier step than the
    untrained model makes; the step time is the untrained model's, a short one: the share is
    overstated, not understated. Building the incidents at ``reset`` is reported beside it."""
    from rlog_env.integrations.trl import environment_factory, investigation_rows
    from rlog_env.training.transcripts import cold_start_transcripts, sft_rows

    env_id, kwargs = "RLog/RootCauseInvestigation-v0", {"difficulty": "easy"}
    base = init_tiny(tmp_path / "base", hidden_size=64, num_layers=2, num_heads=2, corpus_episodes=40)
    config = TrainConfig(model=str(base), output_dir=str(tmp_path / "grpo"), envs=(env_id,), episodes=PROMPTS,
                         difficulty="easy", device="cpu",
                         trl={"max_steps": 2, "num_generations": GENERATIONS, "per_device_train_batch_size": PROMPTS * GENERATIONS,
                              "max_completion_length": 128, "logging_steps": 1, "save_strategy": "no"})
    history = final_metrics(train_grpo(config))["log_history"]
    step = min(e["step_time"] for e in history if "step_time" in e)

    transcripts = cold_start_transcripts([env_id], PROMPTS, first_index=0, **kwargs)
    rows = investigation_rows(env_id, PROMPTS, first_index=0, **kwargs)
    # The model's part of each transcript: after the system message and the brief.
    completions = {r["index"]: r["messages"][2:] for r in sft_rows(transcripts)}
    factory = environment_factory(env_id, **kwargs)
    clock = {"reset": 0.0}

    def one_step() -> float:
        """Reset a step's rollouts (timed apart), run their tool calls and score them."""
        environments, began = [factory() for _ in range(PROMPTS * GENERATIONS)], time.perf_counter()
        for k, environment in enumerate(environments):
            environment.reset(**rows[k // GENERATIONS])
        clock["reset"] = max(clock["reset"], time.perf_counter() - began)  # the first: incidents built
        began = time.perf_counter()
        for k, environment in enumerate(environments):
            completion = completions[rows[k // GENERATIONS]["index"]]
            for message in completion:
                for tool_call in message.get("tool_calls") or ():
                    getattr(environment, tool_call["function"]["name"])(**tool_call["function"]["arguments"])
            environment._score(completion)
        return time.perf_counter() - began

    work = min(one_step() for _ in range(3))
    benchmark.pedantic(one_step, rounds=3, iterations=1)
    share = work / step
    benchmark.extra_info.update(step_seconds=round(step, 3), env_seconds=round(work, 5), share=share,
                                reset_seconds=round(clock["reset"], 4))
    print(f"\nmulti-turn GRPO step {step:.2f} s ({PROMPTS}x{GENERATIONS} rollouts); tools + scoring "
          f"{work * 1000:.1f} ms: {share:.3%} of the step; resets (building {PROMPTS} incidents) "
          f"{clock['reset'] * 1000:.0f} ms")
    assert share < 0.01
