"""Environment throughput: episodes per second through ``gymnasium.make`` (reset + step) for
every task and source, one core; what a second ``make`` of a loaded data set costs; what
``import rlog_env`` costs and pulls in; async against sync vector environments.

Run: ``pytest benchmarks/ --benchmark-only`` (figures in ``extra_info["per_second"]``). The
budget tests (no ``benchmark`` fixture) time with ``time.perf_counter``, best of several
rounds, and assert only bounds that hold on a shared CI machine; they print the real figures
(``-s``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest

import rlog_env

ROUNDS = 1000
REPO = Path(__file__).resolve().parents[1]
DATA_DIR = os.environ.get("RLOG_DATA_DIR") or str(REPO.parent / "shared" / "data")
HAS_DATA = Path(DATA_DIR, "MANIFEST.tsv").is_file()
ANSWER = "<think>The logs show the usual traffic.</think><answer>normal</answer>"
# A realistic free-text answer (about 100 words), as a model writes for the text tasks.
TEXT_ANSWER = (
    "<think>The window shows the DataNode repeatedly failing to write blocks; the exception is "
    "raised while receiving a block from a peer, and the retries stop after the volume fills. "
    "Earlier lines are routine allocations, so the failure starts with the first exception.</think>"
    "<answer>The DataNode could not store new blocks because its data volume ran out of free "
    "space: every write after that point failed with an IOException, the client retried on other "
    "nodes and the block was finally replicated elsewhere. Free space on the volume by deleting old "
    "files or running the balancer, check the disk usage alerts, and restart the DataNode so that "
    "it accepts writes again; then verify that under-replicated blocks recover.</answer>"
)

# (env id, source) pairs: every task on the simulator, every real source it has.
CASES = [(env_id, "sim") for env_id in rlog_env.ENV_IDS] + [
    ("RLog/AnomalyDetection-v0", "loghub"), ("RLog/AnomalyDetection-v0", "hdfs"),
    ("RLog/AnomalyDetection-v0", "loglm"), ("RLog/LogParsing-v0", "loghub"),
    ("RLog/LogParsing-v0", "loglm"), ("RLog/LogInterpretation-v0", "loglm"),
    ("RLog/RootCauseAnalysis-v0", "loglm"), ("RLog/SolutionRecommendation-v0", "loglm"),
]
TEXT_IDS = ("RLog/LogInterpretation-v0", "RLog/RootCauseAnalysis-v0", "RLog/SolutionRecommendation-v0")


def _make(env_id: str, source: str) -> gym.Env:
    if source != "sim" and not HAS_DATA:
        pytest.skip(f"no data directory at {DATA_DIR} (set RLOG_DATA_DIR)")
    return gym.make(env_id, source=source, data_dir=None if source == "sim" else DATA_DIR)


@pytest.mark.parametrize("env_id,source", CASES, ids=[f"{e.split('/')[1]}-{s}" for e, s in CASES])
def test_episodes_per_second(benchmark, env_id, source):
    env = _make(env_id, source)
    env.reset(seed=0)
    # The text tasks are stepped with a realistic ~100-word answer: scoring it is their work.
    answer = TEXT_ANSWER if env_id in TEXT_IDS else ANSWER

    def run():
        for _ in range(ROUNDS):
            env.reset()
            env.step(answer)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["per_second"] = ROUNDS / benchmark.stats.stats.mean
        benchmark.extra_info["best_per_second"] = ROUNDS / benchmark.stats.stats.min
        benchmark.extra_info["machine_loop_seconds"] = machine_loop_seconds()


def machine_loop_seconds() -> float:
    """How fast this machine runs Python right now: the best of three runs of a fixed
    3-million-step loop (0.16-0.22 s on the development VM, whose host lends it more or less
    speed from one minute to the next). Recorded beside each episode rate, so that a rate from
    a slow moment is read as such."""
    def loop():
        total = 0
        for i in range(3_000_000):
            total += i * i
        return total
    return round(_best(loop, rounds=3), 3)


# -- budgets that CI can assert ---------------------------------------------------------------

def _best(fn, rounds: int = 7) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.skipif(not HAS_DATA, reason="needs the data directory")
@pytest.mark.parametrize("env_id,source", [("RLog/AnomalyDetection-v0", "loghub"),
                                           ("RLog/AnomalyDetection-v0", "hdfs"),
                                           ("RLog/LogInterpretation-v0", "loglm")])
def test_second_make_of_a_real_source_is_cheap(env_id, source):
    """A real data set is read once per process: the second ``make`` costs well under 1 ms
    (the bound is 5 ms for a loaded CI machine)."""
    gym.make(env_id, source=source, data_dir=DATA_DIR).close()
    second = _best(lambda: gym.make(env_id, source=source, data_dir=DATA_DIR))
    print(f"\nsecond make of {env_id} source={source}: {second * 1e3:.3f} ms")
    assert second < 5e-3


def test_import_pulls_no_heavy_modules():
    """``import rlog_env`` in a fresh process: no torch (nor pandas, rich, transformers)."""
    code = ("import sys, time; t = time.perf_counter(); import rlog_env; "
            "t = time.perf_counter() - t; import json; "
            "print(json.dumps([t, sorted(m for m in ('torch', 'pandas', 'rich', 'transformers', "
            "'datasets', 'trl', 'scipy', 'matplotlib') if m in sys.modules)]))")
    times, heavy = [], None
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=REPO)
        seconds, heavy = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(seconds)
    print(f"\nimport rlog_env: best {min(times):.3f} s of {len(times)}; heavy modules: {heavy}")
    assert heavy == []
    assert min(times) < 3.0  # generous: numpy and gymnasium alone take 0.1-0.4 s


def _episodes_per_second(vec, actions: list, steps: int, rounds: int) -> float:
    """Sub-environment steps a second of a 2-env vector env (best round), then closes it."""
    try:
        vec.reset(seed=0)
        for _ in range(5):
            vec.step(actions)
        best = _best(lambda: [vec.step(actions) for _ in range(steps)], rounds=rounds)
    finally:
        vec.close()
    return 2 * steps / best


def _vector_rate(mode: str, env_id: str, steps: int) -> float:
    vec = gym.make_vec(env_id, num_envs=2, vector_mode=mode)
    return _episodes_per_second(vec, [TEXT_ANSWER, TEXT_ANSWER], steps, rounds=5)


@pytest.mark.parametrize("env_id", TEXT_IDS)
def test_async_vector_env_against_sync(env_id):
    """Two sub-environments in worker processes against the same two in one process, stepping
    with ~100-word answers (the text tasks' realistic scoring work). The speed-up needs two idle
    cores; it is printed, and asserted only not to collapse (a shared CI machine may have one)."""
    steps = 150
    sync = _vector_rate("sync", env_id, steps)
    async_ = _vector_rate("async", env_id, steps)
    print(f"\n{env_id}: sync {sync:.0f} episodes/s, async {async_:.0f} episodes/s, "
          f"ratio {async_ / sync:.2f} (cpu count {os.cpu_count()})")
    assert async_ > 0.5 * sync


class _BusyEnv(gym.Env):
    """A one-step episode whose step spins for ``micros`` µs: work a vector env can run in
    parallel, and nothing else (no observation to pickle, no scoring)."""

    observation_space = gym.spaces.Discrete(1)
    action_space = gym.spaces.Discrete(1)

    def __init__(self, micros: int):
        self.micros = micros

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        end = time.perf_counter() + self.micros * 1e-6
        while time.perf_counter() < end:
            pass
        return 0, 0.0, True, False, {}


def _busy_rate(vector_class, micros: int, steps: int = 100) -> float:
    return _episodes_per_second(vector_class([lambda: _BusyEnv(micros)] * 2), [0, 0], steps, rounds=3)


def test_async_pays_off_only_for_long_steps():
    """Where 2 async workers beat 1 process on this machine: the same do-nothing-but-spin step
    at 0 µs (the cost of the round trip to the workers alone), 250 µs (the simulator's text
    episode is ~400 µs, half of its steps are resets), 1 ms and 4 ms. The ratios are printed for
    BENCHMARKS.md; asserted only that longer steps gain more, which any machine shows."""
    from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv

    ratios = {}
    for micros in (0, 250, 1000, 4000):
        sync, async_ = _busy_rate(SyncVectorEnv, micros), _busy_rate(AsyncVectorEnv, micros)
        ratios[micros] = async_ / sync
        print(f"\nstep of {micros} µs: sync {sync:.0f} steps/s, async {async_:.0f} steps/s, "
              f"ratio {ratios[micros]:.2f}", end="")
    print(f" (cpu count {os.cpu_count()})")
    assert ratios[4000] > ratios[0]
