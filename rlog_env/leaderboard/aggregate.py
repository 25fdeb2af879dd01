"""The leaderboard's numbers, gathered one episode at a time.

``rlog eval`` over 100,000 episodes must not hold 100,000 records in memory. :class:`Aggregate`
takes episode records one by one (from the runner, or streamed from ``results.jsonl``) and
keeps, for each (agent, task) cell, only what the leaderboard's numbers need:

- per episode, what a bootstrap interval resamples: the reward and the latency as float64
  arrays; for log parsing and anomaly detection the predicted and the true template or label
  as references into one pool of distinct strings (8 bytes an episode; templates and labels
  repeat);
- sums for everything else: the format-valid count, per-domain rewards as a small code per
  episode, and for the free-text tasks sacrebleu's n-gram statistics and the ROUGE F-measures.

The results are those of computing over all the records at once, bit for bit
(``tests/leaderboard/test_aggregate.py`` checks it against the whole-frame definitions).
"""

from __future__ import annotations

import math
from array import array
from typing import Any, Iterable, Mapping

import numpy as np

from rlog_env.leaderboard.metrics import (
    TextMetrics,
    anomaly_metrics,
    bootstrap_ci,
    bootstrap_metric,
    parsing_metrics,
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
_UNKNOWN, _SEEN, _UNSEEN = 0, 1, 2


class _Cell:
    """One agent on one task: what its leaderboard cell is computed from."""

    def __init__(self, task: str, source: Any, pool: dict[str, str]):
        self.task, self.pool = task, pool
        self.sim = source == "sim"  # the seen/unseen breakdown is the simulator's
        self.rewards, self.latencies, self.token_f1 = array("d"), array("d"), array("d")
        self.valid = bytearray()
        self.domains: dict[str, int] = {}
        self.domain_codes, self.unseen = array("I"), bytearray()
        self.predicted: list[str] = []
        self.references: list[str] = []
        self.text = TextMetrics() if task not in HEADLINE else None

    def add(self, record: Mapping[str, Any]) -> None:
        metrics = record.get("metrics") or {}
        self.rewards.append(float(record["reward"]["total"]))
        self.latencies.append(float(record["latency_s"]))
        self.valid.append(bool(metrics.get("well_formed")))
        self.domain_codes.append(self.domains.setdefault(str(record["domain"]), len(self.domains)))
        unseen = record.get("unseen")
        self.unseen.append(_UNKNOWN if not isinstance(unseen, (bool, np.bool_)) else _UNSEEN if unseen else _SEEN)
        answer = record.get("parsed_answer")
        predicted = answer if isinstance(answer, str) else ""
        if self.text is None:
            self.token_f1.append(float(metrics.get("token_f1", 0.0)))
            # One object per distinct string: a list entry then costs a pointer.
            self.predicted.append(self.pool.setdefault(predicted, predicted))
            reference = str(record["reference"])
            self.references.append(self.pool.setdefault(reference, reference))
        else:
            self.text.add(predicted, str(record["reference"]))

    def result(self) -> dict[str, Any]:
        totals = np.frombuffer(self.rewards, dtype=float)
        mean = float(totals.mean())
        low, high = bootstrap_ci(totals) if len(totals) > 1 else (mean, mean)
        metric_ci = {}
        if self.task in HEADLINE and len(totals) > 1:
            fn, key = HEADLINE[self.task]
            metric_ci[key] = [float(v) for v in bootstrap_metric(fn, self.predicted, self.references, key=key)]
        latency = float(np.sum(np.frombuffer(self.latencies, dtype=float)))
        return {
            "episodes": len(totals),
            "reward": mean, "reward_ci": [float(low), float(high)],
            "metrics_ci": metric_ci,
            "format_valid": float(np.mean(np.frombuffer(self.valid, dtype=np.bool_))),
            "episodes_per_s": float(len(totals) / latency) if latency > 0 else math.inf,
            "metrics": self._field_metrics(),
            "by_domain": self._by_domain(totals),
        }

    def _field_metrics(self) -> dict[str, float]:
        if self.task == "log_parsing":
            found = parsing_metrics(self.predicted, self.references)
            out = {k: float(found[k]) for k in ("GA", "FGA", "PA", "FTA")}
            out["token_F1"] = float(np.mean(np.frombuffer(self.token_f1, dtype=float)))
            return out
        if self.task == "anomaly_detection":
            found = anomaly_metrics(self.predicted, self.references)
            return {k: float(found[k]) for k in ("precision", "recall", "F1", "accuracy")}
        try:
            return {k: float(v) for k, v in self.text.result().items()}
        except ImportError:  # the eval extra is not installed: report what needs no extra
            return {}

    def _by_domain(self, totals: np.ndarray) -> dict[str, float]:
        out = {}
        if self.sim:
            unseen = np.frombuffer(self.unseen, dtype=np.uint8)
            for code, name in ((_SEEN, "seen"), (_UNSEEN, "unseen")):
                if (unseen == code).any():
                    out[name] = float(np.mean(totals[unseen == code]))
        codes = np.frombuffer(self.domain_codes, dtype=np.uint32)
        for name, code in sorted(self.domains.items()):
            out[f"domain:{name}"] = float(np.mean(totals[codes == code]))
        return out


class Aggregate:
    """The leaderboard of a stream of episode records (as ``results.jsonl`` holds them).

    ``add`` each record (or ``extend`` with many), then ``board()``: one row per agent in the
    order agents first appear, each with its tasks in the order they first appear.
    """

    def __init__(self) -> None:
        self._cells: dict[str, dict[str, _Cell]] = {}
        self._pool: dict[str, str] = {}

    def add(self, record: Mapping[str, Any]) -> None:
        tasks = self._cells.setdefault(str(record["agent"]), {})
        cell = tasks.get(record["task"])
        if cell is None:
            if record["task"] not in TASK_TITLES:
                raise ValueError(f"an episode record's task must be one of {', '.join(TASK_TITLES)}, "
                                 f"got {record['task']!r}")
            cell = tasks[record["task"]] = _Cell(record["task"], record.get("source"), self._pool)
        cell.add(record)

    def extend(self, records: Iterable[Mapping[str, Any]]) -> "Aggregate":
        for record in records:
            self.add(record)
        return self

    def board(self) -> dict[str, Any]:
        rows = [{"agent": agent, "tasks": {TASK_TITLES[task]: cell.result() for task, cell in tasks.items()}}
                for agent, tasks in self._cells.items()]
        return {"rows": rows, "tasks": [t for t in TASK_TITLES.values() if any(t in r["tasks"] for r in rows)]}


__all__ = ["Aggregate", "HEADLINE", "TASK_TITLES"]
