"""VeRL's reward function against the environment's own scoring, per task, one core.

``rlog_env.integrations.verl.compute_score`` rebuilds the sample from a VeRL row and calls the
task's scoring; the environment's ``step`` scores the same answer on the sample it holds. What
the reward function adds (reading ``extra_info``, the key facts' JSON, the returned dict with
its metrics as JSON) must not cost much: its rate is asserted at >= 0.8x the environment's,
both measured in one process, taking turns (the machine is shared and noisy).

Cases: simulator samples of each task, a GRPO group of eight completions each (the reference,
wrong, partial, pasted-logs and malformed answers), under the ``rlog`` scheme, think-first.
The environment's side is ``env.step`` alone: each ``reset`` (which draws the sample) is outside
the timed span. No verl needed.

Run: ``pytest benchmarks/test_verl.py --benchmark-only`` (figures), or
``pytest benchmarks --benchmark-disable -q`` (the ratio tests only, quick).
"""

from __future__ import annotations

import gc
import math
import time
from functools import lru_cache

import gymnasium as gym
import pytest

import rlog_env  # noqa: F401  (registers the environments)
from rlog_env.integrations.verl import compute_score, rows
from rlog_env.tasks import TASKS, write_completion

SAMPLES = 25
RATIO = 0.8


@lru_cache(maxsize=None)
def cases(task: str):
    """(env, [(index, VeRL row, completion)]): SAMPLES samples x a group of eight completions."""
    env = gym.make(TASKS[task].env_id, source="sim")
    source = env.unwrapped.source
    samples = [source[i] for i in range(SAMPLES)]
    out = []
    for index, (sample, row) in enumerate(zip(samples, rows(samples))):
        other = source[SAMPLES + index].reference
        words = sample.reference.split()
        answers = [sample.reference, other, " ".join(words[: max(1, len(words) // 2)]), sample.logs[:1500],
                   sample.reference.upper()]
        group = [write_completion(a, f"Reading the logs of sample {index}.") for a in answers]
        group += ["", f"<answer>{sample.reference}</answer>", f"<think>x</think><answer>{other}</answer><answer>y</answer>"]
        out += [(index, row, completion) for completion in group]
    return env, out


def env_times(env, items) -> list[float]:
    """Seconds of each ``env.step`` over ``items`` (resets untimed)."""
    times = []
    step, reset, clock = env.step, env.reset, time.perf_counter
    for index, _, completion in items:
        reset(options={"index": index})
        start = clock()
        step(completion)
        times.append(clock() - start)
    return times


def verl_times(items) -> list[float]:
    """Seconds of each ``compute_score`` call over ``items``, called as VeRL's reward managers call it."""
    times = []
    clock = time.perf_counter
    for _, row, completion in items:
        extra = row["extra_info"]
        truth = row["reward_model"]["ground_truth"]
        source = row["data_source"]
        start = clock()
        compute_score(data_source=source, solution_str=completion, ground_truth=truth, extra_info=extra)
        times.append(clock() - start)
    return times


def interleaved_best(fns: dict, rounds: int) -> dict[str, float]:
    """Each function returns the seconds of each of its calls; its figure is the sum over calls
    of each call's best of ``rounds`` rounds. The functions take turns each round and the
    garbage collector is off (as ``timeit``). Best per call, not per round: the environment's
    side spends most of its wall time in untimed resets, so a round-level best would let it
    dodge the preemptions a loaded machine inflicts, and the other side not."""
    best: dict[str, list[float]] = {}
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in fns.items():
                times = fn()
                best[name] = [min(a, b) for a, b in zip(best[name], times)] if name in best else times
    finally:
        if was_enabled:
            gc.enable()
    return {name: math.fsum(times) for name, times in best.items()}


@pytest.mark.parametrize("task", list(TASKS))
def test_compute_score_per_second(benchmark, task):
    _, items = cases(task)

    def run():
        for _, row, completion in items:
            compute_score(row["data_source"], completion, row["reward_model"]["ground_truth"], row["extra_info"])

    benchmark.pedantic(run, rounds=7, warmup_rounds=1)
    if benchmark.stats is not None:  # --benchmark-disable: run once, nothing timed
        benchmark.extra_info["per_second"] = len(items) / benchmark.stats.stats.mean


@pytest.mark.parametrize("task", list(TASKS))
def test_compute_score_keeps_up_with_the_environment(task):
    env, items = cases(task)
    for index, row, completion in items[:8]:  # the same rewards (tests/integrations has the rest)
        env.reset(options={"index": index})
        assert compute_score(row["data_source"], completion, row["reward_model"]["ground_truth"],
                             row["extra_info"])["score"] == env.step(completion)[1]
    best = interleaved_best({"env": lambda: env_times(env, items), "verl": lambda: verl_times(items)}, rounds=15)
    ratio = best["env"] / best["verl"]
    print(f"\n{task}: env.step {len(items) / best['env']:,.0f}/s, compute_score "
          f"{len(items) / best['verl']:,.0f}/s: {ratio:.2f}x")
    assert ratio >= RATIO
