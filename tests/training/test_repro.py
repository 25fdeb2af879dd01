"""`rlog repro --preset quick`: the whole path — data → SFT → GRPO → checkpoint → agent →
leaderboard — on a tiny model, for real (TRL's trainers, the runner, the real test splits)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from rlog_env.cli import main  # noqa: E402
from rlog_env.training.repro import (  # noqa: E402
    MODELS,
    ReproConfig,
    evaluation_sets,
    preset,
    real_sources,
    tokens_to_answer,
)

STAGES = ("sft-answer", "cold-start", "rlog", "cold-start-fast", "rlog-fast")


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("repro") / "run"
    code = main(["repro", "--preset", "quick", "--out", str(out), "--data-dir", str(data_dir), "--json"])
    assert code == 0
    return out


def test_every_stage_leaves_a_checkpoint(run):
    for stage in STAGES:
        final = run / stage / "final"
        assert (final / "model.safetensors").is_file() and (final / "tokenizer.json").is_file()
        record = json.loads((final / "training.json").read_text())
        assert record["kind"] == ("grpo" if stage.startswith("rlog") else "sft")
    assert (run / "reasoning" / "card.json").is_file()
    # R-Log starts from the cold start, R-Log-fast from the answer-first cold start
    grpo = json.loads((run / "rlog" / "final" / "training.json").read_text())["config"]
    assert grpo["model"] == str(run / "cold-start" / "final") and grpo["reasoning"] == "think-first"
    fast = json.loads((run / "rlog-fast" / "final" / "training.json").read_text())["config"]
    assert fast["model"] == str(run / "cold-start-fast" / "final") and fast["reasoning"] == "answer-first"


def test_one_leaderboard_over_sim_and_real_sets(run):
    summary = json.loads((run / "leaderboard.json").read_text())
    assert summary["sets"] == ["sim seen", "sim unseen", "loghub", "loglm", "hdfs"]
    assert [r["model"] for r in summary["rows"]] == [name for name, _, _ in MODELS]
    for row in summary["rows"]:
        assert set(row["reward"]) == set(summary["sets"])
        assert all(-2.0 <= v <= 1.45 for v in row["reward"].values())
        assert row["tokens_to_answer"] >= 0 and row["seconds_per_episode"] > 0
    assert {"grpo_gain_sim", "fast_token_ratio"} <= set(summary["checks"])
    text = (run / "leaderboard.md").read_text()
    assert "| R-Log-fast |" in text and "tokens to answer" in text
    # each evaluation set is an ordinary run directory, with its own leaderboard
    assert (run / "eval" / "sim-unseen" / "results.jsonl").is_file()
    assert (run / "eval" / "loglm" / "leaderboard.md").is_file()


def test_an_interrupted_run_resumes_without_training_again(run, data_dir, capsys):
    before = {s: (run / s / "final" / "model.safetensors").stat().st_mtime_ns for s in STAGES}
    assert main(["repro", "--preset", "quick", "--out", str(run), "--data-dir", str(data_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {s: (run / s / "final" / "model.safetensors").stat().st_mtime_ns for s in STAGES} == before
    assert set(summary["timings_s"]) == {"eval", "total"}  # nothing was trained


def test_tokens_to_answer_stops_at_the_answer():
    class Whitespace:
        def __call__(self, text, add_special_tokens=False):
            return type("Encoding", (), {"input_ids": text.split()})()

    tok = Whitespace()
    assert tokens_to_answer("<answer> a b </answer> <think> x y z </think>", "answer-first", tok) == 4
    assert tokens_to_answer("<think> x y z </think> <answer> a </answer>", "think-first", tok) == 8
    assert tokens_to_answer("no tags at all", "think-first", tok) == 4
    assert tokens_to_answer("a b </answer>", "none", tok) == 3


def test_presets_and_sizes_are_checked(tmp_path):
    assert preset("quick", out=str(tmp_path)).grpo_steps == 1
    with pytest.raises(ValueError, match="preset expects"):
        preset("huge")
    with pytest.raises(ValueError, match="grpo_generations expects >= 2"):
        ReproConfig(grpo_generations=1)
    sets = [name for name, _ in evaluation_sets(ReproConfig(data_dir=str(tmp_path)))]
    assert sets == ["sim seen", "sim unseen"]  # no real data there: the simulator only


def test_sources_are_read_from_the_registry(tmp_path):
    from rlog_env.datasets import SOURCES

    assert real_sources() == tuple(name for name, spec in SOURCES.items() if spec.needs_data)
    assert set(real_sources()) >= {"loghub", "loglm", "hdfs"} and "sim" not in real_sources()
    sets = dict(evaluation_sets(ReproConfig(data_dir=str(tmp_path), sim_episodes=3)))
    assert sets["sim unseen"] == {"source": "sim", "domains": ("unseen",), "episodes": 3, "difficulty": "easy"}
    with pytest.raises(ValueError, match="needs no data set"):
        ReproConfig(source="hdfs")
