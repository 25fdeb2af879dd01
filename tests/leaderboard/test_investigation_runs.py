"""Investigations through the runner: `rlog eval --envs <investigation ids>` records every turn,
its leaderboard shows the investigation metrics, `rlog rescore` replays the transcripts (and
catches an edited tool output), and a run killed with SIGKILL resumes to every episode once,
as an uninterrupted run records them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlog_env import cli
from rlog_env.leaderboard import runner
from rlog_env.leaderboard.results import RESULTS, episode_key, read_results
from rlog_env.leaderboard.runner import default_agents, rescore, run, with_trivial_baselines
from rlog_env.leaderboard.tables import leaderboard, markdown
from rlog_env.tasks import INVESTIGATIONS

REPO = Path(__file__).resolve().parents[2]
IDS = [cls.env_id for cls in INVESTIGATIONS.values()]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished run of the three investigation baselines, 6 episodes of each environment."""
    runner_fit = runner.FIT_INCIDENTS
    runner.FIT_INCIDENTS = 80  # the scripted investigator fits faster; it still learns enough
    try:
        return run(list(default_agents(IDS)), IDS, episodes=6, run_dir=tmp_path_factory.mktemp("runs") / "run")
    finally:
        runner.FIT_INCIDENTS = runner_fit


def test_every_turn_is_recorded(finished):
    records = list(read_results(finished))
    assert len(records) == 3 * 3 * 6
    assert {r["agent"] for r in records} == {"scripted-investigator", "answer-now", "random-tools"}
    for record in records:
        turns = record["turns"] if "turns" in record else None
        if record["agent"] == "answer-now":  # one step: a one-step record, no transcript
            assert turns is None and record["reward"]["total"] in (0.1, 1.1)
            continue
        assert turns and turns[-1]["completion"] == record["answer"]
        assert record["return"] == pytest.approx(sum(t["reward"] for t in turns))
        assert turns[-1]["reward"] == record["reward"]["total"]
        for turn in turns[:-1]:
            assert "<tool_call>" in turn["completion"] and turn["tool_calls"]
            assert len(turn["tool_outputs"]) == len(turn["tool_calls"])
        if record["agent"] == "random-tools":  # never answers: truncated at turn max_steps (12)
            assert len(turns) == 12 and record["parsed_answer"] is None


def test_the_leaderboard_of_investigations(finished):
    board = leaderboard(read_results(finished))
    assert board["tasks"] == ["IncidentDetection", "FaultLocalization", "RootCauseInvestigation"]
    rows = {row["agent"]: row["tasks"] for row in board["rows"]}
    cell = rows["scripted-investigator"]["RootCauseInvestigation"]
    assert {"correct", "score", "category", "component", "onset", "cause", "turns", "tool_calls",
            "observation_chars", "seconds"} <= set(cell["metrics"]) and "score" in cell["metrics_ci"]
    assert cell["metrics"]["seconds"] > 0 and sum(n for _, n in cell["by_category"].values()) == 6
    records = [r for r in read_results(finished) if r["agent"] == "scripted-investigator" and r["env"] == IDS[2]]
    for category, (mean, count) in cell["by_category"].items():
        returns = [r.get("return", r["reward"]["total"]) for r in records if r["category"] == category]
        assert count == len(returns) and mean == pytest.approx(sum(returns) / len(returns))
    assert "**RootCauseInvestigation by fault category (mean return; episodes)**" in markdown(board)
    for task in board["tasks"]:  # the scripted investigator above both trivial ones
        assert rows["scripted-investigator"][task]["reward"] > rows["answer-now"][task]["reward"]
        assert rows["answer-now"][task]["reward"] > rows["random-tools"][task]["reward"]
        assert rows["random-tools"][task]["reward"] == pytest.approx(-2.11)  # 11 tool turns, truncated


def test_rescore_replays_the_transcripts(finished, tmp_path):
    assert rescore(finished) == []
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "config.json").write_bytes((finished / "config.json").read_bytes())
    lines = (finished / RESULTS).read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["turns"][0]["tool_outputs"][0] = record["turns"][0]["tool_outputs"][0].replace("1", "7", 1)
    lines[0] = json.dumps(record, ensure_ascii=False)
    (edited / RESULTS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    differences = rescore(edited)
    assert len(differences) == 1 and differences[0]["turn"] == 0 and differences[0]["index"] == record["index"]


def test_rlog_eval_with_investigation_envs_runs_their_baselines(capsys, tmp_path):
    code = cli.main(["eval", "--envs", IDS[0], "--episodes", "2", "--agents", "random-tools",
                     "--run-dir", str(tmp_path / "run")])
    out = capsys.readouterr().out
    assert code == 0 and "| answer-now |" in out and "**IncidentDetection**" in out and "correct" in out
    assert {r["agent"] for r in read_results(tmp_path / "run")} == {"random-tools", "answer-now"}  # trivial beside
    assert with_trivial_baselines(["mine"], IDS) == ["mine", "answer-now", "random-tools"]
    assert with_trivial_baselines(["mine"], ["RLog/LogParsing-v0"]) == ["mine"]
    assert default_agents(IDS) == ("scripted-investigator", "answer-now", "random-tools")
    assert default_agents(None)[0] == "heuristic" and default_agents([IDS[0], "RLog/LogParsing-v0"])[0] == "heuristic"


def _argv(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "rlog_env.cli", "eval", "--envs", *IDS, "--agents", "answer-now", "random-tools",
            "--episodes", "5", "--batch-size", "2", "--run-dir", str(run_dir), "--json"]


def _lines(run_dir: Path) -> int:
    path = run_dir / RESULTS
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _kill_at(argv, run_dir: Path, lines: int) -> None:
    process = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _lines(run_dir) < lines and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert process.poll() is None, "the run ended before its kill point"
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


def _scores(run_dir: Path) -> dict:
    return {episode_key(r): (r["reward"], r.get("return"), [t.get("tool_outputs") for t in r.get("turns", [])])
            for r in read_results(run_dir)}


def test_a_killed_investigation_run_resumes_exactly(tmp_path):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    for target in (4, 13, 22):  # in the middle of the first, second and third environment
        _kill_at(_argv(killed), killed, target)
    finished = subprocess.run(_argv(killed), env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                              text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    subprocess.run(_argv(whole), env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, check=True,
                   timeout=300)
    keys = [episode_key(r) for r in read_results(killed)]
    assert len(keys) == len(set(keys)) == 3 * 2 * 5  # every episode exactly once
    assert _scores(killed) == _scores(whole) and rescore(killed) == []


def test_rlog_show_prints_a_recorded_investigation_turn_by_turn(finished, capsys):
    code = cli.main(["show", IDS[2], "--run", str(finished), "--index", "1", "--agent", "scripted-investigator"])
    out = capsys.readouterr().out
    record = next(r for r in read_results(finished)
                  if r["env"] == IDS[2] and r["index"] == 1 and r["agent"] == "scripted-investigator")
    assert code == 0 and out.count("turn ") >= len(record["turns"]) and "tool list_components {}" in out
    assert "templates of " in out and f"return {record['return']:.4f}" in out
    code = cli.main(["show", IDS[2], "--run", str(finished), "--index", "1", "--agent", "scripted-investigator",
                     "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out) == record
    assert cli.main(["show", IDS[2], "--run", str(finished), "--index", "99"]) == 2
    assert "records no episode 99" in capsys.readouterr().err
    assert cli.main(["show", IDS[0], "--split", "test", "--index", "0"]) == 0
    out = capsys.readouterr().out
    assert "Alert:" in out and "what the reference scores" in out and "1.1000" in out
