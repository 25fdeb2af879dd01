"""Interrupted evaluation: torn results files are repaired, killed runs resume exactly.

A run killed at any point loses at most the line being written: the next run repairs the torn
tail, skips every episode already recorded, and ends with each episode exactly once and the
same scores as a run never interrupted. Tested on files torn by hand (every kind of tail a kill
or a crash leaves) and on real `rlog eval` processes killed with SIGKILL at seeded random
points; one process at a time may write a run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlog_env.agents.base import FunctionAgent
from rlog_env.leaderboard.results import RESULTS, RunInUse, episode_key, read_results, repair
from rlog_env.leaderboard.runner import evaluate

REPO = Path(__file__).resolve().parents[2]
ENVS = ["RLog/AnomalyDetection-v0", "RLog/LogParsing-v0"]
# Non-ASCII in every record, so a cut can fall inside a UTF-8 character.
ANSWER = "<think>journal système ✓ — routine</think><answer>normal</answer>"


def utf8_agent() -> FunctionAgent:
    return FunctionAgent(lambda prompt: ANSWER, name="utf8")


def run_eval(run_dir: Path):
    return evaluate([utf8_agent()], ENVS, episodes=4, run_dir=run_dir, batch_size=3, fit=False)


def scores(run_dir: Path) -> dict:
    """Each episode's answer and reward, by episode key (the latency aside)."""
    out = {}
    for record in read_results(run_dir):
        key = episode_key(record)
        assert key not in out
        out[key] = (record["answer"], record["parsed_answer"], record["reward"], record["metrics"])
    return out


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Path:
    """An uninterrupted run: 2 environments x 4 episodes."""
    run = tmp_path_factory.mktemp("whole") / "run"
    run_eval(run)
    return run


def _lines(run: Path) -> list[bytes]:
    return (run / RESULTS).read_bytes().splitlines(keepends=True)


def _cut_inside_a_character(line: bytes) -> bytes:
    at = line.index("è".encode()) + 1  # the first byte of a two-byte character
    return line[:at]


# tail after `kept` complete lines -> what a kill or a crash leaves
TAILS = {
    "torn last line": (5, lambda lines: lines[5][: len(lines[5]) // 2]),
    "cut inside a UTF-8 character": (3, lambda lines: _cut_inside_a_character(lines[3])),
    "a whole record without its newline": (6, lambda lines: lines[6].rstrip(b"\n")),
    "only a torn line, nothing before it": (0, lambda lines: lines[0][:40]),
    "NUL bytes a crashed file system left": (4, lambda lines: b"\0" * 4096),
    "garbage bytes, not UTF-8": (2, lambda lines: b"\xff\xfe\x80garbage{\"agent"),
    "empty file": (0, lambda lines: b""),
}


@pytest.mark.parametrize("case", list(TAILS))
def test_a_torn_results_file_is_repaired_and_the_run_completes(case, whole, tmp_path):
    kept, tail = TAILS[case]
    lines = _lines(whole)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(whole / "config.json", run / "config.json")
    torn = tail(lines)
    (run / RESULTS).write_bytes(b"".join(lines[:kept]) + torn)

    assert len(list(read_results(run))) == kept  # the torn tail is not an episode, nor an error
    frame = run_eval(run)  # resumes: repairs the tail, redoes what is missing
    assert len(frame) == len(lines) == 8
    assert scores(run) == scores(whole)  # nothing lost, nothing twice, the same scores
    data = (run / RESULTS).read_bytes()
    assert data.endswith(b"\n") and data.startswith(b"".join(lines[:kept]))
    assert repair(run) == 0


def test_repair_removes_exactly_the_torn_tail(whole, tmp_path):
    lines = _lines(whole)
    for kept, tail in TAILS.values():
        torn = tail(lines)
        (tmp_path / RESULTS).write_bytes(b"".join(lines[:kept]) + torn)
        assert repair(tmp_path) == len(torn)
        assert (tmp_path / RESULTS).read_bytes() == b"".join(lines[:kept])
    # a tail longer than the backwards-reading chunk (64 KiB) is found whole
    (tmp_path / RESULTS).write_bytes(lines[0] + b"x" * 200_000)
    assert repair(tmp_path) == 200_000 and (tmp_path / RESULTS).read_bytes() == lines[0]
    assert repair(tmp_path / "nothing-here") == 0


@pytest.mark.parametrize("problem, make", [
    ("a torn line followed by complete ones", lambda lines: lines[0][:30] + lines[1] + lines[2]),
    ("a garbage line in the middle", lambda lines: lines[0] + b"\0\0\0\n" + lines[1]),
    ("a line that is not UTF-8", lambda lines: lines[0] + b"\xff\xfe\n" + lines[1]),
])
def test_damage_before_the_last_line_is_an_error_naming_the_line(problem, make, whole, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(whole / "config.json", run / "config.json")
    data = make(_lines(whole))
    (run / RESULTS).write_bytes(data)
    line = 1 if problem.startswith("a torn") else 2
    with pytest.raises(ValueError, match=rf"results\.jsonl, line {line}: .*expected one JSON episode record"):
        list(read_results(run))
    with pytest.raises(ValueError, match=rf"line {line}"):
        run_eval(run)  # a resume refuses too: nothing is skipped or redone behind the user's back
    assert (run / RESULTS).read_bytes() == data  # and nothing was changed


AGENT_MODULE = '''
"""A deterministic, slightly slow agent for the kill tests (no fit: nothing to build)."""
import os
import time
import zlib


class Agent:
    name = "killable"
    reasoning = "think-first"

    def __init__(self):
        self.calls = 0

    def act(self, observations):
        self.calls += 1
        hold = os.environ.get("RLOG_TEST_HOLD")
        while hold and self.calls > 2 and os.path.exists(hold):  # held open for the lock test
            time.sleep(0.01)
        time.sleep(0.004 * len(observations))
        return [self.answer(o.prompt) for o in observations]

    @staticmethod
    def answer(prompt):
        label = "abnormal" if zlib.crc32(prompt.encode()) % 3 == 0 else "normal"
        return f"<think>journal système ✓ {len(prompt)}</think><answer>{label}</answer>"
'''
EPISODES = 40
TOTAL = EPISODES * len(ENVS)


def _eval_argv(run: Path) -> list[str]:
    return [sys.executable, "-m", "rlog_env.cli", "eval", "--agents", "python:killable_agent:Agent",
            "--envs", *ENVS, "--episodes", str(EPISODES), "--batch-size", "4", "--run-dir", str(run), "--json"]


@pytest.fixture
def agent_path(tmp_path, monkeypatch) -> dict[str, str]:
    """The agent module on the path of this process and of the `rlog eval` processes."""
    folder = tmp_path / "agents"
    folder.mkdir()
    (folder / "killable_agent.py").write_text(AGENT_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "killable_agent", raising=False)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(REPO)])}


