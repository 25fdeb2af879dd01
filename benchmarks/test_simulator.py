"""Simulator throughput: scenarios per second at the default difficulty, on one core.
(Episodes per second through ``gymnasium.make``, simulator included, are in test_envs.py.)

Run: ``pytest benchmarks/ --benchmark-only``. The figures go into BENCHMARKS.md.
"""

from __future__ import annotations

import itertools

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
