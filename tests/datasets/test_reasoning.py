"""Reasoning trajectories: grounded, top-scoring, long enough, deterministic; teacher
rejection sampling; the data set writer and ``rlog data reasoning``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rlog_env import cli
from rlog_env.datasets import load_source
from rlog_env.datasets.reasoning import (
    Trajectory, build_trajectories, build_trajectory, variable_tokens, write_reasoning_dataset,
)
from rlog_env.tasks import TASKS, get_task

REPO_ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("think-first", "answer-first")
N = 25


def _words(text: str) -> int:
    return len(text.split())


def _check(trajectories, samples, max_words: int | None = 150, twice: bool = True):
    for t, s in zip(trajectories, samples):
        assert t.answer == s.reference and t.origin == "rule"
        assert _words(t.reasoning) >= 40
        if twice:
            assert _words(t.reasoning) >= 2 * _words(t.answer), (t.id, t.reasoning)
        if max_words is not None:
            assert _words(t.reasoning) <= max(max_words, 2 * _words(t.answer)) + 20, t.id
        for fmt in FORMATS:
            task = get_task(s.task, fmt)
            top = task.reward_for(task.reference_completion(s), s).total
            assert task.reward_for(t.completion(fmt), s).total == pytest.approx(top), (t.id, fmt)
        assert t.completion("none") == t.answer


@pytest.mark.parametrize("domains", ["seen", "unseen"])
@pytest.mark.parametrize("task", list(TASKS))
def test_sim_trajectories_earn_the_top_reward(task, domains):
    source = load_source("sim", task, domains=domains)
    samples = [source[i] for i in range(N)]
    _check(build_trajectories(samples, seed=3), samples)


def test_sim_line_level_anomaly_detection():
    source = load_source("sim", "anomaly_detection", granularity="line")
    samples = [source[i] for i in range(N)]
    _check(build_trajectories(samples), samples)


REAL = [("loghub", "log_parsing"), ("loghub", "anomaly_detection"), ("loglm", "log_parsing"),
        ("loglm", "anomaly_detection"), ("hdfs", "anomaly_detection"),
        ("loglm", "log_interpretation"), ("loglm", "root_cause_analysis"),
        ("loglm", "solution_recommendation")]


@pytest.mark.parametrize("source_name, task", REAL)
@pytest.mark.parametrize("split", ["train", "test"])
def test_real_trajectories_earn_the_top_reward(source_name, task, split, data_dir):
    try:
        source = load_source(source_name, task, split=split, data_dir=data_dir)
    except FileNotFoundError as exc:
        pytest.skip(f"{source_name} not in the data directory: {exc}")
    samples = list(source.samples[:60])
    trajectories = build_trajectories(samples)
    if task == "solution_recommendation":
        # LogLM's fixes run to 260 words: a few one-line logs cannot ground twice that much.
        _check(trajectories, samples, max_words=None, twice=False)
        twice = sum(_words(t.reasoning) >= 2 * _words(t.answer) for t in trajectories)
        assert twice >= 0.9 * len(trajectories)
    else:
        _check(trajectories, samples, max_words=None if task in ("log_interpretation", "root_cause_analysis") else 150)


def _quotes(text: str) -> list[str]:
    return re.findall(r"“([^”]+)”", text)


def test_sim_parsing_names_the_variable_tokens():
    source = load_source("sim", "log_parsing")
    checked = 0
    for i in range(40):
        s = source[i]
        values = variable_tokens(s.logs, s.reference)
        t = build_trajectory(s)
        # The trajectory names the first eight values and counts the rest ("and 4 more").
        for v in values[:8]:
            assert f"`{v}`" in t.reasoning
        if len(values) > 8:
            assert f" and {len(values) - 8} more;" in t.reasoning
        checked += bool(values)
        assert t.reasoning.endswith(s.reference)
    assert checked >= 20


def test_variable_tokens_and_kinds():
    values = variable_tokens("Received block blk_-562725280853087685 of size 67108864 from /10.251.91.84",
                             "Received block blk_<*> of size <*> from /<*>")
    assert values == ["-562725280853087685", "67108864", "10.251.91.84"]


def test_sim_anomaly_detection_quotes_an_abnormal_line():
    source = load_source("sim", "anomaly_detection")
    abnormal = 0
    for i in range(40):
        s = source[i]
        t = build_trajectory(s)
        before = t.reasoning.rsplit("So ", 1)[0]
        assert s.reference not in before.split() and "abnormal" not in before  # label only at the end
        if s.reference == "abnormal":
            abnormal += 1
            bad_lines = [ln for ln, lab in zip(s.logs.split("\n"), s.facts["line_labels"]) if lab == "abnormal"]
            assert any(q in ln for q in _quotes(t.reasoning) for ln in bad_lines), t.reasoning
    assert abnormal >= 10


def test_sim_root_cause_mentions_a_key_fact():
    source = load_source("sim", "root_cause_analysis")
    for i in range(30):
        s = source[i]
        t = build_trajectory(s)
        assert any(phrase.lower() in t.reasoning.lower() for fact in s.facts["key_facts"] for phrase in fact)


def test_strategy_choice_is_seeded_per_sample():
    source = load_source("sim", "root_cause_analysis")
    samples = [source[i] for i in range(30)]
    a = [t.strategy for t in build_trajectories(samples, seed=1)]
    assert a == [t.strategy for t in build_trajectories(samples, seed=1)]
    assert len(set(a)) == 3
    assert a != [t.strategy for t in build_trajectories(samples, seed=2)]
    t = build_trajectory(samples[0], strategy="root_cause_analysis/procedural")
    assert t.strategy == "root_cause_analysis/procedural"
    with pytest.raises(ValueError, match="strategy expects"):
        build_trajectory(samples[0], strategy="log_parsing/procedural")


def test_same_bytes_in_another_process(tmp_path):
    here = tmp_path / "here"
    write_reasoning_dataset(here, episodes=6, seed=5)
    code = ("import sys; from rlog_env.datasets.reasoning import write_reasoning_dataset; "
            "write_reasoning_dataset(sys.argv[1], episodes=6, seed=5)")
    there = tmp_path / "there"
    subprocess.run([sys.executable, "-c", code, str(there)], check=True, cwd=REPO_ROOT,
                   env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"})
    assert (here / "trajectories.jsonl").read_bytes() == (there / "trajectories.jsonl").read_bytes()
    assert (here / "card.json").read_bytes() == (there / "card.json").read_bytes()


def test_teacher_rejection_sampling_keeps_exactly_the_good_ones():
    source = load_source("sim", "log_interpretation")
    samples = [source[i] for i in range(10)]

    def teacher(batch):
        return [f"<think>The teacher reads the logs of sample {s.meta['index']} carefully.</think>"
                f"<answer>{s.reference}</answer>" if s.meta["index"] % 2 == 0 else "no idea"
                for s in batch]

    out = build_trajectories(samples, teacher=teacher, threshold=0.5)
    assert [t.origin for t in out] == ["teacher" if i % 2 == 0 else "rule" for i in range(10)]
    for t, s in zip(out, samples):
        assert t.answer == s.reference
        if t.origin == "teacher":
            assert t.strategy == "teacher" and "carefully" in t.reasoning
    with pytest.raises(ValueError, match="one completion string per sample"):
        build_trajectories(samples, teacher=lambda batch: ["x"])


def test_record_is_json_safe():
    s = load_source("sim", "root_cause_analysis")[0]
    record = build_trajectory(s).as_record()
    again = json.loads(json.dumps(record))
    assert again["think_first"].startswith("<think>") and again["answer_first"].startswith("<answer>")
    assert Trajectory.__dataclass_params__.frozen


def test_cli_writes_a_dataset_with_a_correct_card(tmp_path, capsys):
    out = tmp_path / "reasoning"
    args = ["data", "reasoning", "--source", "sim", "--tasks", "log_parsing", "root_cause_analysis",
            "--episodes", "7", "--seed", "2", "--out", str(out), "--json"]
    assert cli.main(args) == 0
    card = json.loads(capsys.readouterr().out)
    assert card == json.loads((out / "card.json").read_text())
    records = [json.loads(line) for line in (out / "trajectories.jsonl").read_text().splitlines()]
    assert card["total"] == len(records) == 14
    assert card["per_task"] == {"log_parsing": 7, "root_cause_analysis": 7}
    for key in ("per_strategy", "per_domain", "per_origin"):
        assert sum(card[key].values()) == 14
    assert card["per_origin"] == {"rule": 14}
    assert card["reasoning_words_mean"] > 40 and "licence" in card
    assert "Per strategy" in (out / "README.md").read_text()
    assert cli.main(args) == 0  # an earlier reasoning data set is overwritten
    capsys.readouterr()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert cli.main(["data", "reasoning", "--episodes", "2", "--out", str(foreign)]) == 2
    assert "expects an empty directory" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "mine" and len(list(foreign.iterdir())) == 1


def test_cli_teacher_from_an_agent_spec(tmp_path, capsys):
    out = tmp_path / "teacher"
    assert cli.main(["data", "reasoning", "--tasks", "anomaly_detection", "--episodes", "6",
                     "--out", str(out), "--teacher", "heuristic", "--threshold", "1.0", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert sum(card["per_origin"].values()) == 6 and card["teacher_threshold"] == 1.0


def test_finite_source_takes_at_most_its_length(tmp_path, data_dir):
    card = write_reasoning_dataset(tmp_path / "real", source="loghub", tasks=["anomaly_detection"],
                                   split="test", episodes=10**6, data_dir=data_dir)
    assert card["total"] == len(load_source("loghub", "anomaly_detection", split="test", data_dir=data_dir))
    assert "own licence" in card["licence"]
