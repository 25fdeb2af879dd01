"""The streamed leaderboard (:class:`Aggregate`) against the whole-frame definitions.

The reference below computes each number from all the episodes at once, as the leaderboard did
before it was streamed: pandas group-bys, ``sacrebleu.corpus_bleu`` over the whole split. The
streamed board must equal it exactly, on simulated and real episodes, several agents, and
records read back from ``results.jsonl``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlog_env.agents.baselines.trivial import ConstantAgent
from rlog_env.datasets import SOURCES
from rlog_env.leaderboard.aggregate import Aggregate, episode_bootstrap_key
from rlog_env.leaderboard.metrics import (
    TextMetrics,
    anomaly_metrics,
    bootstrap_ci,
    bootstrap_metric,
    parsing_metrics,
)
from rlog_env.leaderboard.results import read_results
from rlog_env.leaderboard.runner import evaluate
from rlog_env.tasks import LABEL, TASKS, TEMPLATE

ENVS = ["RLog/LogParsing-v0", "RLog/AnomalyDetection-v0", "RLog/LogInterpretation-v0",
        "RLog/RootCauseAnalysis-v0", "RLog/SolutionRecommendation-v0"]

# The whole-split metric of each kind that gets a bootstrap interval beside the reward's.
HEADLINE = {TEMPLATE: (parsing_metrics, "GA"), LABEL: (anomaly_metrics, "F1")}


def _reference_text_metrics(predicted, references):
    sacrebleu = pytest.importorskip("sacrebleu")
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    bleu = sacrebleu.corpus_bleu(predicted, [references]).score
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    totals = dict.fromkeys(("rouge1", "rouge2", "rougeL"), 0.0)
    for hypothesis, reference in zip(predicted, references):
        scores = scorer.score(reference, hypothesis)
        for name in totals:
            totals[name] += scores[name].fmeasure
    return {"bleu4": float(bleu), **{k: 100.0 * v / len(references) for k, v in totals.items()}}


def _mean(values):
    """A mean as the streamed board defines it: the correctly rounded sum over the count."""
    values = list(values)
    return math.fsum(values) / len(values)


def _reference_board(frame):
    """The leaderboard from a whole DataFrame of episodes: every number from all the episodes
    at once (the bootstrap intervals by the whole-split functions, with the episodes' keys)."""
    rows = []
    for agent, by_agent in frame.groupby("agent", sort=False):
        row = {"agent": agent, "tasks": {}}
        for task, group in by_agent.groupby("task", sort=False):
            kind = TASKS[task].kind
            totals = np.array([r["total"] for r in group["reward"]], dtype=float)
            records = group.to_dict("records")
            keys = [episode_bootstrap_key(r, i) for i, r in enumerate(records)]
            mean = _mean(totals)
            low, high = bootstrap_ci(totals, keys=keys) if len(totals) > 1 else (mean, mean)
            predicted = [a if isinstance(a, str) else "" for a in group["parsed_answer"]]
            references = list(group["reference"])
            metric_ci = {}
            if kind in HEADLINE and len(group) > 1:
                fn, key = HEADLINE[kind]
                metric_ci[key] = [float(v) for v in bootstrap_metric(fn, predicted, references, key=key, keys=keys)]
            if kind == TEMPLATE:
                found = parsing_metrics(predicted, references)
                metrics = {k: float(found[k]) for k in ("GA", "FGA", "PA", "FTA")}
                metrics["token_F1"] = _mean(m.get("token_f1", 0.0) for m in group["metrics"])
            elif kind == LABEL:
                found = anomaly_metrics(predicted, references)
                metrics = {k: float(found[k]) for k in ("precision", "recall", "F1", "accuracy")}
            else:
                metrics = _reference_text_metrics(predicted, references)
            by_domain = {}
            source = group["source"].iloc[0]  # marks unseen by itself, or a record of it says unseen
            if SOURCES[source].marks_unseen or frame[frame.source == source].unseen.any():
                for unseen, part in group.groupby("unseen"):
                    by_domain["unseen" if unseen else "seen"] = _mean(r["total"] for r in part["reward"])
            for domain, part in group.groupby("domain"):
                by_domain[f"domain:{domain}"] = _mean(r["total"] for r in part["reward"])
            latency = math.fsum(group["latency_s"])
            row["tasks"][TASKS[task].column()] = {
                "episodes": int(len(group)), "reward": mean,
                "reward_ci": [float(low), float(high)], "metrics_ci": metric_ci,
                "format_valid": float(np.mean([bool(m.get("well_formed")) for m in group["metrics"]])),
                "errors": int(sum(e is not None and e == e for e in group["error"])) if "error" in group else 0,
                "episodes_per_s": float(len(group) / latency) if latency > 0 else math.inf,
                "metrics": metrics, "by_domain": by_domain,
            }
        rows.append(row)
    columns = [cls.column() for cls in TASKS.values()]
    return {"rows": rows, "tasks": [t for t in columns if any(t in r["tasks"] for r in rows)]}


def _agents():
    return ["heuristic", ConstantAgent("the service failed because the disk is full", name="constant")]


def test_streamed_board_equals_the_whole_frame_on_the_simulator(tmp_path):
    frame = evaluate(_agents(), ENVS, split="train", episodes=25, run_dir=tmp_path / "run", batch_size=7)
    expected = _reference_board(frame)
    assert Aggregate().extend(frame.to_dict("records")).board() == expected
    # Streamed straight from results.jsonl, one record at a time: the same board.
    assert Aggregate().extend(read_results(tmp_path / "run")).board() == expected
    assert {c["by_domain"].get("seen") is not None for r in expected["rows"] for c in r["tasks"].values()} == {True}


def test_streamed_board_equals_the_whole_frame_on_real_data(tmp_path, data_dir):
    frame = evaluate(_agents(), ENVS[:3], source="loglm", split="test", episodes=20, data_dir=data_dir,
                     run_dir=tmp_path / "run")
    assert Aggregate().extend(read_results(tmp_path / "run")).board() == _reference_board(frame)


def test_streamed_board_equals_the_whole_frame_under_loghub_unseen_protocol(tmp_path, data_dir):
    frame = evaluate(_agents(), ["RLog/LogParsing-v0"], source="loghub", protocol="unseen", data_dir=data_dir,
                     domains=["Android", "Linux"], run_dir=tmp_path / "run")
    expected = _reference_board(frame)
    assert Aggregate().extend(read_results(tmp_path / "run")).board() == expected
    assert {"seen", "unseen"} <= set(expected["rows"][0]["tasks"]["LogParsing"]["by_domain"])


def test_text_metrics_streamed_equal_corpus_bleu():
    predicted = ["the disk is full on node 7", "", "restart it", "the cat sat on the mat ."]
    references = ["the disk on node 7 is full", "the service timed out", "restart the datanode",
                  "the cat is on the mat ."]
    text = TextMetrics()
    for p, r in zip(predicted, references):
        text.add(p, r)
    assert text.result() == _reference_text_metrics(predicted, references)


def test_a_task_no_longer_registered_aggregates_with_the_mean_of_its_metrics():
    """A run made with a task since removed: its cell averages the step's numeric metrics (not
    BLEU), headed by the task's name, after the registered tasks."""
    records = [{**r, "task": "log_reading", "metrics": {**r["metrics"], "correct": i % 4 == 0, "label": "x"}}
               for i, r in enumerate(_synthetic(8))]
    board = Aggregate().extend([*records, *_synthetic(3)]).board()
    assert board["tasks"] == ["AnomalyDetection", "log_reading"]
    cell = board["rows"][0]["tasks"]["log_reading"]
    assert cell["metrics"] == {"correct": 0.25} and cell["metrics_ci"] == {}
    assert cell["episodes"] == 8 and "seen" in cell["by_domain"]


def _synthetic(n, with_index=True):
    for i in range(n):
        record = {"agent": "a", "task": "anomaly_detection", "source": "sim", "domain": f"d{i % 7}",
                  "unseen": i % 5 == 0, "parsed_answer": "abnormal" if i % 3 else "normal",
                  "reference": "abnormal" if i % 2 else "normal", "reward": {"total": float(i % 3)},
                  "metrics": {"well_formed": True}, "latency_s": 0.001}
        if with_index:
            record.update(env="RLog/AnomalyDetection-v0", split="train", index=i)
        yield record


def test_memory_does_not_grow_with_the_episodes():
    """1,000 and 50,000 anomaly-detection episodes: a cell holds sums, per-resample weights and
    its distinct (answer, label) pairs — the same few hundred KB, whatever the count."""
    import tracemalloc

    Aggregate().extend(_synthetic(300)).board()  # imports, the first block of weights
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    small = Aggregate().extend(_synthetic(1_000))
    small_held = tracemalloc.get_traced_memory()[0] - before
    before, _ = tracemalloc.get_traced_memory()
    large = Aggregate().extend(_synthetic(50_000))
    large_held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert large_held < 256 * 1024, f"{large_held / 1024:.0f} KB"
    per_episode = (large_held - small_held) / 49_000
    assert per_episode < 0.5, f"{per_episode:.2f} bytes per episode"
    assert small.board()["rows"][0]["tasks"]["AnomalyDetection"]["episodes"] == 1_000
    assert large.board()["rows"][0]["tasks"]["AnomalyDetection"]["episodes"] == 50_000


def test_board_does_not_depend_on_the_order_of_the_records():
    """Means are exact sums; bootstrap weights follow each episode's sample, not its position."""
    records = list(_synthetic(3_000))
    forward = Aggregate().extend(records).board()["rows"][0]["tasks"]["AnomalyDetection"]
    backward = Aggregate().extend(reversed(records)).board()["rows"][0]["tasks"]["AnomalyDetection"]
    assert {k: v for k, v in forward.items() if k not in ("reward_ci", "episodes_per_s")} == \
        {k: v for k, v in backward.items() if k not in ("reward_ci", "episodes_per_s")}
    assert backward["reward_ci"] == pytest.approx(forward["reward_ci"], rel=1e-12)
    assert backward["episodes_per_s"] == pytest.approx(forward["episodes_per_s"], rel=1e-12)
    low, high = forward["reward_ci"]
    assert low < forward["reward"] < high
    # Every agent's interval resamples the same samples: equal rewards, equal intervals.
    other = Aggregate().extend({**r, "agent": "b"} for r in records).board()["rows"][0]
    assert other["tasks"]["AnomalyDetection"]["reward_ci"] == forward["reward_ci"]


def test_bootstrap_of_a_long_split_stays_in_bounded_memory():
    """50,000 rewards: the Poisson bootstrap keeps two sums per resample and weighs a block of
    values at a time, so the peak is a few MB; the interval is the textbook one (mean ± 1.96
    standard errors)."""
    import tracemalloc

    values = np.random.default_rng(7).normal(size=50_000)
    tracemalloc.start()
    low, high = bootstrap_ci(values)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.0f} MB"
    half = 1.96 * values.std() / np.sqrt(values.size)
    assert low == pytest.approx(values.mean() - half, abs=half * 0.15)
    assert high == pytest.approx(values.mean() + half, abs=half * 0.15)
