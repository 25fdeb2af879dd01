"""Failures in plain sight: `rlog eval` against a server that fails some requests exits non-zero
naming the first error, the leaderboard files count the failures, and the same command after the
server is fixed retries exactly the failed episodes and ends complete (a real loopback server)."""

from __future__ import annotations

import csv
import json
import zlib

from openai_loopback import completion

from rlog_env import cli
from rlog_env.leaderboard.results import RESULTS, read_results

ENV = "RLog/AnomalyDetection-v0"


def flaky(server, body):
    """Refuses (HTTP 400, not retried) a fixed third of the prompts while ``server.broken``."""
    prompt = body["messages"][-1]["content"]
    if getattr(server, "broken", True) and zlib.crc32(prompt.encode()) % 3 == 0:
        return 400, {"error": {"message": "context length exceeded"}}, 0
    return 200, completion("<think>routine</think><answer>normal</answer>"), 0


def test_failed_episodes_are_counted_named_and_retried(serve, tmp_path, capsys):
    server = serve(flaky)
    spec = f"openai:m@{server.base_url}"
    run_dir = tmp_path / "run"
    argv = ["eval", "--agents", spec, "--envs", ENV, "--episodes", "12", "--run-dir", str(run_dir)]
    code = cli.main(argv)
    captured = capsys.readouterr()
    failed = [r for r in read_results(run_dir) if r["error"] is not None]
    assert code == cli.EXIT_EPISODES_FAILED and failed
    assert f"{len(failed)} episode(s) failed" in captured.err and "HTTP 400" in captured.err
    assert f"| {len(failed)} |" in captured.out  # the terminal table's errors column
    board = json.loads((run_dir / "leaderboard.json").read_text())
    assert board["rows"][0]["tasks"]["AnomalyDetection"]["errors"] == len(failed)
    rows = list(csv.reader((run_dir / "leaderboard.csv").open()))
    assert [spec, "AnomalyDetection", "errors", str(len(failed)), "", ""] in rows
    assert f"| {len(failed)} |" in (run_dir / "leaderboard.md").read_text()

    assert cli.main(argv + ["--allow-errors"]) == 0  # retried (failing again), and accepted as it is
    capsys.readouterr()
    server.broken = False
    before = len(server.requests)
    assert cli.main(argv) == 0
    records = list(read_results(run_dir))
    assert len(records) == 12 and all(r["error"] is None for r in records)
    assert len({r["index"] for r in records}) == 12
    # the fixed server saw exactly the failed episodes again: nothing else was redone
    assert len(server.requests) - before == len(failed)
    assert (run_dir / RESULTS).read_text().count("\n") == 12
