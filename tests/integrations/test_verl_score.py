"""VeRL's reward function and prompt set, without VeRL: ``compute_score`` is the environment's
reward for every task, format and scheme; the rows carry what it needs and survive parquet;
bad rows are refused with errors that name the fix; ``import rlog_env`` pulls in no engine.

VeRL itself reads these rows and calls this reward in ``verl/test_with_verl.py`` (VeRL's venv).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from integrations.verl_cases import completions, env_for, env_reward, samples_of

from rlog_env.cli import main
from rlog_env.datasets import sources_for
from rlog_env.datasets.reasoning import build_trajectories, write_reasoning_dataset
from rlog_env.integrations import verl
from rlog_env.integrations.verl import compute_score, data_source, data_sources, row, rows, write_parquet
from rlog_env.tasks import FORMATS, SCHEMES, TASKS, get_task
from rlog_env.training.export import read_trajectories


def score_row(r: dict, completion: str, **verl_keys) -> dict:
    """Call compute_score as VeRL's reward managers do (keywords; VeRL's own extra_info keys)."""
    extra = {**r["extra_info"], "num_turns": None, "rollout_reward_scores": {}, **verl_keys}
    return compute_score(data_source=r["data_source"], solution_str=completion,
                         ground_truth=r["reward_model"]["ground_truth"], extra_info=extra)


# -- compute_score is the environment's reward -------------------------------------------------
@pytest.mark.parametrize("reward", list(SCHEMES))
@pytest.mark.parametrize("reasoning", FORMATS)
@pytest.mark.parametrize("task", list(TASKS))
def test_compute_score_is_the_environments_reward(task, reasoning, reward):
    env = env_for(task, reasoning, reward)
    samples = samples_of(env)
    for index, (sample, r) in enumerate(zip(samples, rows(samples, reasoning, reward))):
        kinds = set()
        for kind, completion in completions(env, sample):
            got = score_row(r, completion)
            assert got == env_reward(env, index, completion), (kind, completion[:200])
            kinds.add((kind.split("-")[0], got["score"]))
        top, bottom = env.unwrapped.task.top_reward(sample), env.unwrapped.task.reward_range[0]
        assert ("reference", top) in kinds and ("garbage", bottom) in kinds


REAL = [(task, source) for task in TASKS for source in sources_for(task) if source != "sim"]


@pytest.mark.parametrize("reward", list(SCHEMES))
@pytest.mark.parametrize("task,source", REAL, ids=[f"{t}-{s}" for t, s in REAL])
def test_compute_score_on_the_real_sources(task, source, reward, data_dir):
    """The real data sets (LogHub, LogLM, HDFS: no key facts) as well as the simulator."""
    try:
        env = env_for(task, "think-first", reward, source=source, data_dir=data_dir)
    except ValueError as error:  # grounded refuses a free-text task on a source without key facts
        pytest.skip(str(error))
    samples = samples_of(env, 3, start=5)
    for offset, (sample, r) in enumerate(zip(samples, rows(samples, "think-first", reward))):
        assert r["extra_info"]["facts"] == "null"
        for kind, completion in completions(env, sample):
            assert score_row(r, completion) == env_reward(env, 5 + offset, completion), kind


def test_compute_score_keeps_no_facts_apart_from_empty_facts():
    """``null`` (no key facts: grounded refuses a text answer) is not ``[]`` (none to state)."""
    env = env_for("root_cause_analysis", "think-first", "grounded")
    sample = samples_of(env, 1)[0]
    r = row(sample, 0, reward="grounded")
    completion = env.unwrapped.task.reference_completion(sample)
    with pytest.raises(ValueError, match="key facts"):
        score_row(r, completion, facts="null")
    empty = score_row(r, completion, facts="[]")
    assert json.loads(empty["metrics"])["facts_total"] == 0


def test_the_keys_are_the_same_for_every_task_and_outcome():
    """VeRL takes a batch's extra reward keys from its first row and reads them on every row."""
    keys = set()
    for task in TASKS:
        env = env_for(task, "think-first", "rlog")
        sample = samples_of(env, 1)[0]
        r = row(sample, 0)
        for _, completion in completions(env, sample):
            keys.add(tuple(score_row(r, completion)))
    assert keys == {("score", "format", "answer", "well_formed", "answer_empty", "metrics")}


