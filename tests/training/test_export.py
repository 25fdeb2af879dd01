"""Exports in TRL's formats: what each kind holds, and that TRL reads them as it should."""

from __future__ import annotations

import json

import pytest

from rlog_env.datasets import load_source
from rlog_env.datasets.reasoning import Trajectory, build_trajectories, write_reasoning_dataset
from rlog_env.tasks import TASKS, get_task, parse_completion
from rlog_env.tasks.trl_rewards import trl_reward_functions
from rlog_env.training.export import KINDS, read_trajectories, records, write_jsonl


@pytest.fixture(scope="module")
def samples():
    return [load_source("sim", t, split="train", difficulty="easy")[i] for t in TASKS for i in range(3)]


@pytest.fixture(scope="module")
def trajectories(samples):
    return build_trajectories(samples, seed=0)


def test_sft_answer_is_x_to_y(trajectories):
    rows = records(trajectories, "sft-answer")
    for row, t in zip(rows, trajectories):
        assert row["completion"] == [{"role": "assistant", "content": t.reference}]
        # the prompt asks for the plain answer: the `none` format's rules
        sample = load_source("sim", t.task, split="train", difficulty="easy")[int(t.id.rsplit("/", 1)[1])]
        assert row["prompt"] == get_task(t.task, "none").messages(sample)


@pytest.mark.parametrize("fmt", ["think-first", "answer-first"])
def test_sft_reasoning_is_the_trajectory_in_the_format(trajectories, fmt):
    for row, t in zip(records(trajectories, "sft-reasoning", fmt), trajectories):
        completion = row["completion"][0]["content"]
        parsed = parse_completion(completion, fmt)
        assert parsed.well_formed and parsed.answer == t.reference and parsed.think == t.reasoning
        assert "<think>" in row["prompt"][0]["content"]  # the system message states the format
        assert row["strategy"] == t.strategy and row["task"] == t.task


def test_grpo_rows_carry_what_the_rewards_read(samples):
    rows = records(samples, "grpo")
    format_reward, answer_reward = trl_reward_functions(None)
    for row, sample in zip(rows, samples):
        assert set(row) >= {"prompt", "task", "reference", "logs", "facts"}
        assert row["reference"] == sample.reference and row["logs"] == sample.logs
    # the exported columns are exactly what the reward functions need: the reference scores the top
    completions = [get_task(r["task"]).reference_completion(s) for r, s in zip(rows, samples)]
    columns = {k: [r[k] for r in rows] for k in ("task", "reference", "logs", "facts")}
    totals = [f + a for f, a in zip(format_reward(completions=completions, **columns),
                                    answer_reward(completions=completions, **columns))]
    assert totals == [get_task(s.task).reward_for(c, s).total for c, s in zip(completions, samples)]


def test_mixed_task_rewards_need_the_task_column():
    fmt, _ = trl_reward_functions(None)
    with pytest.raises(TypeError, match="'task' column"):
        fmt(completions=["<think>x</think><answer>normal</answer>"], reference=["normal"])
    with pytest.raises(ValueError, match="expects tasks among"):
        fmt(completions=["x"], reference=["normal"], task=["parsing"])
    assert fmt.__name__ == "format"


def test_trl_reads_the_exports_as_its_formats(trajectories, samples):
    pytest.importorskip("trl")
    from trl.data_utils import is_conversational

    from rlog_env.training.export import grpo_dataset, sft_dataset
    sft = sft_dataset(trajectories, "reasoning", "think-first")
    assert set(sft.column_names) >= {"prompt", "completion"} and is_conversational(sft[0])
    grpo = grpo_dataset(samples)
    assert "completion" not in grpo.column_names and is_conversational(grpo[0])
    assert grpo[0]["facts"] == [list(f) for f in samples[0].facts.get("key_facts", ())]


def test_bad_kind_and_wrong_items(samples):
    with pytest.raises(ValueError, match="kind expects one of"):
        records([], "dpo")
    with pytest.raises(TypeError, match="needs trajectories"):
        records(samples[:1], "sft-answer")
    assert KINDS == ("sft-answer", "sft-reasoning", "grpo")


def test_reasoning_dataset_round_trip_and_jsonl(tmp_path):
    write_reasoning_dataset(tmp_path / "r", tasks=("anomaly_detection",), episodes=3, difficulty="easy")
    read = read_trajectories(tmp_path / "r")
    assert len(read) == 3 and all(isinstance(t, Trajectory) for t in read)
    path = write_jsonl(records(read, "sft-reasoning"), tmp_path / "out" / "sft.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 and not list(path.parent.glob("*.tmp"))


def test_a_broken_trajectory_file_names_the_line(tmp_path):
    (tmp_path / "trajectories.jsonl").write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="trajectories.jsonl:1"):
        read_trajectories(tmp_path)
    with pytest.raises(FileNotFoundError, match="rlog data reasoning"):
        read_trajectories(tmp_path / "absent")
