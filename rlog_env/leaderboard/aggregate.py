"""The leaderboard's numbers, gathered one episode at a time.

``rlog eval`` over 100,000 episodes must not hold 100,000 records in memory, nor anything else
per episode. :class:`Aggregate` takes episode records one by one (from the runner, or streamed
from ``results.jsonl``) and keeps, for each (agent, task) cell, only sums:

- exact sums (:class:`ExactSum`, Shewchuk's algorithm, what ``math.fsum`` does) of the rewards,
  latencies and token F1, per domain and seen/unseen too; counts of format-valid answers. A
  mean is the correctly rounded sum divided by the count: it does not depend on the order of
  the episodes;
- for log parsing and anomaly detection, the distinct (predicted, true) template or label pairs
  with their counts (GA, FGA, PA, FTA, precision, recall, F1 and accuracy depend on nothing
  else), so memory follows the distinct templates, not the episodes;
- for the text tasks, sacrebleu's n-gram statistics and the ROUGE F-measures, summed;
- the bootstrap intervals as a streamed Poisson bootstrap (:class:`~rlog_env.leaderboard.metrics.
  MeanBootstrap`, :class:`~rlog_env.leaderboard.metrics.PairBootstrap`): per resample a weighted
  sum, O(resamples) per cell. An episode's weights are keyed by its identity (environment,
  split, source, sample index; its position in the cell when a record has no index), not by the
  agent: every agent's interval resamples the same samples, and the intervals do not depend on
  the order of the records beyond floating-point rounding.

The results are :func:`~rlog_env.leaderboard.metrics.parsing_metrics`, ``anomaly_metrics``,
``bootstrap_ci`` and ``bootstrap_metric`` over all the records at once, bit for bit
(``tests/leaderboard/test_aggregate.py`` checks it against the whole-frame definitions).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np

from rlog_env.leaderboard.metrics import (
    MeanBootstrap,
    PairBootstrap,
    TextMetrics,
    anomaly_metrics,
    anomaly_metrics_of_pairs,
    bootstrap_key,
    parsing_metrics,
    parsing_metrics_of_pairs,
)

# The field metric of each task that gets a bootstrap interval beside the reward's (the text
# metrics, corpus BLEU above all, are too costly to recompute a thousand times per cell).
HEADLINE = {"log_parsing": (parsing_metrics, "GA"), "anomaly_detection": (anomaly_metrics, "F1")}

TASK_TITLES = {
    "log_parsing": "LogParsing",
    "anomaly_detection": "AnomalyDetection",
    "log_interpretation": "LogInterpretation",
    "root_cause_analysis": "RootCauseAnalysis",
    "solution_recommendation": "SolutionRecommendation",
}


class ExactSum:
    """A float sum kept exactly (Shewchuk's partials, as ``math.fsum``), added to one value at a
    time: ``value`` is the correctly rounded sum, whatever the order of the values."""

    __slots__ = ("_partials", "count")

    def __init__(self) -> None:
        self._partials: list[float] = []
        self.count = 0

    def add(self, x: float) -> None:
        partials, i = self._partials, 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            high = x + y
            low = y - (high - x)
            if low:
                partials[i] = low
                i += 1
            x = high
        partials[i:] = [x]
        self.count += 1

    @property
    def value(self) -> float:
        return math.fsum(self._partials)

    def mean(self) -> float:
        return self.value / self.count


def episode_bootstrap_key(record: Mapping[str, Any], position: int) -> int:
    """The key of an episode's bootstrap weights: its sample (environment, split, source and
    index), or its position in the cell for a record that has no index."""
    if "index" in record and "env" in record:
        return bootstrap_key(str(record["env"]), record.get("split"), record.get("source"), int(record["index"]))
    return bootstrap_key("#position", position)


class _Cell:
    """One agent on one task: what its leaderboard cell is computed from."""

    def __init__(self, task: str, source: Any):
        self.task = task
        self.sim = source == "sim"  # the seen/unseen breakdown is the simulator's
        self.rewards, self.latency, self.token_f1 = ExactSum(), ExactSum(), ExactSum()
        self.valid = 0
        self.by_domain: dict[str, ExactSum] = {}
        self.by_unseen: dict[bool, ExactSum] = {}
        self.reward_ci = MeanBootstrap()
        self.pairs = PairBootstrap(HEADLINE[task][1]) if task in HEADLINE else None
        self.text = TextMetrics() if task not in HEADLINE else None

    def add(self, record: Mapping[str, Any]) -> None:
        metrics = record.get("metrics") or {}
        key = episode_bootstrap_key(record, self.rewards.count)
        reward = float(record["reward"]["total"])
        self.rewards.add(reward)
        self.reward_ci.add(key, reward)
        self.latency.add(float(record["latency_s"]))
        self.valid += bool(metrics.get("well_formed"))
        domain = str(record["domain"])
        (self.by_domain.get(domain) or self.by_domain.setdefault(domain, ExactSum())).add(reward)
        unseen = record.get("unseen")
        if isinstance(unseen, (bool, np.bool_)):
            self.by_unseen.setdefault(bool(unseen), ExactSum()).add(reward)
        answer = record.get("parsed_answer")
        predicted = answer if isinstance(answer, str) else ""
        if self.pairs is not None:
            self.token_f1.add(float(metrics.get("token_f1", 0.0)))
            self.pairs.add(key, predicted, str(record["reference"]))
        else:
            self.text.add(predicted, str(record["reference"]))

    def result(self) -> dict[str, Any]:
        n = self.rewards.count
        mean = self.rewards.mean()
        low, high = self.reward_ci.interval() if n > 1 else (mean, mean)
        metric_ci = {}
        if self.pairs is not None and n > 1:
            metric_ci[self.pairs.metric] = [float(v) for v in self.pairs.interval()]
        latency = self.latency.value
        return {
            "episodes": n,
            "reward": mean, "reward_ci": [float(low), float(high)],
            "metrics_ci": metric_ci,
            "format_valid": self.valid / n,
            "episodes_per_s": float(n / latency) if latency > 0 else math.inf,
            "metrics": self._field_metrics(),
            "by_domain": self._by_domain(),
        }

    def _field_metrics(self) -> dict[str, float]:
        if self.task == "log_parsing":
            found = parsing_metrics_of_pairs(self.pairs.counts)
            out = {k: float(found[k]) for k in ("GA", "FGA", "PA", "FTA")}
            out["token_F1"] = self.token_f1.mean()
            return out
        if self.task == "anomaly_detection":
            found = anomaly_metrics_of_pairs(self.pairs.counts)
            return {k: float(found[k]) for k in ("precision", "recall", "F1", "accuracy")}
        try:
            return {k: float(v) for k, v in self.text.result().items()}
        except ImportError:  # the eval extra is not installed: report what needs no extra
            return {}

    def _by_domain(self) -> dict[str, float]:
        out = {}
        if self.sim:
            for unseen, name in ((False, "seen"), (True, "unseen")):
                if unseen in self.by_unseen:
                    out[name] = self.by_unseen[unseen].mean()
        for name, total in sorted(self.by_domain.items()):
            out[f"domain:{name}"] = total.mean()
        return out


class Aggregate:
    """The leaderboard of a stream of episode records (as ``results.jsonl`` holds them).

    ``add`` each record (or ``extend`` with many), then ``board()``: one row per agent in the
    order agents first appear, each with its tasks in the order they first appear.
    """

    def __init__(self) -> None:
        self._cells: dict[str, dict[str, _Cell]] = {}

    def add(self, record: Mapping[str, Any]) -> None:
        tasks = self._cells.setdefault(str(record["agent"]), {})
        cell = tasks.get(record["task"])
        if cell is None:
            if record["task"] not in TASK_TITLES:
                raise ValueError(f"an episode record's task must be one of {', '.join(TASK_TITLES)}, "
                                 f"got {record['task']!r}")
            cell = tasks[record["task"]] = _Cell(record["task"], record.get("source"))
        cell.add(record)

    def extend(self, records: Iterable[Mapping[str, Any]]) -> "Aggregate":
        for record in records:
            self.add(record)
        return self

    def board(self) -> dict[str, Any]:
        rows = [{"agent": agent, "tasks": {TASK_TITLES[task]: cell.result() for task, cell in tasks.items()}}
                for agent, tasks in self._cells.items()]
        return {"rows": rows, "tasks": [t for t in TASK_TITLES.values() if any(t in r["tasks"] for r in rows)]}


__all__ = ["Aggregate", "ExactSum", "HEADLINE", "TASK_TITLES", "episode_bootstrap_key"]