def test_compute_score_ignores_verl_keys_and_keywords():
    env = env_for("log_parsing", "think-first", "rlog")
    sample = samples_of(env, 1)[0]
    r = row(sample, 0)
    completion = env.unwrapped.task.reference_completion(sample)
    plain = compute_score(r["data_source"], completion, sample.reference, r["extra_info"])
    assert score_row(r, completion, tools_kwargs={}, index=7) == plain
    assert compute_score(r["data_source"], completion, sample.reference, r["extra_info"],
                         reward_router_address=None, reward_model_tokenizer=None) == plain


# -- the rows ------------------------------------------------------------------------------------
@pytest.mark.parametrize("reasoning", ["think-first", "answer-first"])
def test_rows_are_verls_layout_with_the_environments_prompt(reasoning):
    for task in TASKS:
        env = env_for(task, reasoning, "unit")
        samples = samples_of(env, 3)
        for index, (sample, r) in enumerate(zip(samples, rows(samples, reasoning, "unit"))):
            _, info = env.reset(options={"index": index})
            assert set(r) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
            assert r["data_source"] == TASKS[task].env_id == data_source(task)
            assert r["prompt"] == info["messages"]  # exactly what the environment shows
            assert r["ability"] == verl.ABILITY
            assert r["reward_model"] == {"style": "rule", "ground_truth": sample.reference}
            extra = r["extra_info"]
            assert (extra["task"], extra["reasoning"], extra["reward"], extra["logs"], extra["index"]) == (
                task, reasoning, "unit", sample.logs, index)
            assert extra["domain"] == sample.domain and extra["id"] == str(sample.meta.get("id", ""))
            key_facts = sample.facts.get("key_facts")
            assert json.loads(extra["facts"]) == (None if key_facts is None else [list(f) for f in key_facts])
    assert data_sources() == tuple(cls.env_id for cls in TASKS.values())


def test_trajectory_rows_are_their_samples_rows():
    samples = [samples_of(env_for(t, "think-first", "rlog"), 1)[0] for t in TASKS]
    trajectories = build_trajectories(samples, seed=0)
    for t, s, r in zip(trajectories, samples, rows(trajectories)):
        expected = row(s, r["extra_info"]["index"])
        expected["extra_info"]["id"] = t.id
        assert r == expected


