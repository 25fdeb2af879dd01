"""The O&M simulator: its catalogue, its scenarios, its splits and its determinism."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import rlog_env
from rlog_env.datasets import DataError, load_source
from rlog_env.datasets.sim import TEST_SET_SIZE, domain_pool
from rlog_env.datasets.sim.catalogue import load_catalogue, load_catalogue_from
from rlog_env.datasets.sim.scenario import Difficulty, generate
from rlog_env.tasks import TASKS, get_task
from rlog_env.tasks.parsing_metric import parsing_f1

REPO = Path(__file__).resolve().parents[2]
CATALOGUE_DIR = REPO / "rlog_env" / "datasets" / "sim" / "catalogue"
KINDS = ("distributed file system", "compute", "coordination", "cloud", "container", "web server",
         "database", "supercomputer", "linux", "network")


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_catalogue_covers_what_operators_meet(catalogue):
    assert len(catalogue.families) >= 10
    assert len(catalogue.faults) >= 40
    kinds = " ".join(f.kind.lower() for f in catalogue.families.values())
    for kind in KINDS:
        assert kind in kinds, f"no family of kind {kind!r}"
    for name, family in catalogue.families.items():
        assert catalogue.faults_of(name), f"family {name} has no fault"
        assert family.workflows and family.distractors


def test_every_fault_renders_consistent_references(catalogue):
    rng = np.random.default_rng(0)
    for fault in catalogue.faults.values():
        scenario = generate(catalogue, fault.family, (fault.id,), Difficulty(), rng)
        assert scenario.abnormal
        for text in (scenario.interpretation, scenario.root_cause, scenario.solution):
            assert len(text.split()) >= 8 and "{" not in text
        # the reference texts name values the logs show: every scenario entity named in a
        # reference appears in the window too, so an answer can be grounded in the logs
        window = scenario.window
        explained = fault.interpretation.source + fault.root_cause.source
        for name in fault.entities:
            if f"{{{name}}}" in explained:
                assert scenario.entities[name] in window, (fault.id, name, scenario.entities[name])


def test_every_line_template_scores_one_against_its_message(catalogue):
    rng = np.random.default_rng(1)
    for name in catalogue.families:
        for faults in [()] + [(f.id,) for f in catalogue.faults_of(name)]:
            scenario = generate(catalogue, name, faults, Difficulty(), rng)
            for line in scenario.lines:
                assert line.message in line.text
                score = parsing_f1(line.template, line.template, line.message)
                assert score.f1 == 1.0 and score.template_matched, (name, line)


def test_labels_follow_the_faults(catalogue):
    rng = np.random.default_rng(2)
    for name in catalogue.families:
        normal = generate(catalogue, name, (), Difficulty(distractors=3), rng)
        assert not normal.abnormal and not any(line.abnormal for line in normal.lines)
        fault = catalogue.faults_of(name)[0]
        faulty = generate(catalogue, name, (fault.id,), Difficulty(cascades=False), rng)
        symptom_events = {f"{fault.id}/symptoms{i}" for i in range(len(fault.symptoms))}
        assert {ln.event for ln in faulty.lines if ln.abnormal} <= symptom_events
        assert sum(ln.abnormal for ln in faulty.lines) >= len(fault.symptoms)


def test_difficulty_shapes_the_window(catalogue):
    rng = np.random.default_rng(3)
    name = sorted(catalogue.families)[0]
    for window in (4, 12, 60):
        scenario = generate(catalogue, name, (), Difficulty(window=window, distractors=0), rng)
        assert len(scenario.lines) == window
    with pytest.raises(ValueError, match="window"):
        Difficulty(window=1)
    with pytest.raises(ValueError, match="noise"):
        Difficulty.of({"noise": 2})
    with pytest.raises(ValueError, match="easy, medium, hard"):
        Difficulty.of("brutal")
    with pytest.raises(ValueError, match="unknown field"):
        Difficulty.of({"windw": 3})


def test_seen_and_unseen_share_no_family_or_fault_type(catalogue):
    seen = domain_pool(catalogue, ("seen",))
    unseen = domain_pool(catalogue, ("unseen",))
    seen_faults = {f for _, faults in seen.faulty for f in faults}
    unseen_faults = {f for _, faults in unseen.faulty for f in faults}
    assert catalogue.unseen_families and catalogue.unseen_faults
    assert not seen_faults & unseen_faults
    assert not set(seen.normal_families) & set(unseen.normal_families)
    assert not {n for n, _ in seen.faulty} & catalogue.unseen_families
    assert unseen_faults == (catalogue.unseen_faults
                             | {f.id for f in catalogue.faults.values() if f.family in catalogue.unseen_families})
    # and the environments draw accordingly
    for domains, allowed_faults in (("seen", seen_faults), ("unseen", unseen_faults)):
        env = gym.make("RLog/RootCauseAnalysis-v0", domains=domains)
        for seed in range(60):
            _, info = env.reset(seed=seed)
            hidden = env.unwrapped.source[info["index"]].facts
            assert set(hidden["faults"]) <= allowed_faults
            assert hidden["unseen"] == (domains == "unseen")


def test_family_names_select_families(catalogue):
    name = sorted(catalogue.families)[-1]
    env = gym.make("RLog/AnomalyDetection-v0", domains=name)
    assert {env.reset(seed=s)[1]["domain"] for s in range(30)} == {name}
    with pytest.raises(ValueError, match="seen"):
        gym.make("RLog/AnomalyDetection-v0", domains="no-such-family")


def test_test_set_is_finite_indexable_and_disjoint_from_train():
    for task in TASKS:
        test = load_source("sim", task, split="test")
        train = load_source("sim", task, split="train")
        assert test.finite and len(test) == TEST_SET_SIZE and not train.finite
        first = [test[i].logs for i in range(50)]
        assert first == [test[i].logs for i in range(50)]
        train_logs = {train[i].logs for i in range(300)}
        if task != "log_parsing":
            assert not train_logs & set(first)
        with pytest.raises(IndexError):
            test[TEST_SET_SIZE]


def test_parsing_splits_are_disjoint_by_message():
    train = load_source("sim", "log_parsing", split="train")
    test = load_source("sim", "log_parsing", split="test")
    train_messages = {train[i].logs for i in range(2000)}
    test_messages = {test[i].logs for i in range(TEST_SET_SIZE)}
    assert not train_messages & test_messages


def test_both_labels_and_both_granularities():
    for granularity in ("window", "line"):
        source = load_source("sim", "anomaly_detection", granularity=granularity)
        labels = [source[i].reference for i in range(400)]
        share = labels.count("abnormal") / len(labels)
        assert 0.25 < share < 0.75, (granularity, share)
        sample = source[0]
        assert len(sample.facts["line_labels"]) == len(sample.logs.split("\n"))
        if granularity == "line":
            assert all(source[i].reference == source[i].facts["line_labels"][-1] for i in range(100))
    with pytest.raises(ValueError, match="anomaly_detection only"):
        load_source("sim", "log_parsing", granularity="line")


def test_reset_info_gives_no_label_away():
    """meta reaches the agent: it must not say which faults, which lines, or whether a
    held-out fault is in the window (any of these reveals the anomaly label)."""
    for granularity in ("window", "line"):
        env = gym.make("RLog/AnomalyDetection-v0", granularity=granularity, domains=["seen", "unseen"])
        for seed in range(50):
            _, info = env.reset(seed=seed)
            assert not {"faults", "line_labels", "unseen"} & set(info["meta"])
            assert "abnormal" not in json.dumps(info["meta"])


def test_no_reference_in_observation_or_reset_info():
    for task in ("log_interpretation", "root_cause_analysis", "solution_recommendation"):
        env = gym.make(get_task(task).env_id)
        for seed in range(20):
            obs, info = env.reset(seed=seed)
            reference = env.unwrapped.source[info["index"]].reference
            assert reference not in obs and reference not in json.dumps(info)


def _episode_digest(seeds: range) -> str:
    code = (
        "import gymnasium as gym, hashlib, json, rlog_env\n"
        "h = hashlib.sha256()\n"
        "for env_id in rlog_env.ENV_IDS:\n"
        "    env = gym.make(env_id)\n"
        f"    for seed in range({seeds.start}, {seeds.stop}):\n"
        "        obs, info = env.reset(seed=seed)\n"
        "        ref = env.unwrapped.source[info['index']].reference\n"
        "        h.update(json.dumps([obs, info, ref], sort_keys=True).encode())\n"
        "print(h.hexdigest())\n"
    )
    digests = []
    for hashseed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed, "PYTHONPATH": str(REPO)}
        env.pop("RLOG_DATA_DIR", None)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                              timeout=600, check=True)
        digests.append(done.stdout.strip())
    assert digests[0] == digests[1]
    return digests[0]


def test_byte_identical_episodes_across_fresh_processes_for_1000_seeds():
    """Every task, 1,000 seeds each, in two fresh processes with different hash seeds."""
    digest = _episode_digest(range(1000))
    here = hashlib.sha256()
    for env_id in rlog_env.ENV_IDS:
        env = gym.make(env_id)
        for seed in range(1000):
            obs, info = env.reset(seed=seed)
            ref = env.unwrapped.source[info["index"]].reference
            here.update(json.dumps([obs, info, ref], sort_keys=True).encode())
    assert here.hexdigest() == digest


def test_a_broken_catalogue_names_the_file_and_the_mistake(tmp_path):
    import shutil

    root = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE_DIR, root)
    family = root / "families" / "hdfs.json"
    data = json.loads(family.read_text())
    data["events"]["receiving"]["message"] = "Receiving block {no_such_value}"
    family.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"hdfs\.json.*no_such_value"):
        load_catalogue_from(root)
    data["events"]["receiving"]["message"] = "Receiving block {block}"
    data["events"]["receiving"]["level"] = "loud"
    family.write_text(json.dumps(data))
    with pytest.raises(DataError, match="level 'loud'"):
        load_catalogue_from(root)
    family.write_text("{not json")
    with pytest.raises(DataError, match="line 1"):
        load_catalogue_from(root)


def test_catalogue_page_is_generated_from_the_data(data_dir):
    """docs/simulator-catalogue.md is what `python -m rlog_env.datasets.sim.docs` writes."""
    from rlog_env.datasets.sim.docs import render

    committed = (REPO / "docs" / "simulator-catalogue.md").read_text(encoding="utf-8")
    assert render(load_catalogue(), data_dir) == committed, (
        "docs/simulator-catalogue.md is stale: run `python -m rlog_env.datasets.sim.docs` "
        "with RLOG_DATA_DIR set")
