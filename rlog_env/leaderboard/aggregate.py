"""The leaderboard's numbers, gathered one episode at a time.

An evaluation may be far larger than memory allows to hold as records. :class:`Aggregate` takes
episode records one by one (from the runner, or streamed from ``results.jsonl``) and keeps, for
each (agent, task) cell, only sums:

- exact sums (:class:`ExactSum`, Shewchuk's algorithm, what ``math.fsum`` does) of the rewards
  and latencies, per domain and seen/unseen too; counts of format-valid answers. A mean is the
  correctly rounded sum divided by the count: it does not depend on the order of the episodes;
- the field metrics of the task's kind, from the accumulator registered for that kind
  (:func:`register_field_metrics`): for templates and labels the distinct (predicted, true)
  pairs with their counts (GA, FGA, PA, FTA, precision, recall, F1 and accuracy depend on
  nothing else), so memory follows the distinct templates, not the episodes; for free text
  sacrebleu's n-gram statistics and the ROUGE F-measures, summed; for a kind with none
  registered (or a task no longer registered), :class:`MeanMetrics`, the mean of each numeric
  entry of the step's metrics;
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
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

import numpy as np

from rlog_env._registry import Registry
from rlog_env.datasets import SOURCES
from rlog_env.leaderboard.metrics import (
    MeanBootstrap,
    PairBootstrap,
    TextMetrics,
    anomaly_metrics_of_pairs,
    bootstrap_key,
    parsing_metrics_of_pairs,
)
from rlog_env.tasks import INVESTIGATION, INVESTIGATIONS, LABEL, TASKS, TEMPLATE, TEXT

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


def episode_score(record: Mapping[str, Any]) -> float:
    """What an episode scored: its return, which is the last step's reward when it took one step."""
    return float(record["return"] if "return" in record else record["reward"]["total"])


def predicted_answer(record: Mapping[str, Any]) -> str:
    """The answer an episode record scored (``""`` when it parsed none)."""
    answer = record.get("parsed_answer")
    return answer if isinstance(answer, str) else ""


# -- field metrics per task kind --------------------------------------------------------------
class FieldMetrics(Protocol):
    """The accumulator of one cell's field metrics (one agent on one task), fed record by record.

    ``headline`` names the metric that gets a bootstrap interval beside the reward's (``None``:
    none; corpus metrics such as BLEU are too costly to recompute for every resample).
    """

    headline: str | None

    def add(self, record: Mapping[str, Any], key: int) -> None:
        """Count one episode record; ``key`` is its :func:`episode_bootstrap_key`."""

    def values(self) -> dict[str, float]:
        """The metrics of the records so far, by name, in the order tables show them."""

    def interval(self) -> tuple[float, float]:
        """The bootstrap interval of the ``headline`` metric (called only when it has one and
        the cell holds more than one episode)."""


FieldMetricsFactory = Callable[[], FieldMetrics]

# Step metrics that say how the answer was written, not how good it is.
_FORMAT_ENTRIES = frozenset({"well_formed", "answer_empty"})


def _is_number(value: Any) -> bool:
    return isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating))


class MeanMetrics:
    """The mean over a cell's episodes of numeric entries (int, float, bool) of the step's
    ``info["metrics"]``: the field metrics of a kind with none registered, and a building block
    for a kind that wants exactly these.

    Arguments:
        names: the entries to average, in that order; ``None``: every numeric entry the records
            carry (but ``well_formed`` and ``answer_empty``), in the order they first appear.
            An episode whose metrics lack an entry counts 0 for it (an unanswered episode
            carries no judgement).
        headline: the entry that gets a bootstrap interval (one of ``names``), or ``None``.
    """

    def __init__(self, names: Sequence[str] | None = None, headline: str | None = None):
        if names is not None and headline is not None and headline not in names:
            raise ValueError(f"expects headline to be one of names {list(names)}, got {headline!r}")
        self.names, self.headline = (tuple(names) if names is not None else None), headline
        self._sums: dict[str, ExactSum] = {name: ExactSum() for name in self.names or ()}
        self._episodes = 0
        self._ci = MeanBootstrap() if headline is not None else None

    def add(self, record: Mapping[str, Any], key: int) -> None:
        metrics = record.get("metrics") or {}
        self._episodes += 1
        if self.names is None:
            for name, value in metrics.items():
                if name not in _FORMAT_ENTRIES and _is_number(value):
                    total = self._sums.get(name)
                    if total is None:
                        total = self._sums[name] = ExactSum()
                    total.add(float(value))
        else:
            for name in self.names:
                value = metrics.get(name)
                self._sums[name].add(float(value) if _is_number(value) else 0.0)
        if self._ci is not None:
            value = metrics.get(self.headline)
            self._ci.add(key, float(value) if _is_number(value) else 0.0)

    def values(self) -> dict[str, float]:
        # Entries first seen after some episodes count 0 for those: the sum over all episodes.
        return {name: total.value / self._episodes for name, total in self._sums.items()}

    def interval(self) -> tuple[float, float]:
        return self._ci.interval()


