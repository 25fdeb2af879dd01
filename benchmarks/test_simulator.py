"""Simulator throughput: scenarios per second, and anomaly-detection episodes per second
through ``gymnasium.make`` (reset + step), at the default difficulty, on one core.

Run: ``pytest benchmarks/ --benchmark-only``. The figures go into BENCHMARKS.md.
"""

from __future__ import annotations

import itertools

import gymnasium as gym
import pytest

import rlog_env  # noqa: F401  (registers the environments)
from rlog_env.datasets import load_source

ROUNDS = 1000


def test_scenarios_per_second(benchmark):
    source = load_source("sim", "anomaly_detection")
    counter = itertools.count()

    def run():
        base = next(counter) * ROUNDS
        for i in range(ROUNDS):
            source.scenario(base + i, 0)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["per_second"] = ROUNDS / benchmark.stats.stats.mean
        benchmark.extra_info["best_per_second"] = ROUNDS / benchmark.stats.stats.min


@pytest.mark.parametrize("env_id", rlog_env.ENV_IDS)
def test_episodes_per_second(benchmark, env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    answer = "<think>The logs show the usual traffic.</think><answer>normal</answer>"

    def run():
        for _ in range(ROUNDS):
            env.reset()
            env.step(answer)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["per_second"] = ROUNDS / benchmark.stats.stats.mean
        benchmark.extra_info["best_per_second"] = ROUNDS / benchmark.stats.stats.min
