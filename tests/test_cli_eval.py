"""`rlog eval`, the package's main job, and the commands around its runs."""

from __future__ import annotations

import json
import time

import pytest

from rlog_env import cli


def test_rlog_eval_with_no_arguments_prints_the_leaderboard(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default run directory is runs/<time> under the cwd
    began = time.perf_counter()
    assert cli.main(["eval"]) == 0
    elapsed = time.perf_counter() - began
    out = capsys.readouterr().out
    assert elapsed < 120, f"rlog eval took {elapsed:.0f} s; the main job must stay under two minutes"
    for name in ("heuristic", "constant-normal", "echo", "empty"):
        assert f"| {name} |" in out
    for task in ("LogParsing", "AnomalyDetection", "LogInterpretation", "RootCauseAnalysis",
                 "SolutionRecommendation"):
        assert task in out
    run = next((tmp_path / "runs").iterdir())
    assert f"run directory: runs/{run.name}" in out
    for name in ("config.json", "results.jsonl", "leaderboard.md", "leaderboard.csv", "leaderboard.json"):
        assert (run / name).exists()
    # the leaderboard of the run, again, and a rescore that reproduces every score
    assert cli.main(["leaderboard", str(run), "--json"]) == 0
    board = json.loads(capsys.readouterr().out)
    rows = {row["agent"]: row for row in board["rows"]}
    for task, cell in rows["heuristic"]["tasks"].items():
        for trivial in ("constant-normal", "echo", "empty"):
            assert cell["reward"] > rows[trivial]["tasks"][task]["reward"], (task, trivial)
    assert cli.main(["rescore", str(run)]) == 0
    assert "every recorded score reproduces" in capsys.readouterr().out


def test_eval_on_a_real_split_and_bad_names(tmp_path, data_dir, capsys):
    run = tmp_path / "run"
    assert cli.main(["eval", "--agents", "constant-normal", "--source", "loglm", "--envs",
                     "RLog/AnomalyDetection-v0", "--data-dir", str(data_dir), "--run-dir", str(run),
                     "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    cell = out["leaderboard"]["rows"][0]["tasks"]["AnomalyDetection"]
    assert cell["episodes"] == 75  # the whole LogLM anomaly test split, each sample once
    assert cli.main(["eval", "--agents", "nobody", "--run-dir", str(tmp_path / "x")]) == 2
    assert "unknown agent 'nobody'" in capsys.readouterr().err
    assert cli.main(["leaderboard", str(tmp_path / "missing")]) == 2


def test_eval_protocol_unseen_reports_seen_unseen_and_absent_systems(tmp_path, data_dir, capsys):
    import shutil

    # A data directory lacking three of the four held-out systems (copies of the real files:
    # a link out of the data directory is refused): Linux and HDFS seen, Thunderbird held out.
    root = tmp_path / "data"
    for system, corrected in (("Linux", "loghub2_2k_corrected"), ("HDFS", "loghub2_2k_corrected"),
                              ("Thunderbird", "loghub2_2k_corrected")):
        for rel in (f"loghub/{system}/{system}_2k.log_structured.csv",
                    f"{corrected}/{system}/{system}_2k.log_structured_corrected.csv"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data_dir / rel, root / rel)
    run = tmp_path / "run"
    args = ["eval", "--source", "loghub", "--protocol", "unseen", "--envs", "RLog/LogParsing-v0",
            "--agents", "heuristic", "--data-dir", str(root), "--run-dir", str(run)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "**Seen vs unseen systems and faults (mean reward)**" in out and "| heuristic | LogParsing |" in out
    assert "absent from the data directory (held out, not evaluated): Android, Windows, Zookeeper" in out
    assert json.loads((run / "config.json").read_text())["absent_domains"] == ["Android", "Windows", "Zookeeper"]
    assert cli.main(args + ["--json"]) == 0  # resumed: nothing left to play
    board = json.loads(capsys.readouterr().out)
    assert board["absent_domains"] == ["Android", "Windows", "Zookeeper"]
    by_domain = board["leaderboard"]["rows"][0]["tasks"]["LogParsing"]["by_domain"]
    assert {"seen", "unseen", "domain:Thunderbird", "domain:Linux", "domain:HDFS"} <= set(by_domain)
    assert cli.main(["rescore", str(run), "--data-dir", str(root)]) == 0
    capsys.readouterr()
    # a source without protocols: the error names the sources that have one
    assert cli.main(["eval", "--protocol", "unseen", "--run-dir", str(tmp_path / "sim")]) == 2
    assert "protocol applies to source(s) loghub; source 'sim' has none" in capsys.readouterr().err


@pytest.mark.parametrize("reasoning", ["answer-first", "none", "think-first"])
def test_eval_reasoning_makes_the_builtin_agents_write_that_format(tmp_path, capsys, reasoning):
    from rlog_env.envs import default_env_ids
    from rlog_env.leaderboard.results import read_header, read_results
    from rlog_env.tasks import get_task

    run = tmp_path / "run"
    assert cli.main(["eval", "--agents", "heuristic", "echo", "--reasoning", reasoning, "--episodes", "10",
                     "--run-dir", str(run)]) == 0
    capsys.readouterr()
    assert read_header(run)["config"]["reasoning"] == reasoning
    records = list(read_results(run))
    assert {r["env"] for r in records} == set(default_env_ids())
    assert len(records) == 2 * 10 * len(default_env_ids())
    for record in records:
        assert record["reasoning"] == reasoning
        parsed = get_task(record["task"], reasoning).parse(record["answer"])
        assert parsed.well_formed and parsed.answer, (record["env"], record["answer"][:120])
        assert record["metrics"]["well_formed"] is True
        if reasoning == "answer-first":
            assert record["answer"].startswith("<answer>")
        elif reasoning == "none":
            assert "<answer>" not in record["answer"] and "<think>" not in record["answer"]
    assert cli.main(["rescore", str(run)]) == 0


SLOW_AGENT = '''
import time


class Agent:
    name = "slow"
    reasoning = "think-first"

    def act(self, observations):
        time.sleep(0.02 * len(observations))
        return ["<think>t</think><answer>normal</answer>" for _ in observations]
'''


def test_progress_reaches_a_file_while_the_run_goes_on(tmp_path):
    """`rlog eval > file`: the run directory first, then progress lines, while it runs."""
    import subprocess
    import sys
    import time as clock

    (tmp_path / "slow_agent.py").write_text(SLOW_AGENT, encoding="utf-8")
    log = tmp_path / "eval.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "rlog_env.cli", "eval", "--agents", "python:slow_agent:Agent", "--envs",
             "RLog/AnomalyDetection-v0", "RLog/LogParsing-v0", "--episodes", "40", "--run-dir", str(tmp_path / "run")],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        deadline = clock.monotonic() + 120
        seen_while_running = False
        while process.poll() is None and clock.monotonic() < deadline:
            if "on RLog/AnomalyDetection-v0 done" in log.read_text():
                seen_while_running = process.poll() is None
                break
            clock.sleep(0.02)
        assert process.wait(timeout=120) == 0
    lines = log.read_text().splitlines()
    assert seen_while_running and lines[0] == f"run directory: {tmp_path / 'run'}"
    assert lines[1].startswith("progress: 0/80 episodes") and any("80/80 episodes (100%)" in line for line in lines)
    assert lines.index(next(line for line in lines if line.startswith("| slow |"))) > 3