class TemplateMetrics:
    """Log parsing's field metrics (templates): GA, FGA, PA and FTA of the (predicted, true)
    template pairs, the mean ``token_f1`` as ``token_F1``; GA with a bootstrap interval."""

    headline = "GA"

    def __init__(self) -> None:
        self.pairs = PairBootstrap("GA")
        self.token_f1 = ExactSum()

    def add(self, record: Mapping[str, Any], key: int) -> None:
        self.token_f1.add(float((record.get("metrics") or {}).get("token_f1", 0.0)))
        self.pairs.add(key, predicted_answer(record), str(record["reference"]))

    def values(self) -> dict[str, float]:
        found = parsing_metrics_of_pairs(self.pairs.counts)
        out = {k: float(found[k]) for k in ("GA", "FGA", "PA", "FTA")}
        out["token_F1"] = self.token_f1.mean()
        return out

    def interval(self) -> tuple[float, float]:
        return self.pairs.interval()


class LabelMetrics:
    """Anomaly detection's field metrics (labels): precision, recall and F1 of ``abnormal``
    and accuracy, of the (predicted, true) label pairs; F1 with a bootstrap interval."""

    headline = "F1"

    def __init__(self) -> None:
        self.pairs = PairBootstrap("F1")

    def add(self, record: Mapping[str, Any], key: int) -> None:
        self.pairs.add(key, predicted_answer(record), str(record["reference"]))

    def values(self) -> dict[str, float]:
        found = anomaly_metrics_of_pairs(self.pairs.counts)
        return {k: float(found[k]) for k in ("precision", "recall", "F1", "accuracy")}

    def interval(self) -> tuple[float, float]:
        return self.pairs.interval()


class FreeTextMetrics:
    """The free-text tasks' field metrics: corpus BLEU-4 and ROUGE-1/2/L (:class:`~rlog_env.
    leaderboard.metrics.TextMetrics`); none when the ``eval`` extra is not installed."""

    headline = None

    def __init__(self) -> None:
        self.text = TextMetrics()

    def add(self, record: Mapping[str, Any], key: int) -> None:
        self.text.add(predicted_answer(record), str(record["reference"]))

    def values(self) -> dict[str, float]:
        try:
            return {k: float(v) for k, v in self.text.result().items()}
        except ImportError:  # the eval extra is not installed: report what needs no extra
            return {}

    def interval(self) -> tuple[float, float]:  # pragma: no cover - no headline
        raise ValueError("the free-text metrics have no headline metric")


class InvestigationMetrics:
    """The investigation tasks' field metrics: the fully-correct rate (answer score 1), the mean
    answer score (with a bootstrap interval) and each partial-credit element over the episodes it
    applies to; what an investigation costs (turns, tool calls, tool errors, characters of tool
    output, ``seconds`` of wall time: the agent's and the environment's; for a model that
    reports its usage, the tokens of its last prompt, ``context_tokens``, and of all its
    completions) and how much of the fault's evidence the tools showed (``evidence_recall``, over faulty incidents). An
    unanswered episode scores 0 and counts as not correct."""

    headline = "score"

    def __init__(self) -> None:
        self.costs = MeanMetrics(("turns", "tool_calls", "tool_errors", "observation_chars"))
        self.score = MeanMetrics(("score",), headline="score")
        self.correct = ExactSum()
        self.elements: dict[str, ExactSum] = {}
        self.recall = ExactSum()
        self.seconds = ExactSum()
        self.context_tokens, self.completion_tokens = ExactSum(), ExactSum()

    def add(self, record: Mapping[str, Any], key: int) -> None:
        metrics = record.get("metrics") or {}
        self.costs.add(record, key)
        # An episode's wall time: the agent's turns and the environment's resets, tools, scoring.
        self.seconds.add(float(record.get("latency_s", 0.0)) + float(record.get("env_s", 0.0)))
        self.score.add(record, key)
        self.correct.add(float(metrics.get("score") == 1))
        for name, value in (metrics.get("elements") or {}).items():
            if _is_number(value):
                self.elements.setdefault(str(name), ExactSum()).add(float(value))
        if _is_number(metrics.get("evidence_recall")):
            self.recall.add(float(metrics["evidence_recall"]))
        usages = [t.get("usage") for t in record.get("turns") or () if isinstance(t, Mapping)]
        if usages and all(isinstance(u, Mapping) for u in usages):  # a model that counts its tokens
            # The last turn's prompt: the whole investigation so far, in the model's own tokens.
            self.context_tokens.add(float(usages[-1].get("prompt_tokens", 0)))
            self.completion_tokens.add(math.fsum(float(u.get("completion_tokens", 0)) for u in usages))

    def values(self) -> dict[str, float]:
        out = {"correct": self.correct.mean(), **self.score.values()}
        out.update((name, total.mean()) for name, total in self.elements.items())
        out.update(self.costs.values())
        if self.recall.count:
            out["evidence_recall"] = self.recall.mean()
        out["seconds"] = self.seconds.mean()
        if self.context_tokens.count:
            out["context_tokens"] = self.context_tokens.mean()
            out["completion_tokens"] = self.completion_tokens.mean()
        return out

    def interval(self) -> tuple[float, float]:
        return self.score.interval()