def test_parquet_round_trip_keeps_every_value(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    written = []
    for task in TASKS:
        for reward in SCHEMES:
            env = env_for(task, "answer-first", reward)
            written += rows(samples_of(env, 2), "answer-first", reward)
    path = write_parquet(written, tmp_path / "out" / "train.parquet")
    assert path.is_file() and not list(path.parent.glob("*.tmp"))
    read = pq.read_table(path).to_pylist()
    assert read == written  # nested facts included: they travel as JSON text
    env = env_for("solution_recommendation", "answer-first", "grounded")
    sample = samples_of(env, 1)[0]
    position = next(i for i, w in enumerate(written) if w["extra_info"]["task"] == "solution_recommendation"
                    and w["extra_info"]["reward"] == "grounded")  # its sample is the source's first
    back = read[position]
    for _, completion in completions(env, sample):
        assert score_row(back, completion) == env_reward(env, 0, completion)


def test_rows_refuse_a_scheme_that_cannot_score_the_sample(data_dir):
    env = env_for("root_cause_analysis", "think-first", "rlog", source="loglm", data_dir=data_dir)
    with pytest.raises(ValueError, match="reward='grounded'.*use source='sim'"):
        rows(samples_of(env, 1), reward="grounded")


def test_write_parquet_needs_rows_and_pyarrow(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="at least one row"):
        write_parquet([], tmp_path / "x.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r"rlog_env\[verl\]"):
        write_parquet(rows(samples_of(env_for("log_parsing", "think-first", "rlog"), 1)), tmp_path / "x.parquet")


def test_cli_exports_verl_parquet(tmp_path, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    write_reasoning_dataset(tmp_path / "reasoning", source="sim", episodes=2, seed=0)
    trajectories = read_trajectories(tmp_path / "reasoning")
    out = tmp_path / "verl" / "train.parquet"
    assert main(["data", "export", str(tmp_path / "reasoning"), "--kind", "verl", "--reasoning", "answer-first",
                 "--reward", "hardened", "--out", str(out)]) == 0
    assert f"{len(trajectories)} verl rows in {out}" in capsys.readouterr().out
    read = pq.read_table(out).to_pylist()
    assert read == rows(trajectories, "answer-first", "hardened")
    assert {r["extra_info"]["task"] for r in read} == set(TASKS)
    for r, t in zip(read, trajectories):
        completion = t.completion("answer-first")
        expected = get_task(t.task, "answer-first", "hardened").reward_for(completion, t.sample())
        assert score_row(r, completion)["score"] == expected.total


def test_cli_refuses_a_reward_for_trl_kinds(tmp_path, capsys):
    write_reasoning_dataset(tmp_path / "reasoning", source="sim", tasks=("anomaly_detection",), episodes=1)
    assert main(["data", "export", str(tmp_path / "reasoning"), "--kind", "grpo", "--reward", "unit",
                 "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "--reward applies to --kind verl only" in capsys.readouterr().err


# -- bad input -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def parsing_row():
    env = env_for("log_parsing", "think-first", "rlog")
    return row(samples_of(env, 1)[0], 0)


def test_unknown_data_source_names_the_known_ones(parsing_row):
    with pytest.raises(ValueError, match="RLog/LogParsing-v0.*RLog/SolutionRecommendation-v0.*got 'gsm8k'"):
        compute_score("gsm8k", "<answer>x</answer>", "x", parsing_row["extra_info"])


def test_a_data_source_of_another_task_is_refused(parsing_row):
    with pytest.raises(ValueError, match="expects extra_info\\['task'\\] to be its task, got 'log_parsing'"):
        compute_score("RLog/AnomalyDetection-v0", "<answer>x</answer>", "x", parsing_row["extra_info"])


@pytest.mark.parametrize("extra_info", [None, {}, {"task": "log_parsing"}, ["log_parsing"]])
def test_rows_without_extra_info_name_the_export(extra_info):
    with pytest.raises(ValueError, match="expects extra_info with task, reasoning, reward, logs, facts.*--kind verl"):
        compute_score("RLog/LogParsing-v0", "<answer>x</answer>", "x", extra_info)


@pytest.mark.parametrize("facts", ["{not json", '{"a": 1}', "[1, 2]"])
def test_malformed_facts_are_refused(parsing_row, facts):
    with pytest.raises(ValueError, match="extra_info\\['facts'\\] expects a JSON list"):
        compute_score("RLog/LogParsing-v0", "<answer>x</answer>", "x", {**parsing_row["extra_info"], "facts": facts})


def test_unknown_format_or_scheme_names_the_known_ones(parsing_row):
    with pytest.raises(ValueError, match="think-first"):
        compute_score("RLog/LogParsing-v0", "x", "x", {**parsing_row["extra_info"], "reasoning": "cot"})
    with pytest.raises(ValueError, match="'rlog'"):
        compute_score("RLog/LogParsing-v0", "x", "x", {**parsing_row["extra_info"], "reward": "bleu"})


def test_non_text_arguments_are_type_errors(parsing_row):
    with pytest.raises(TypeError, match="decoded response"):
        compute_score("RLog/LogParsing-v0", [1, 2], "x", parsing_row["extra_info"])
    with pytest.raises(TypeError, match="reference answer"):
        compute_score("RLog/LogParsing-v0", "x", None, parsing_row["extra_info"])
    with pytest.raises(TypeError, match="Sample or a Trajectory"):
        row({"task": "log_parsing"}, 0)


# -- no engine on import -----------------------------------------------------------------------
def test_import_pulls_in_no_engine():
    code = ("import json, sys, rlog_env, rlog_env.integrations.verl, rlog_env.cli; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout))
    assert not loaded & {"verl", "ray", "trl", "torch", "transformers", "pyarrow", "datasets", "vllm",
                         "hydra", "omegaconf"}
