"""The investigations' cold start: transcripts of the scripted investigator (or a teacher, kept by
return), written as TRL's conversational SFT data with tools; the commands that make and export
them; the training config's investigation options."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from rlog_env.agents.baselines.investigators import AnswerNowAgent
from rlog_env.cli import main
from rlog_env.datasets.sim.tools import TOOL_SCHEMAS
from rlog_env.training.config import TrainConfig, trl_options
from rlog_env.training.transcripts import (TRANSCRIPTS, cold_start_transcripts, play_transcripts, read_transcripts,
                                           scripted_investigator, sft_rows, write_transcripts)

ENV = "RLog/FaultLocalization-v0"
KWARGS = {"difficulty": "easy"}


@pytest.fixture(scope="module")
def investigator():
    return scripted_investigator(**KWARGS)


@pytest.fixture(scope="module")
def transcripts(investigator):
    return cold_start_transcripts([ENV], 3, investigator=investigator, **KWARGS)


def test_transcripts_are_the_scripted_investigator_playing_the_environment(transcripts):
    assert [t["index"] for t in transcripts] == [100_000, 100_001, 100_002]
    for t in transcripts:
        assert t["agent"] == "scripted-investigator" and t["terminated"] and t["truncated_by"] is None
        roles = [m["role"] for m in t["messages"]]
        assert roles[:2] == ["system", "user"] and roles[-1] == "assistant" and "tool" in roles
        # The transcript's return is the environment's for its turns, replayed.
        env = gym.make(ENV, **KWARGS)
        env.reset(options={"index": t["index"]})
        total = sum(env.step(m["content"])[1] for m in t["messages"] if m["role"] == "assistant")
        assert total == pytest.approx(t["return"], abs=1e-12)


def test_a_teacher_replaces_a_transcript_only_where_its_return_reaches_the_threshold(transcripts, investigator):
    teacher = AnswerNowAgent()
    taught = cold_start_transcripts([ENV], 3, teacher=teacher, threshold=-100.0, investigator=investigator, **KWARGS)
    assert {t["agent"] for t in taught} == {"answer-now"}
    kept = cold_start_transcripts([ENV], 3, teacher=teacher, threshold=100.0, investigator=investigator, **KWARGS)
    assert [t["agent"] for t in kept] == ["scripted-investigator"] * 3 and kept == transcripts


def test_truncated_episodes_are_not_kept():
    from rlog_env.agents.baselines.investigators import RandomToolsAgent
    records = play_transcripts(RandomToolsAgent(), ENV, [0, 1], max_steps=2, **KWARGS)
    assert [r["truncated_by"] for r in records] == ["max_steps", "max_steps"]
    assert not any(r["terminated"] for r in records)


def test_sft_rows_hold_the_calls_as_the_chat_template_writes_them(transcripts):
    datasets = pytest.importorskip("datasets")
    from rlog_env.training.transcripts import sft_dataset
    rows = sft_rows(transcripts)
    assert json.loads(rows[0]["tools"]) == TOOL_SCHEMAS
    calls = [c for m in rows[0]["messages"] for c in m.get("tool_calls") or ()]
    assert calls and all(isinstance(c["function"]["arguments"], dict) for c in calls)
    assert not any("<tool_call>" in m["content"] for m in rows[0]["messages"] if m["role"] == "assistant")
    # Through a data set, each call keeps exactly its own arguments (no other tool's, as null).
    dataset = sft_dataset(transcripts)
    assert isinstance(dataset, datasets.Dataset)
    for row, stored in zip(rows, dataset):
        want = [c["function"] for m in row["messages"] for c in m.get("tool_calls") or ()]
        got = [c["function"] for m in stored["messages"] for c in m.get("tool_calls") or ()]
        assert got == want


def test_transcripts_round_trip_and_bad_files_are_named(tmp_path, transcripts):
    write_transcripts(transcripts, tmp_path)
    assert read_transcripts(tmp_path) == transcripts
    (tmp_path / TRANSCRIPTS).write_text('{"messages": 3}\n')
    with pytest.raises(ValueError, match=f"{TRANSCRIPTS}:1"):
        read_transcripts(tmp_path)
    with pytest.raises(FileNotFoundError, match="rlog data transcripts"):
        read_transcripts(tmp_path / "none")


def test_the_commands_write_transcripts_sft_rows_and_grpo_rows(tmp_path, capsys):
    out = tmp_path / "transcripts"
    assert main(["data", "transcripts", "--envs", ENV, "--episodes", "2", "--difficulty", "easy",
                 "--out", str(out)]) == 0
    assert "2 of 2 transcripts kept" in capsys.readouterr().out
    assert len(read_transcripts(out)) == 2
    assert main(["data", "export", str(out), "--kind", "sft-investigation", "--out", str(tmp_path / "sft.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and {"messages", "tools"} <= set(rows[0])
    assert main(["data", "export", "--kind", "grpo", "--envs", ENV, "RLog/IncidentDetection-v0", "--episodes", "2",
                 "--difficulty", "easy", "--out", str(tmp_path / "grpo.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "grpo.jsonl").read_text().splitlines()]
    assert [(r["env_id"], r["index"]) for r in rows] == [(ENV, 0), (ENV, 1), ("RLog/IncidentDetection-v0", 0),
                                                          ("RLog/IncidentDetection-v0", 1)]
    assert main(["data", "export", "--kind", "sft-answer", "--envs", ENV, "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "--envs applies to --kind grpo" in capsys.readouterr().err


def test_train_config_takes_investigations_and_refuses_what_would_not_score_alike():
    config = TrainConfig(envs=[ENV])
    assert config.envs == (ENV,)
    with pytest.raises(ValueError, match="investigation environments"):
        TrainConfig(envs=("RLog/AnomalyDetection-v0",))
    with pytest.raises(ValueError, match="target='answer'"):
        TrainConfig(envs=(ENV,), target="answer")
    pytest.importorskip("trl")
    assert trl_options(config, "grpo", "cpu")["max_tool_calling_iterations"] == 11
    assert trl_options(config, "sft", "cpu")["assistant_only_loss"] is True
    with pytest.raises(ValueError, match="max_tool_calling_iterations expects 11"):
        trl_options(TrainConfig(envs=(ENV,), trl={"max_tool_calling_iterations": 3}), "grpo", "cpu")
    assert "max_tool_calling_iterations" not in trl_options(TrainConfig(), "grpo", "cpu")