def _check(kind: str, factory: FieldMetricsFactory) -> None:
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"register_field_metrics expects a task kind (a non-empty string), got {kind!r}")
    if not callable(factory):
        raise TypeError(f"register_field_metrics expects a factory of FieldMetrics, got {factory!r}")


# Task kind -> the factory of its cells' field-metric accumulators (register_field_metrics).
FIELD_METRICS: Registry = Registry("field metrics for kind", _check)


def register_field_metrics(kind: str, factory: FieldMetricsFactory) -> FieldMetricsFactory:
    """Make ``factory()`` the field-metric accumulator (a :class:`FieldMetrics`) of every
    leaderboard cell whose task is of ``kind``; a kind already registered is an error
    (:func:`unregister_field_metrics` it first). Returns ``factory``."""
    return FIELD_METRICS.add(kind, factory)


def unregister_field_metrics(kind: str) -> None:
    """Remove the field metrics of ``kind`` (the inverse of :func:`register_field_metrics`):
    its tasks fall back to :class:`MeanMetrics`."""
    FIELD_METRICS.remove(kind)


def registered_field_metrics(kind: str, factory: FieldMetricsFactory):
    """``factory`` registered for ``kind`` for the duration of a ``with`` block (for tests)."""
    return FIELD_METRICS.registered(kind, factory)


def _task_class(task: str):
    """The registered one-step or investigation task class ``task``, or ``None``."""
    return TASKS.get(task) or INVESTIGATIONS.get(task)


def field_metrics_for(task: str) -> FieldMetrics:
    """A fresh field-metric accumulator for a cell of ``task``: its kind's registered one, or
    :class:`MeanMetrics` for a kind with none and for a task that is not registered."""
    cls = _task_class(task)
    factory = FIELD_METRICS.get(cls.kind) if cls is not None else None
    return factory() if factory is not None else MeanMetrics()


def task_column(task: str) -> str:
    """The column that heads ``task`` in the leaderboard: the task class's
    :meth:`~rlog_env.tasks.base.Task.column`, or the task's name when it is not registered."""
    cls = _task_class(task)
    return cls.column() if cls is not None else str(task)


register_field_metrics(TEMPLATE, TemplateMetrics)
register_field_metrics(LABEL, LabelMetrics)
register_field_metrics(TEXT, FreeTextMetrics)
register_field_metrics(INVESTIGATION, InvestigationMetrics)


