"""`rlog repro --preset quick`: the whole path — data → SFT → GRPO → checkpoint → agent →
leaderboard — on a tiny model, for real (TRL's trainers, the runner, the real test splits)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from rlog_env.cli import main  # noqa: E402
from rlog_env.training.repro import (  # noqa: E402
    COMPARISONS,
    MODELS,
    ReproConfig,
    evaluation_cells,
    evaluation_sets,
    preset,
    real_sources,
    summarise,
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
    assert summary["rows"][0]["model"] == "prompt-only" and summary["primary"] is None
    for row in summary["rows"]:
        assert set(row["reward"]) == set(summary["sets"])
        assert all(-2.0 <= v <= 1.45 for v in row["reward"].values())
        assert row["tokens_to_answer"] >= 0 and row["seconds_per_episode"] > 0
    assert {"grpo_gain_sim", "fast_token_ratio"} <= set(summary["checks"])
    text = (run / "leaderboard.md").read_text()
    assert "| R-Log-fast |" in text and "tokens to answer" in text
    # each evaluation set is an ordinary run directory, with its own leaderboard
    assert (run / "eval" / "sim-unseen" / "anomaly_detection" / "results.jsonl").is_file()
    assert (run / "eval" / "loglm" / "log_parsing" / "leaderboard.md").is_file()


def test_an_interrupted_run_resumes_without_training_again(run, data_dir, capsys):
    before = {s: (run / s / "final" / "model.safetensors").stat().st_mtime_ns for s in STAGES}
    assert main(["repro", "--preset", "quick", "--out", str(run), "--data-dir", str(data_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {s: (run / s / "final" / "model.safetensors").stat().st_mtime_ns for s in STAGES} == before
    assert set(summary["timings_s"]) == {"eval", "curves", "total"}  # nothing was trained


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
    assert evaluation_sets(ReproConfig(data_dir=str(tmp_path))) == ["sim seen", "sim unseen"]  # no real data there
    with pytest.raises(ValueError, match="primary expects"):
        ReproConfig(tasks=("log_parsing",), primary=("unseen", "anomaly_detection"))
    with pytest.raises(ValueError, match="primary expects"):
        ReproConfig(primary=("nowhere", "log_parsing"))
    with pytest.raises(ValueError, match="real expects"):
        ReproConfig(real=("sim",))
    with pytest.raises(ValueError, match="curve_every expects"):
        ReproConfig(curve_every=-1)
    with pytest.raises(ValueError, match="tasks"):
        ReproConfig(tasks=("no_such_task",))


def test_sources_are_read_from_the_registry(tmp_path):
    from rlog_env.datasets import SOURCES

    assert real_sources() == tuple(name for name, spec in SOURCES.items() if spec.needs_data)
    assert set(real_sources()) >= {"loghub", "loglm", "hdfs"} and "sim" not in real_sources()
    cells = {(s, t): a for s, t, a in evaluation_cells(ReproConfig(data_dir=str(tmp_path), sim_episodes=3))}
    assert cells["sim unseen", "log_parsing"] == {"source": "sim", "envs": ["RLog/LogParsing-v0"], "domains": ("unseen",),
                                                 "episodes": 3, "difficulty": "easy"}
    with pytest.raises(ValueError, match="needs no data set"):
        ReproConfig(source="hdfs")


def test_the_primary_cell_comes_first_with_its_own_size(data_dir):
    config = preset("pretrained", data_dir=str(data_dir))
    cells = evaluation_cells(config)
    (first_set, first_task, first), *others = cells
    assert (first_set, first_task) == ("sim unseen", "anomaly_detection") and first["episodes"] == 200
    assert {a["episodes"] for s, _, a in others if s.startswith("sim")} == {50}
    # the real sets the preset names, each task of the run they serve, 50 episodes each
    assert [(s, t) for s, t, _ in others if not s.startswith("sim")] == [
        ("loghub", "anomaly_detection"), ("loghub", "log_parsing"), ("loglm", "anomaly_detection"), ("loglm", "log_parsing")]
    assert all(a["episodes"] == 50 for s, _, a in others if not s.startswith("sim"))
    assert config.model == "smollm2-135m" and config.tasks == ("anomaly_detection", "log_parsing")


def _frame(totals: dict[str, list[float]]):
    """A run of models over the same four episodes of one cell."""
    import pandas as pd
    rows = []
    for agent, values in totals.items():
        for index, total in enumerate(values):
            rows.append({"agent": agent, "set": "sim unseen", "task": "anomaly_detection", "env": "RLog/AnomalyDetection-v0",
                         "source": "sim", "index": index, "reward": {"total": total}, "metrics": {"well_formed": total > -2},
                         "tokens_to_answer": 10, "latency_s": 0.5})
    return pd.DataFrame(rows)


def test_differences_are_paired_on_the_episodes_both_models_played():
    cold, rlog = [-2.0, 0.5, 1.0, 0.0], [-1.0, 1.0, 1.0, 0.5]
    summary = summarise(_frame({"cold start X→(R,Y)": cold, "R-Log": rlog}), primary=("sim unseen", "anomaly_detection"))
    assert summary["primary"] == "sim unseen/anomaly_detection"
    (diff,) = [c for c in summary["comparisons"] if c["model"] == "R-Log"]
    assert diff["primary"] and diff["minus"] == "cold start X→(R,Y)" and diff["n"] == 4
    assert diff["difference"] == pytest.approx(sum(rlog) / 4 - sum(cold) / 4)
    low, high = diff["interval"]
    # every episode gains 0 to 1: a paired interval stays inside, where unpaired means would not
    assert 0.0 <= low <= diff["difference"] <= high <= 1.0
    cell = next(r for r in summary["rows"] if r["model"] == "R-Log")["cells"]["sim unseen/anomaly_detection"]
    assert cell["n"] == 4 and cell["interval"][0] <= cell["mean"] <= cell["interval"][1]
    assert cell["format_valid"] == 1.0
    # the same frame and seed give the same intervals; another seed, other resamples
    assert summarise(_frame({"cold start X→(R,Y)": cold, "R-Log": rlog}),
                     primary=("sim unseen", "anomaly_detection"))["comparisons"] == summary["comparisons"]
    assert {a for a, _ in COMPARISONS} >= {"R-Log", "R-Log-fast"}


@pytest.fixture(scope="module")
def pretrained_quick(tmp_path_factory, data_dir):
    """The pretrained preset's recipe cut to smoke size, with the tiny model in SmolLM2's place."""
    out = tmp_path_factory.mktemp("repro-pretrained") / "run"
    code = main(["repro", "--preset", "pretrained-quick", "--model", "tiny", "--out", str(out),
                 "--data-dir", str(data_dir), "--json"])
    assert code == 0
    return out


def test_pretrained_quick_reports_the_primary_cell_and_its_differences(pretrained_quick):
    summary = json.loads((pretrained_quick / "leaderboard.json").read_text())
    config = preset("pretrained-quick")
    assert summary["primary"] == "sim unseen/anomaly_detection" and summary["cells"][0] == summary["primary"]
    assert summary["sets"] == ["sim unseen", "sim seen", "loghub", "loglm"]  # HDFS left out by the preset
    for row in summary["rows"]:
        primary = row["cells"][summary["primary"]]
        assert primary["n"] == config.primary_episodes
        assert all(cell["n"] == 2 for name, cell in row["cells"].items() if name != summary["primary"])
        assert set(row["cells"]) == set(summary["cells"]) and 0.0 <= primary["format_valid"] <= 1.0
    primary = [c for c in summary["comparisons"] if c["primary"]]
    assert [(c["model"], c["minus"]) for c in primary] == list(COMPARISONS)
    means = {r["model"]: r["cells"][summary["primary"]]["mean"] for r in summary["rows"]}
    for c in primary:
        assert c["difference"] == pytest.approx(means[c["model"]] - means[c["minus"]])
        assert c["n"] == config.primary_episodes
    text = (pretrained_quick / "leaderboard.md").read_text()
    assert "Primary cell: sim unseen/anomaly_detection" in text and "| R-Log − cold start X→(R,Y) |" in text


def test_pretrained_quick_writes_the_learning_curves(pretrained_quick):
    import csv

    rows = list(csv.DictReader((pretrained_quick / "learning_curve.csv").open()))
    for stage in ("rlog", "rlog-fast"):
        train = [r for r in rows if r["stage"] == stage and r["kind"] == "train"]
        held = [r for r in rows if r["stage"] == stage and r["kind"] == "held-out"]
        assert [int(r["step"]) for r in train] == [1, 2]  # TRL's logged reward of every step
        assert [int(r["step"]) for r in held] == [0, 1, 2]  # the start, then each checkpoint
        history = json.loads((pretrained_quick / stage / "final" / "training.json").read_text())["log_history"]
        logged = [h["reward"] for h in history if "reward" in h]
        assert [float(r["reward"]) for r in train] == pytest.approx(logged)
        # a held-out point is the mean over the episodes its checkpoint played
        step1 = [json.loads(line) for line in (pretrained_quick / "curves" / stage / "step-1" / "results.jsonl").open()]
        assert len(step1) == 2 * 2  # curve_episodes of each task
        assert float(held[1]["reward"]) == pytest.approx(sum(r["reward"]["total"] for r in step1) / len(step1))
        # checkpoints hold the weights alone: no optimizer state to fill the disk
        checkpoint = pretrained_quick / stage / "checkpoint-1"
        assert (checkpoint / "model.safetensors").is_file() and not (checkpoint / "optimizer.pt").exists()
    assert (pretrained_quick / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_repro_prints_where_the_curves_are(pretrained_quick, data_dir, capsys):
    assert main(["repro", "--preset", "pretrained-quick", "--model", "tiny", "--out", str(pretrained_quick),
                 "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert f"learning curves: {pretrained_quick / 'learning_curve.png'} and {pretrained_quick / 'learning_curve.csv'}" in out
    assert "Primary cell: sim unseen/anomaly_detection" in out


def test_pretrained_quick_evaluates_with_its_own_budget_and_dtype(pretrained_quick):
    config = preset("pretrained-quick")
    assert (config.max_new_tokens, config.eval_max_new_tokens, config.eval_dtype) == (16, 24, "bfloat16")
    settings = {"max_new_tokens": 24, "dtype": "bfloat16"}
    assert json.loads((pretrained_quick / "eval" / "settings.json").read_text()) == settings
    assert json.loads((pretrained_quick / "curves" / "settings.json").read_text()) == settings
    episodes = [json.loads(line) for line in
                (pretrained_quick / "eval" / "sim-unseen" / "anomaly_detection" / "results.jsonl").open()]
    tokens = [e["usage"]["completion_tokens"] for e in episodes]
    # the evaluation's budget, not GRPO's: a cut-off answer is 24 tokens long
    assert max(tokens) <= 24 and all(t == 24 for t, e in zip(tokens, episodes) if e["finish_reason"] == "length")
    assert any(t > 16 for t in tokens)


def test_an_evaluation_does_not_resume_under_other_generation_settings(pretrained_quick, data_dir, tmp_path, capsys):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(pretrained_quick, out)
    args = ["repro", "--preset", "pretrained-quick", "--model", "tiny", "--out", str(out), "--data-dir", str(data_dir)]
    settings = out / "eval" / "settings.json"
    settings.write_text(json.dumps({"max_new_tokens": 320, "dtype": "auto"}))
    assert main(args) == 2
    assert "generated with {'max_new_tokens': 320, 'dtype': 'auto'}" in capsys.readouterr().err
    settings.unlink()  # episodes of unknown settings are refused too
    assert main(args) == 2
    assert "without a settings.json" in capsys.readouterr().err
    assert not settings.exists()  # nothing written on the way out
    with pytest.raises(ValueError, match="eval_max_new_tokens expects"):
        ReproConfig(eval_max_new_tokens=0)
    with pytest.raises(ValueError, match="eval_dtype expects"):
        ReproConfig(eval_dtype="int8")
