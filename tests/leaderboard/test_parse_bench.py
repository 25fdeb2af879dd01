"""``rlog parse-bench``: parsers scored the way logpai's benchmarks score them.

The golden test scores logpai's Drain predictions (``reference/drain_predictions.tsv``) through
parse-bench's own path (its ground truth, its scoring) and checks every published cell of
``reference/drain_metrics.tsv`` to 1e-6. The command runs in-process on shared/data.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rlog_env import cli
from rlog_env.agents.base import FunctionAgent
from rlog_env.datasets import loghub
from rlog_env.leaderboard import parse_bench
from rlog_env.tasks import NO_TAGS, THINK_FIRST

CORRECTED_KEYS = {"GA": "GA_corrected", "FGA": "FGA_corrected", "PA": "PA_corrected", "FTA": "FTA_corrected"}


def _published(data_dir: Path) -> dict[str, dict[str, str]]:
    with open(data_dir / "reference" / "drain_metrics.tsv", newline="", encoding="utf-8-sig") as handle:
        return {row["system"]: row for row in csv.DictReader(handle, delimiter="\t")}


@pytest.mark.parametrize("ground_truth", parse_bench.GROUND_TRUTHS)
def test_drain_predictions_reproduce_the_published_metrics(data_dir, ground_truth):
    published = _published(data_dir)
    predictions = parse_bench.drain_predictions(data_dir)
    truths = parse_bench.system_truths(data_dir, ground_truth)
    systems = [t.system for t in truths]
    expected = set(published) if ground_truth == "original" else {
        s for s, row in published.items() if row["GA_corrected"].strip()}
    assert set(systems) == expected  # every system of the reference, and no other
    checked = 0
    for truth in truths:
        found = parse_bench.score(predictions[truth.system], truth)
        columns = {"GA": "GA_original"} if ground_truth == "original" else CORRECTED_KEYS
        for metric, column in columns.items():
            assert found[metric] == pytest.approx(float(published[truth.system][column]), abs=1e-6), \
                (truth.system, metric)
            checked += 1
    assert checked == (12 if ground_truth == "original" else 40)
    # The Drain row of a bench is the same numbers, its mean over the same systems.
    result = parse_bench.parse_bench([FunctionAgent(lambda prompt: "", reasoning=NO_TAGS)], data_dir,
                                     ground_truth, systems=["Apache"])
    assert result["drain"]["systems"]["Apache"]["GA"] == pytest.approx(1.0)


def test_an_agent_is_fitted_without_labels_and_asked_each_distinct_message_once(data_dir):
    class Recorder:
        name, reasoning = "recorder", THINK_FIRST

        def __init__(self):
            self.fitted, self.asked, self.calls = [], [], 0

        def fit(self, samples):
            self.fitted.append(list(samples))
            return self

        def act(self, observations):
            self.calls += 1
            self.asked.extend(observations)
            # The message itself as its template (so PA counts the lines without variables).
            return [f"<think>t</think><answer>{o.logs}</answer>" for o in observations]

    agent = Recorder()
    messages, _, templates = loghub.system_lines(data_dir, "Linux", "original")
    result = parse_bench.parse_bench([agent], data_dir, "original", systems=["Linux"], batch_size=100)
    (fitted,) = agent.fitted
    assert [s.logs for s in fitted] == messages and {s.reference for s in fitted} == {""}
    assert {s.domain for s in fitted} == {"Linux"}
    assert [o.logs for o in agent.asked] == list(dict.fromkeys(messages))  # 290 distinct, once each
    assert agent.calls == -(-len(agent.asked) // 100)
    first = agent.asked[0]  # the environment's own observation of the message
    assert first.task == "log_parsing" and first.domain == "Linux" and first.source == "loghub"
    assert first.logs in first.prompt and "<answer>" in first.prompt
    pa = sum(m == t for m, t in zip(messages, templates)) / len(messages)
    assert result["agents"]["recorder"]["systems"]["Linux"]["PA"] == pytest.approx(pa)


def test_a_malformed_answer_is_the_empty_template(data_dir):
    agent = FunctionAgent(lambda prompt: "no tags at all", name="untagged")  # think-first expected
    result = parse_bench.parse_bench([agent], data_dir, "corrected", systems=["HDFS"])
    assert result["agents"]["untagged"]["systems"]["HDFS"] == {"GA": 0.0, "FGA": 0.0, "PA": 0.0, "FTA": 0.0}


def test_cli_json_has_every_system_and_the_mean(data_dir, capsys):
    code = cli.main(["parse-bench", "--agents", "heuristic", "--data-dir", str(data_dir), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    systems = list(loghub.systems(data_dir))
    assert out["systems"] == systems and out["ground_truth"] == "original"
    heuristic = out["agents"]["heuristic"]
    assert set(heuristic) == {"systems", "mean"} and list(heuristic["systems"]) == systems
    for row in [*heuristic["systems"].values(), heuristic["mean"]]:
        assert set(row) == set(parse_bench.METRICS) and all(0.0 <= v <= 1.0 for v in row.values())
    for metric in parse_bench.METRICS:
        assert heuristic["mean"][metric] == pytest.approx(
            sum(r[metric] for r in heuristic["systems"].values()) / len(systems))
    assert out["drain"]["mean"]["GA"] == pytest.approx(0.914, abs=5e-4)  # the published Drain row


def test_cli_table_names_the_ground_truth_and_drain(data_dir, capsys):
    code = cli.main(["parse-bench", "--agents", "heuristic", "--ground-truth", "corrected", "--systems",
                     "Apache", "HPC", "--data-dir", str(data_dir)])
    assert code == 0
    out = capsys.readouterr().out
    assert "| heuristic | GA |" in out and f"| {parse_bench.DRAIN} | PA |" in out
    assert "loghub2_2k_corrected" in out and "no labels" in out


@pytest.mark.parametrize("argv, message", [
    (["--agents", "no-such-agent"], "unknown agent 'no-such-agent'"),
    (["--agents", "heuristic", "--systems", "Android", "--ground-truth", "corrected"], "no Loghub-2.0 corrected"),
    (["--agents", "heuristic", "--systems", "Nowhere"], "not in the data directory"),
    (["--agents", "heuristic", "heuristic"], "distinct agents"),
])
def test_cli_bad_input_is_exit_2_naming_the_fix(data_dir, capsys, argv, message):
    assert cli.main(["parse-bench", *argv, "--data-dir", str(data_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err


def test_cli_without_loghub_data_is_exit_2(tmp_path, capsys):
    assert cli.main(["parse-bench", "--agents", "heuristic", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "loghub" in err and "RLOG_DATA_DIR" in err


def test_cli_unknown_ground_truth_is_a_usage_error(data_dir, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["parse-bench", "--agents", "heuristic", "--ground-truth", "fixed", "--data-dir", str(data_dir)])
    assert caught.value.code == 2
    assert "original" in capsys.readouterr().err


def test_the_subsumption_parser_beats_drain_on_ga_and_pa(data_dir, capsys):
    """The same rules for every system: mean GA on the original truth and mean PA on Loghub-2.0's
    corrected truth above logpai's Drain over the same systems (.914 and .340 on shared/data)."""
    found = {}
    for ground_truth in parse_bench.GROUND_TRUTHS:
        assert cli.main(["parse-bench", "--agents", "subsumption", "--ground-truth", ground_truth,
                         "--data-dir", str(data_dir), "--json"]) == 0
        found[ground_truth] = json.loads(capsys.readouterr().out)
    original, corrected = found["original"], found["corrected"]
    assert original["agents"]["subsumption"]["mean"]["GA"] > original["drain"]["mean"]["GA"] + 0.05
    assert corrected["agents"]["subsumption"]["mean"]["PA"] > corrected["drain"]["mean"]["PA"] + 0.2
    assert corrected["agents"]["subsumption"]["mean"]["GA"] > corrected["drain"]["mean"]["GA"]


def test_a_ground_truth_cut_short_is_exit_2_naming_the_file(data_dir, tmp_path, capsys):
    system = "Linux"
    (tmp_path / "loghub" / system).mkdir(parents=True)
    (tmp_path / "loghub2_2k_corrected" / system).mkdir(parents=True)
    name = f"{system}_2k.log_structured.csv"
    (tmp_path / "loghub" / system / name).write_bytes((data_dir / "loghub" / system / name).read_bytes())
    corrected = data_dir / "loghub2_2k_corrected" / system / f"{system}_2k.log_structured_corrected.csv"
    cut = b"".join(corrected.read_bytes().splitlines(keepends=True)[:101])  # the header and 100 rows
    (tmp_path / "loghub2_2k_corrected" / system / corrected.name).write_bytes(cut)
    argv = ["parse-bench", "--agents", "subsumption", "--data-dir", str(tmp_path)]
    assert cli.main(argv) == 0  # the original truth is whole
    capsys.readouterr()
    assert cli.main([*argv, "--ground-truth", "corrected"]) == 2
    err = capsys.readouterr().err
    assert corrected.name in err and "cut short" in err
