"""Real-log incidents: windows of LogHub's BGL log through the investigation environments, the
per-line alert labels as the truth; a broken file is a DataError naming the line; `rlog eval`
runs them like the simulator's."""

from __future__ import annotations

import csv
import shutil
import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import rlog_env  # noqa: F401 - registers the environments
from rlog_env.datasets import DataError
from rlog_env.datasets.base import content_split
from rlog_env.datasets.bgl_incidents import bgl_rows, clear_cache, structured_path
from rlog_env.datasets.incidents import open_incidents
from rlog_env.leaderboard.results import read_results
from rlog_env.leaderboard.runner import rescore, run
from rlog_env.tasks import INVESTIGATIONS

IDS = [cls.env_id for cls in INVESTIGATIONS.values()]


def test_windows_nodes_and_truth_follow_the_file(data_dir):
    rows = list(csv.DictReader(structured_path(data_dir).open(encoding="utf-8")))
    for split in ("train", "test"):
        incidents = open_incidents("loghub", split, data_dir=data_dir)
        kept = [r for r in rows if content_split(r["Node"]) == split]
        assert len(incidents) == (len(kept) - 120) // 20 + 1
        for index in (0, len(incidents) - 1):
            incident = incidents[index]
            window = kept[index * 20:index * 20 + 120]
            assert list(incident.lines.components) == [r["Node"] for r in window]
            assert list(incident.truth.line_labels) == [r["Label"] != "-" for r in window]
            alerted = {r["Node"] for r in window if r["Label"] != "-"}
            assert {f.component for f in incident.truth.faults} == alerted
            for fault in incident.truth.faults:
                first = min(fault.lines)
                assert fault.category == window[first]["Label"] and fault.onset == incident.lines.times[first]
    train = {c.name for i in range(len(open_incidents("loghub", "train", data_dir=data_dir)))
             for c in open_incidents("loghub", "train", data_dir=data_dir)[i].components}
    test_incidents = open_incidents("loghub", "test", data_dir=data_dir)
    test = {c.name for i in range(len(test_incidents)) for c in test_incidents[i].components}
    assert train and test and not train & test  # split by node


@pytest.mark.parametrize("env_id", IDS)
def test_the_environments_on_real_incidents(data_dir, env_id):
    env = gym.make(env_id, source="loghub", data_dir=data_dir, split="test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    task = env.unwrapped.task
    for index in range(len(env.unwrapped.incidents)):
        env.reset(options={"index": index})
        facts = env.unwrapped._case.facts
        assert env.step(task.reference_completion(facts))[1] == 1.1
        env.reset(options={"index": index})
        assert env.step("")[1] == -2.0
    brief = env.reset(options={"index": 0})[1]["messages"][1]["content"]
    assert "KERNDTLB" in brief and "BlueGene/L" in brief  # the vocabulary of BGL's alert categories


def test_bad_options_and_a_broken_file(data_dir, tmp_path):
    with pytest.raises(ValueError, match="domains expects 'BGL'"):
        open_incidents("loghub", "test", "HDFS", data_dir=data_dir)
    with pytest.raises(ValueError, match="window expects a positive int"):
        open_incidents("loghub", "test", data_dir=data_dir, window=0)
    with pytest.raises(TypeError, match="unknown option"):
        open_incidents("loghub", "test", data_dir=data_dir, difficulty="easy")
    broken = tmp_path / "data"
    (broken / "loghub" / "BGL").mkdir(parents=True)
    lines = structured_path(data_dir).read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5].replace("2005-06-03-", "2005/06/03-", 1)
    structured_path(broken).write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 6: expected a Time like"):
        open_incidents("loghub", "test", data_dir=broken)
    shutil.copy(structured_path(data_dir), structured_path(broken))  # fixed: it loads (nothing cached)
    clear_cache()
    assert len(bgl_rows(broken)) == 2_000


def test_rlog_eval_runs_a_real_investigation(data_dir, tmp_path):
    run_dir = run(["answer-now", "random-tools"], IDS, source="loghub", data_dir=data_dir, run_dir=tmp_path / "run")
    records = list(read_results(run_dir))
    assert len(records) == 2 * 3 * len(open_incidents("loghub", "test", data_dir=data_dir))
    assert {r["source"] for r in records} == {"loghub"} and rescore(run_dir, data_dir) == []
