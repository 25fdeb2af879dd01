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


def test_slow_rates_read_as_they_are_and_the_radar_states_its_scale(tmp_path, monkeypatch):
    import matplotlib.axes

    from rlog_env.leaderboard.tables import format_rate, markdown, write

    assert [format_rate(r) for r in (0.045, 1.5, 12.34, 2_544.2, float("inf"))] == ["0.045", "1.5", "12.3",
                                                                                   "2,544", "inf"]
    cell = {"episodes": 9, "reward": 0.1, "reward_ci": [0.0, 0.2], "metrics_ci": {}, "format_valid": 1.0,
            "errors": 0, "episodes_per_s": 0.045, "metrics": {}, "by_domain": {}}
    board = {"rows": [{"agent": "slow", "tasks": {t: dict(cell) for t in ("A", "B", "C")}}], "tasks": ["A", "B", "C"]}
    assert "| 100.0% | 0 | 0.045 |" in markdown(board)  # not "0"
    titles = []
    original = matplotlib.axes.Axes.set_title
    monkeypatch.setattr(matplotlib.axes.Axes, "set_title",
                        lambda self, text, *a, **k: titles.append(text) or original(self, text, *a, **k))
    write(board, tmp_path)
    assert titles and "scale: (reward + 2) / (best + 2)" in titles[0]
