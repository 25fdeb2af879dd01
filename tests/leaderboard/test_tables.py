"""Leaderboard tables from what the runner keeps in memory."""

from __future__ import annotations


def test_the_slim_frame_gives_the_same_leaderboard(tmp_path):
    """`rlog eval` keeps only what the leaderboard reads in memory: the board is the same."""
    from rlog_env.leaderboard.results import LEADERBOARD_FIELDS, read_frame
    from rlog_env.leaderboard.runner import evaluate
    from rlog_env.leaderboard.tables import leaderboard

    frame = evaluate(["heuristic", "echo"], source="sim", episodes=6, run_dir=tmp_path / "run")
    slim = read_frame(tmp_path / "run", full=False)
    assert set(slim.columns) == set(LEADERBOARD_FIELDS) and "observation" in frame.columns
    assert leaderboard(slim) == leaderboard(frame)