def _complete_lines(run: Path) -> int:
    path = run / RESULTS
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _kill_when(process: subprocess.Popen, ready, extra: float) -> None:
    deadline = time.monotonic() + 60
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(extra)
    assert process.poll() is None, "the run ended before its kill point"
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


def test_rlog_eval_killed_five_times_at_random_points_resumes_exactly(agent_path, tmp_path):
    rng = random.Random(20240608)
    run = tmp_path / "run"
    kills = []
    # 1: a random moment from the start (often before the first episode: imports, config.json)
    process = subprocess.Popen(_eval_argv(run), env=agent_path, stdout=subprocess.DEVNULL)
    began = time.monotonic()
    _kill_when(process, lambda: time.monotonic() - began > 0, rng.uniform(0.05, 0.6))
    kills.append(_complete_lines(run))
    # 2-5: at a random number of recorded episodes, then a random few milliseconds more
    for _ in range(4):
        done = _complete_lines(run)
        target = rng.randint(done + 1, done + (TOTAL - 16 - done) // 2)
        process = subprocess.Popen(_eval_argv(run), env=agent_path, stdout=subprocess.DEVNULL)
        _kill_when(process, lambda: _complete_lines(run) >= target, rng.uniform(0, 0.012))
        kills.append(_complete_lines(run))
        assert len(list(read_results(run))) <= TOTAL
    assert kills == sorted(kills) and kills[-1] < TOTAL  # progress was kept, the run not finished

    finished = subprocess.run(_eval_argv(run), env=agent_path, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    board = json.loads(finished.stdout)["leaderboard"]

    whole = tmp_path / "whole"
    frame = evaluate(["python:killable_agent:Agent"], ENVS, episodes=EPISODES, run_dir=whole, batch_size=4)
    expected = {(r.agent, r.env, r.index) for r in frame.itertuples()}
    keys = [episode_key(r) for r in read_results(run)]
    assert len(keys) == TOTAL and set(keys) == expected  # every episode exactly once
    assert scores(run) == scores(whole)  # the same answers and scores as a run never interrupted
    from rlog_env.leaderboard.tables import leaderboard
    rewards = {t: c["reward"] for t, c in leaderboard(frame)["rows"][0]["tasks"].items()}
    assert {t: c["reward"] for t, c in board["rows"][0]["tasks"].items()} == rewards
    print(f"\ncomplete records after each of the 5 kills: {kills} of {TOTAL}")


def test_one_process_at_a_time_writes_a_run_and_a_kill_releases_it(agent_path, tmp_path):
    run, hold = tmp_path / "run", tmp_path / "hold"
    hold.touch()
    process = subprocess.Popen(_eval_argv(run), env={**agent_path, "RLOG_TEST_HOLD": str(hold)},
                               stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _complete_lines(run) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        before = (run / RESULTS).read_bytes()
        with pytest.raises(RunInUse, match="being written by another process"):
            evaluate(["python:killable_agent:Agent"], ENVS, episodes=EPISODES, run_dir=run, batch_size=4)
        assert (run / RESULTS).read_bytes() == before  # the second process changed nothing
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    hold.unlink()
    # The kernel released the lock with the killed process: the run resumes and completes.
    frame = evaluate(["python:killable_agent:Agent"], ENVS, episodes=EPISODES, run_dir=run, batch_size=4)
    assert len(frame) == TOTAL and len({(r.env, r.index) for r in frame.itertuples()}) == TOTAL
