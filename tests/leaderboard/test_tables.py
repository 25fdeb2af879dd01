"""The leaderboard from a DataFrame and from streamed records."""

from __future__ import annotations


def test_a_frame_and_the_streamed_records_give_the_same_leaderboard(tmp_path):
    """`evaluate` returns a DataFrame, `rlog eval` streams results.jsonl: one board."""
    from rlog_env.leaderboard.results import read_results
    from rlog_env.leaderboard.runner import evaluate
    from rlog_env.leaderboard.tables import leaderboard

    frame = evaluate(["heuristic", "echo"], source="sim", episodes=6, run_dir=tmp_path / "run")
    assert "observation" in frame.columns and frame.attrs["run_dir"] == str(tmp_path / "run")
    board = leaderboard(frame)
    assert board == leaderboard(read_results(tmp_path / "run"))
    assert [row["agent"] for row in board["rows"]] == ["heuristic", "echo"]
    assert all(cell["episodes"] == 6 for row in board["rows"] for cell in row["tasks"].values())
