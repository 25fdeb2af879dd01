"""Field metrics per task kind: a task of a new kind shows its own metrics on the leaderboard.

A toy task (the level of the last log line, a kind no layer knows) is registered through the
public functions only; its episodes go through :class:`Aggregate` and the tables. With no field
metrics for its kind it gets the mean of its step metrics; with field metrics registered for
its kind, those. Never BLEU or ROUGE. Every registry is restored afterwards.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import ClassVar

import pytest

from rlog_env.leaderboard import (
    FIELD_METRICS,
    Aggregate,
    MeanMetrics,
    register_field_metrics,
    registered_field_metrics,
    unregister_field_metrics,
)
from rlog_env.leaderboard.metrics import MeanBootstrap
from rlog_env.leaderboard.tables import markdown, write
from rlog_env.tasks import TASKS, Task, registered_task
from rlog_env.tasks.base import Judgement

LEVELS = ("INFO", "WARN", "ERROR")


@dataclass(frozen=True)
class ToyLevel(Task):
    """The level of the last log line."""

    name: ClassVar[str] = "toy_level"
    kind: ClassVar[str] = "level"
    env_id: ClassVar[str] = "RLog/ToyLevel-v0"
    title: ClassVar[str] = "Toy level"
    default_instruction: ClassVar[str] = "Name the level of the last line."
    answer_rule: ClassVar[str] = "The answer is one word: INFO, WARN or ERROR."
    rlog_answer_range: ClassVar[tuple[float, float]] = (-1.0, 1.0)

    def judge(self, answer: str, reference: str, logs: str, facts=None) -> Judgement:
        correct = answer.strip().upper() == reference.strip().upper()
        return Judgement(rlog=1.0 if correct else -1.0, unit=float(correct), metrics={"correct": correct})


class LevelAccuracy:
    """Field metrics a task author registers for the ``level`` kind: the accuracy, with a
    bootstrap interval."""

    headline = "accuracy"

    def __init__(self) -> None:
        self.right, self.n, self.ci = 0, 0, MeanBootstrap()

    def add(self, record, key: int) -> None:
        correct = bool((record.get("metrics") or {}).get("correct"))
        self.right, self.n = self.right + correct, self.n + 1
        self.ci.add(key, float(correct))

    def values(self) -> dict[str, float]:
        return {"accuracy": self.right / self.n}

    def interval(self) -> tuple[float, float]:
        return self.ci.interval()


def _records(agent: str, answers, source: str = "toy"):
    task = ToyLevel()
    for i, answer in enumerate(answers):
        reference = LEVELS[i % 3]
        reward = task.score(f"<think>Read the last line.</think><answer>{answer(reference)}</answer>", reference)
        parsed = task.parse(f"<think>Read the last line.</think><answer>{answer(reference)}</answer>").answer
        yield {"agent": agent, "env": ToyLevel.env_id, "task": ToyLevel.name, "source": source,
               "split": "test", "index": i, "domain": f"d{i % 2}", "unseen": False,
               "parsed_answer": parsed, "reference": reference, "reward": reward.as_dict(),
               "metrics": dict(reward.details), "latency_s": 0.001}


def _run():
    """Two agents: one right on every episode, one right on a third (always INFO)."""
    return [*_records("oracle", [lambda r: r] * 12), *_records("info", [lambda r: "INFO"] * 12)]


def _block(md: str, column: str) -> str:
    """The Markdown table of ``column``'s field metrics."""
    return md.split(f"**{column}**", 1)[1].split("\n\n", 2)[1]


@pytest.fixture
def registries():
    tasks, fields = dict(TASKS), dict(FIELD_METRICS)
    yield
    assert dict(TASKS) == tasks and TASKS.keys() == tasks.keys()
    assert FIELD_METRICS == fields


