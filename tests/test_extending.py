"""Adding a task and a source from outside the package, exactly as CONTRIBUTING.md says.

The toy task ("the level of the last line") is of a kind no built-in task has, and its source
is a small in-memory data set. Both are registered through the public functions only; every
check then reads what it expects from the task (no table keyed by its name), and the module's
fixture removes them again, so the rest of the suite never sees them.
"""

from __future__ import annotations

import re
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from conformance import (check_index_walk, check_reference_tops, check_same_seed_same_episode,
                         check_top_bottom_and_range)
from rlog_env.datasets import SOURCES, SourceSpec, content_split, finite_source, registered_source
from rlog_env.envs import (ENVIRONMENTS, default_env_ids, register_environment, registered_environment,
                           unregister_environment)
from rlog_env.tasks import TASKS, Judgement, Sample, Task, registered_task

# -- step 1: the task, one module: everything true of it is declared here --------------------

LEVEL = "level"  # the task's kind: a new one (the built-in kinds are label, template, text)
LEVELS = ("INFO", "WARN", "ERROR")


@dataclass(frozen=True)
class LastLineLevel(Task):
    """Answer the level of the last log line: INFO, WARN or ERROR."""

    name: ClassVar[str] = "last_line_level"
    kind: ClassVar[str] = LEVEL
    env_id: ClassVar[str] = "RLog/LastLineLevel-v0"
    title: ClassVar[str] = "Last line level"
    default_source: ClassVar[str] = "toylines"
    default_instruction: ClassVar[str] = "Give the level of the last line of the following logs."
    answer_rule: ClassVar[str] = "The answer is one word: INFO, WARN or ERROR."
    rlog_answer_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)
    answer_noun: ClassVar[str] = "level"
    summary: ClassVar[str] = "the level of the last line"
    manual_description: ClassVar[str] = "The agent sees a few log lines and answers the level of the last."
    manual_reward: ClassVar[str] = "``rlog``: format +0.1 or -1.0; answer +1.0 when right, else -1.0."

    def judge(self, answer: str, reference: str, logs: str, facts=None) -> Judgement:
        correct = answer.strip().upper() == reference
        return Judgement(rlog=1.0 if correct else -1.0, unit=1.0 if correct else 0.0,
                         metrics={"correct": correct})


# -- step 2: the source: what it serves, how to open it ---------------------------------------

_MESSAGES = ("service started", "disk usage at {n} percent", "request {n} timed out",
             "connection from 10.0.0.{n} accepted", "worker {n} crashed", "cache flushed")


def _toy_samples(task: str) -> list[Sample]:
    samples = []
    for i in range(60):
        lines = [f"2024-01-01 00:00:{s:02d} {LEVELS[(i + s) % 3]} app: "
                 + _MESSAGES[(i * 7 + s) % len(_MESSAGES)].format(n=i * 3 + s) for s in range(3)]
        logs = "\n".join(lines)
        split = content_split(logs)
        samples.append(Sample(task=task, domain="toy", logs=logs, reference=LEVELS[(i + 2) % 3],
                              meta={"source": "toylines", "split": split, "id": f"toylines/{i}"}))
    return samples


def open_toy(root, task: str, split: str, domains, options: dict):
    return finite_source("toylines", task, split, _toy_samples(task), domains, ("toy",))


TOY_SOURCE = SourceSpec("toylines", (LastLineLevel.name,), open_toy, needs_data=False,
                        description="toy log windows (tests)")


# -- step 3: register both, and the environment -----------------------------------------------

@pytest.fixture(scope="module")
def toy():
    before = (dict(TASKS), dict(SOURCES), dict(ENVIRONMENTS), set(gym.registry))
    with ExitStack() as stack:
        stack.enter_context(registered_task(LastLineLevel))
        stack.enter_context(registered_source(TOY_SOURCE))
        stack.enter_context(registered_environment(LastLineLevel.name))
        yield LastLineLevel
    # the registries are as they were: the rest of the suite never sees the toy task
    assert (dict(TASKS), dict(SOURCES), dict(ENVIRONMENTS), set(gym.registry)) == before


def _walk(base):
    return range(len(base))