# -- the cells --------------------------------------------------------------------------------
class _Cell:
    """One agent on one task: what its leaderboard cell is computed from."""

    def __init__(self, task: str, source: Any):
        self.task = task
        self.source = source
        spec = SOURCES.get(source) if isinstance(source, str) else None
        # Whether the seen/unseen breakdown applies: the source says so (the simulator); or a
        # record of the source says an episode is unseen, where the source can hold systems out
        # (a ``protocol`` option: LogHub's "unseen") or is not registered. A source that never
        # holds anything out (LogLM) has no unseen rows, whatever its records say.
        self.marks_unseen = bool(spec is not None and spec.marks_unseen)
        self.records_may_mark = spec is None or "protocol" in spec.option_names
        self.rewards, self.latency = ExactSum(), ExactSum()
        self.valid = 0
        self.errors = 0  # episodes whose agent failed (a request that finally failed)
        self.by_domain: dict[str, ExactSum] = {}
        self.by_unseen: dict[bool, ExactSum] = {}
        self.by_category: dict[str, ExactSum] = {}
        self.reward_ci = MeanBootstrap()
        self.fields = field_metrics_for(task)

    def add(self, record: Mapping[str, Any]) -> None:
        metrics = record.get("metrics") or {}
        key = episode_bootstrap_key(record, self.rewards.count)
        reward = episode_score(record)
        self.rewards.add(reward)
        self.reward_ci.add(key, reward)
        self.latency.add(float(record["latency_s"]))
        self.valid += bool(metrics.get("well_formed"))
        self.errors += record.get("error") is not None
        domain = str(record["domain"])
        (self.by_domain.get(domain) or self.by_domain.setdefault(domain, ExactSum())).add(reward)
        unseen = record.get("unseen")
        if isinstance(unseen, (bool, np.bool_)):
            self.by_unseen.setdefault(bool(unseen), ExactSum()).add(reward)
        category = record.get("category")
        if isinstance(category, str):
            self.by_category.setdefault(category, ExactSum()).add(reward)
        self.fields.add(record, key)

    def result(self, source_marks_unseen: bool = False) -> dict[str, Any]:
        """The cell's leaderboard entry; ``source_marks_unseen``: a record of its source (in any
        cell) says an episode is unseen, so its seen/unseen breakdown applies here too."""
        n = self.rewards.count
        mean = self.rewards.mean()
        low, high = self.reward_ci.interval() if n > 1 else (mean, mean)
        metric_ci = {}
        headline = self.fields.headline
        if headline is not None and n > 1:
            metric_ci[headline] = [float(v) for v in self.fields.interval()]
        latency = self.latency.value
        by_category = {name: [total.mean(), total.count] for name, total in sorted(self.by_category.items())}
        return {
            "episodes": n,
            "reward": mean, "reward_ci": [float(low), float(high)],
            "metrics_ci": metric_ci,
            "format_valid": self.valid / n,
            "errors": self.errors,
            "episodes_per_s": float(n / latency) if latency > 0 else math.inf,
            "metrics": self.fields.values(),
            "by_domain": self._by_domain(source_marks_unseen),
            # The mean return per fault category, with its count (records that name one: investigations).
            **({"by_category": by_category} if by_category else {}),
        }

    def _by_domain(self, source_marks_unseen: bool) -> dict[str, float]:
        out = {}
        marks = self.marks_unseen or (self.records_may_mark and (source_marks_unseen or True in self.by_unseen))
        if marks:
            for unseen, name in ((False, "seen"), (True, "unseen")):
                if unseen in self.by_unseen:
                    out[name] = self.by_unseen[unseen].mean()
        for name, total in sorted(self.by_domain.items()):
            out[f"domain:{name}"] = total.mean()
        return out


class Aggregate:
    """The leaderboard of a stream of episode records (as ``results.jsonl`` holds them).

    ``add`` each record (or ``extend`` with many), then ``board()``: one row per agent in the
    order agents first appear, each with its tasks in the order they first appear; the board's
    ``tasks`` are the columns, the registered tasks in registration order, then any task no
    longer registered (aggregated with :class:`MeanMetrics`) in the order it first appears.
    """

    def __init__(self) -> None:
        self._cells: dict[str, dict[str, _Cell]] = {}
        self._unseen_sources: set[str] = set()  # sources with a record that says unseen

    def add(self, record: Mapping[str, Any]) -> None:
        tasks = self._cells.setdefault(str(record["agent"]), {})
        task = record["task"]
        cell = tasks.get(task)
        if cell is None:
            if not isinstance(task, str) or not task:
                raise ValueError(f"an episode record's task must be a task name, got {task!r}")
            cell = tasks[task] = _Cell(task, record.get("source"))
        cell.add(record)
        unseen = record.get("unseen")
        if isinstance(unseen, (bool, np.bool_)) and unseen:
            self._unseen_sources.add(str(cell.source))

    def extend(self, records: Iterable[Mapping[str, Any]]) -> "Aggregate":
        for record in records:
            self.add(record)
        return self

    def board(self) -> dict[str, Any]:
        columns = task_columns(task for tasks in self._cells.values() for task in tasks)
        unseen = self._unseen_sources
        rows = [{"agent": agent, "tasks": {columns[task]: cell.result(str(cell.source) in unseen)
                                           for task, cell in tasks.items()}}
                for agent, tasks in self._cells.items()]
        return {"rows": rows, "tasks": list(columns.values())}


def task_columns(tasks: Iterable[str]) -> dict[str, str]:
    """The leaderboard's columns of the tasks ``tasks`` (in any order, repeats allowed), in the
    board's order: ``{task: column}``, the registered tasks in registration order, then the
    others in the order they first appear; a column that two tasks would share is named by the
    second task's name."""
    seen = dict.fromkeys(tasks)
    registered = [*TASKS, *INVESTIGATIONS]
    order = [task for task in registered if task in seen] + [task for task in seen if task not in registered]
    columns: dict[str, str] = {}
    for task in order:
        column = task_column(task)
        columns[task] = column if column not in columns.values() else task
    return columns


__all__ = [
    "FIELD_METRICS", "Aggregate", "ExactSum", "FieldMetrics", "FieldMetricsFactory", "FreeTextMetrics",
    "InvestigationMetrics", "LabelMetrics", "MeanMetrics", "TemplateMetrics", "episode_bootstrap_key", "episode_score",
    "field_metrics_for", "predicted_answer", "register_field_metrics", "registered_field_metrics", "task_column",
    "task_columns", "unregister_field_metrics",
]