def test_a_task_of_a_new_kind_shows_the_mean_of_its_step_metrics(registries, tmp_path):
    with registered_task(ToyLevel):
        assert ToyLevel.kind not in FIELD_METRICS
        board = Aggregate().extend(_run()).board()
        assert board["tasks"] == ["ToyLevel"]
        cells = {row["agent"]: row["tasks"]["ToyLevel"] for row in board["rows"]}
        assert cells["oracle"]["metrics"] == {"correct": 1.0}
        assert cells["info"]["metrics"] == {"correct": pytest.approx(1 / 3)}
        assert cells["info"]["metrics_ci"] == {}
        md = markdown(board)
        block = _block(md, "ToyLevel")
        assert block.splitlines()[0] == "| agent | correct |"
        assert "| info | 0.333 |" in block
        assert "bleu" not in md.lower() and "rouge" not in md.lower()
        write(board, tmp_path)
    names = {row["metric"] for row in csv.DictReader((tmp_path / "leaderboard.csv").open())}
    assert "correct" in names and not any("bleu" in n or "rouge" in n for n in names)
    assert json.loads((tmp_path / "leaderboard.json").read_text()) == json.loads(json.dumps(board))


def test_field_metrics_registered_for_the_kind_replace_the_fallback(registries):
    with registered_task(ToyLevel), registered_field_metrics(ToyLevel.kind, LevelAccuracy):
        board = Aggregate().extend(_run()).board()
        cell = board["rows"][1]["tasks"]["ToyLevel"]
        assert cell["metrics"] == {"accuracy": pytest.approx(1 / 3)}
        low, high = cell["metrics_ci"]["accuracy"]
        assert 0.0 <= low < 1 / 3 < high <= 1.0
        block = _block(markdown(board), "ToyLevel")
        assert block.splitlines()[0] == "| agent | accuracy |"
        assert f"| info | 0.333 [{low:.3f}, {high:.3f}] |" in block
        assert "correct" not in block and "bleu" not in block
    # Once the task is gone its past runs still aggregate, with the fallback, under its name.
    board = Aggregate().extend(_run()).board()
    assert board["tasks"] == ["toy_level"]
    assert board["rows"][0]["tasks"]["toy_level"]["metrics"] == {"correct": 1.0}


def test_mean_metrics_named_entries_and_headline(registries):
    with registered_task(ToyLevel), registered_field_metrics(
            ToyLevel.kind, lambda: MeanMetrics(["correct", "missing"], headline="correct")):
        cell = Aggregate().extend(_run()).board()["rows"][1]["tasks"]["ToyLevel"]
    assert cell["metrics"] == {"correct": pytest.approx(1 / 3), "missing": 0.0}
    assert set(cell["metrics_ci"]) == {"correct"}
    with pytest.raises(ValueError, match="headline"):
        MeanMetrics(["correct"], headline="accuracy")


def test_an_unanswered_episode_counts_zero_in_the_mean():
    records = list(_records("a", [lambda r: r, lambda r: ""]))  # the second: an empty answer
    assert "correct" not in records[1]["metrics"]
    fields = MeanMetrics()
    for i, record in enumerate(records):
        fields.add(record, i)
    assert fields.values() == {"correct": 0.5}


def test_registering_field_metrics_twice_or_removing_none_is_an_error(registries):
    with pytest.raises(ValueError, match="already registered"):
        register_field_metrics("label", LevelAccuracy)
    with pytest.raises(ValueError, match="no field metrics"):
        unregister_field_metrics("level")
    register_field_metrics("level", LevelAccuracy)
    unregister_field_metrics("level")


def test_seen_unseen_follows_the_source_spec_or_the_records(registries):
    """A registered source says whether it marks held-out domains (loglm does not, so its
    records' ``unseen`` is ignored); for a source not registered, the records say so."""
    with registered_task(ToyLevel):
        marked = [{**r, "unseen": r["index"] % 4 == 0} for r in _records("a", [lambda r: r] * 8)]
        by_domain = Aggregate().extend(marked).board()["rows"][0]["tasks"]["ToyLevel"]["by_domain"]
        assert {"seen", "unseen"} <= set(by_domain)
        unmarked = list(_records("a", [lambda r: r] * 8))
        by_domain = Aggregate().extend(unmarked).board()["rows"][0]["tasks"]["ToyLevel"]["by_domain"]
        assert "seen" not in by_domain and "domain:d0" in by_domain
        loglm = [{**r, "source": "loglm"} for r in marked]
        by_domain = Aggregate().extend(loglm).board()["rows"][0]["tasks"]["ToyLevel"]["by_domain"]
        assert "seen" not in by_domain and "unseen" not in by_domain
