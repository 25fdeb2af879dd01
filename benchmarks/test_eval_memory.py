"""`rlog eval` memory: peak resident memory of a heuristic evaluation at two sizes.

Each size runs in a fresh process (``rlog eval --agents heuristic --split train --episodes N``
on the simulator's endless training stream) that reports its own peak RSS. Run:
``pytest benchmarks/test_eval_memory.py --benchmark-only -s``; ``RLOG_BENCH_EPISODES=1000,100000``
sets the sizes (total episodes over the five environments; default 1,000 and 10,000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

# The peak is read from /proc/self/status (VmHWM: this process image's own high-water mark):
# getrusage's ru_maxrss would also count the parent's pages at the fork that started it (a
# pytest process that loaded a model can be gigabytes).
SCRIPT = """
import json, resource, sys, time
from rlog_env.cli import main

def peak_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

began = time.perf_counter()
code = main(["eval", "--agents", "heuristic", "--split", "train", "--episodes", sys.argv[1],
             "--run-dir", sys.argv[2], "--json"])
print(json.dumps({"code": code, "peak_mb": peak_mb(), "seconds": time.perf_counter() - began}), file=sys.stderr)
"""


def peak_memory(total_episodes: int, run_dir) -> dict:
    per_env = max(1, total_episodes // 5)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(per_env), str(run_dir)], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stderr.strip().splitlines()[-1])


def test_peak_memory_does_not_follow_the_episode_count(benchmark, tmp_path):
    sizes = [int(n) for n in os.environ.get("RLOG_BENCH_EPISODES", "1000,10000").split(",")]
    small, large = sizes[0], sizes[-1]
    first = peak_memory(small, tmp_path / "small")
    second = benchmark.pedantic(lambda: peak_memory(large, tmp_path / "large"), rounds=1, iterations=1)
    benchmark.extra_info.update({f"peak_mb_{small}": round(first["peak_mb"], 1),
                                 f"peak_mb_{large}": round(second["peak_mb"], 1),
                                 f"seconds_{large}": round(second["seconds"], 1)})
    print(f"\nrlog eval heuristic: {small} episodes {first['peak_mb']:.0f} MB, "
          f"{large} episodes {second['peak_mb']:.0f} MB ({second['seconds']:.0f} s)")
    assert first["code"] == second["code"] == 0
    assert second["peak_mb"] < 1024
    # Nothing is kept per episode: the runner plans ranges and resumes from runs of indices,
    # the leaderboard keeps sums, distinct (answer, reference) pairs and a Poisson bootstrap's
    # per-resample sums, and computes the GA/F1 intervals a bounded number of (pair, resample)
    # cells at a time (rlog_env/leaderboard/metrics.py). What differs between the sizes is
    # bounded caches filling over the first ~20,000 episodes (the scorers' 4,096-entry template
    # analyses, ~5.5 MB full): 120 MB at 1,000 episodes, 128 at 40,000, 127 at 100,000.
    growth_per_episode = (second["peak_mb"] - first["peak_mb"]) * 1024 * 1024 / (large - small)
    benchmark.extra_info["growth_bytes_per_episode"] = round(growth_per_episode)
    limit = 256 if large >= 50_000 else 1024  # at the quick default sizes the caches are still filling
    assert growth_per_episode < limit, f"{growth_per_episode:.0f} bytes per episode"
