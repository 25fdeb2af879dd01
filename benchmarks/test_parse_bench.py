"""``rlog parse-bench`` speed: every line of every LogHub 2k system in the data directory,
fitted and parsed, per parser (Drain via ``heuristic``, ``subsumption``).

Run: ``RLOG_DATA_DIR=../shared/data pytest benchmarks/test_parse_bench.py --benchmark-only -s``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rlog_env.agents.registry import make_agent
from rlog_env.leaderboard.parse_bench import parse_bench

DATA_DIR = Path(os.environ.get("RLOG_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


@pytest.mark.parametrize("agent", ["heuristic", "subsumption"])
def test_parse_bench_every_system(benchmark, agent):
    """Seconds to fit and parse all systems' 2,000 lines each (distinct messages asked once) and
    score them; the lines per second are printed."""
    if not (DATA_DIR / "loghub").is_dir():
        pytest.skip(f"no LogHub data at {DATA_DIR} (set RLOG_DATA_DIR)")
    result = benchmark.pedantic(lambda: parse_bench([make_agent(agent)], DATA_DIR, "original"),
                                rounds=3, iterations=1)
    assert set(result["agents"][agent]["systems"]) == set(result["systems"])
    if benchmark.stats:  # None under --benchmark-disable (CI's quick mode: one run, no timing)
        lines = 2000 * len(result["systems"])
        print(f"\n{agent}: {lines / benchmark.stats.stats.mean:,.0f} lines/s over {len(result['systems'])} systems, "
              f"mean GA {result['agents'][agent]['mean']['GA']:.3f}")