def test_make_and_check_env(toy):
    env = gym.make(toy.env_id)
    assert env.unwrapped.source_name == "toylines"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    # the manual is generated from the task and the source that serves it
    doc = type(env.unwrapped).__doc__
    assert doc.startswith("Last line level: the level of the last line")
    assert "toylines" in doc and "The agent sees a few log lines" in doc


@pytest.mark.parametrize("reasoning", ("think-first", "answer-first", "none"))
@pytest.mark.parametrize("reward", ("rlog", "unit", "hardened"))
def test_conformance_matrix(toy, reasoning, reward):
    def make(split: str = "train"):
        return gym.make(toy.env_id, split=split, reasoning=reasoning, reward=reward)

    for split in ("train", "test"):
        env = make(split)
        check_reference_tops(env, _walk(env.unwrapped))
        check_top_bottom_and_range(env, _walk(env.unwrapped))
    check_same_seed_same_episode(make)
    ids = check_index_walk(make, _walk)
    assert ids["train"] | ids["test"] == {s.meta["id"] for s in _toy_samples(toy.name)}


def test_joins_the_default_environments_unless_opt_in(toy):
    assert toy.env_id in default_env_ids()
    assert set(default_env_ids()) >= {t.env_id for n, t in TASKS.items() if n != toy.name}
    unregister_environment(toy.env_id)
    try:
        with registered_environment(toy.name, opt_in=True):
            assert toy.env_id in ENVIRONMENTS and toy.env_id not in default_env_ids()
    finally:
        register_environment(toy.name)


def test_a_default_source_that_does_not_serve_the_task_is_refused(toy):
    @dataclass(frozen=True)
    class Orphan(LastLineLevel):
        name: ClassVar[str] = "orphan_level"
        env_id: ClassVar[str] = "RLog/OrphanLevel-v0"
        default_source: ClassVar[str] = "sim"

    with registered_task(Orphan):
        with pytest.raises(ValueError, match="default_source='sim', which does not serve it"):
            with registered_environment(Orphan.name):
                pass
    assert "RLog/OrphanLevel-v0" not in gym.registry


def _last_level(prompt: str) -> str:
    return re.findall(r"\b(INFO|WARN|ERROR)\b", prompt.rsplit("Logs:", 1)[1])[-1]


def _toy_agent(prompt: str) -> str:
    return f"<think>The last line's level field.</think><answer>{_last_level(prompt)}</answer>"


def test_runner_evaluates_it_and_the_leaderboard_shows_its_own_metric(toy, tmp_path):
    from rlog_env.leaderboard import tables
    from rlog_env.leaderboard.results import read_results
    from rlog_env.leaderboard.runner import rescore, run

    run_dir = run([_toy_agent], envs=[toy.env_id], source="toylines", run_dir=tmp_path / "run")
    records = list(read_results(run_dir))
    assert len(records) == len(gym.make(toy.env_id, split="test").unwrapped)
    assert all(r["reward"]["total"] == pytest.approx(1.1) for r in records)
    assert rescore(run_dir) == []
    board = tables.leaderboard(records)
    text = tables.markdown(board)
    assert "LastLineLevel" in text
    assert "BLEU" not in text and "ROUGE" not in text
    assert "correct" in text


def test_heuristic_says_it_has_no_baseline_for_the_kind(toy):
    from rlog_env.agents.base import Observation
    from rlog_env.agents.registry import make_agent

    env = gym.make(toy.env_id, split="test")
    observation = Observation.from_reset(*env.reset(options={"index": 0}))
    with pytest.raises(ValueError, match=r"no baseline for task 'last_line_level' of kind 'level'.*"
                                         r"register_baseline\('level', factory\)"):
        make_agent("heuristic").act([observation])


def test_rlog_data_reasoning_says_it_has_no_grounding_for_the_kind(toy, tmp_path, capsys):
    from rlog_env.cli import main

    status = main(["data", "reasoning", "--source", "toylines", "--tasks", toy.name,
                   "--out", str(tmp_path / "out"), "--episodes", "5"])
    assert status == 2
    error = capsys.readouterr().err
    assert "no trajectory grounding for kind 'level' of task 'last_line_level'" in error
    assert "register_grounding" in error
    assert not (tmp_path / "out" / "trajectories.jsonl").exists()
