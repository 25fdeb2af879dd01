"""The field's own metrics over a whole split, and bootstrap confidence intervals for them.

The environments score one answer at a time with the R-Log reward. The literature reports other
numbers, computed over a whole split; this module computes those, as pure functions:

- :func:`parsing_metrics` — the four Loghub-2.0 log-parsing metrics GA, FGA, PA and FTA
  (Jiang et al., ISSTA'24; GA from Zhu et al., ICSE'19). Checked against the values that
  logpai's own evaluators give Drain's predictions (``reference/drain_metrics.tsv``).
- :func:`anomaly_metrics` — precision, recall and F1 of ``abnormal``, and accuracy.
- :func:`text_metrics` — sacrebleu corpus BLEU-4 and rouge-score ROUGE-1/2/L, the
  implementations the literature reports with (the optional extra ``eval``).
- :func:`bootstrap_ci` and :func:`bootstrap_metric` — seeded percentile-bootstrap intervals,
  for a mean of per-episode values or for a metric of a whole split (GA, F1, ...).

Nothing here imports sacrebleu or rouge-score until :func:`text_metrics` is called.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from rlog_env.tasks.anomaly_detection import ABNORMAL, NORMAL

__all__ = [
    "anomaly_metrics",
    "bootstrap_ci",
    "bootstrap_metric",
    "parsing_metrics",
    "text_metrics",
    "TextMetrics",
]

_EVAL_EXTRA_HINT = "pip install 'rlog_env[eval]'"


def _harmonic(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _check_lengths(name_a: str, a: Sequence, name_b: str, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(
            f"expects {name_a} and {name_b} of the same length (one entry per message), "
            f"got {len(a)} and {len(b)}"
        )
    if len(a) == 0:
        raise ValueError(f"expects at least one message, got empty {name_a} and {name_b}")


# -- log parsing ------------------------------------------------------------------------------
def parsing_metrics(
    predicted: Sequence[str | None],
    truth: Sequence[str | None],
    *,
    truth_groups: Sequence[Hashable | None] | None = None,
) -> dict[str, float | int]:
    """GA, FGA, PA and FTA of predicted templates over a split, as Loghub-2.0 defines them.

    ``predicted[i]`` and ``truth[i]`` are the predicted and true templates of message ``i``
    (messages are aligned by position, as both reference evaluators do). Messages are grouped by
    their template string; ``truth_groups`` replaces the truth's grouping key for GA and FGA
    (logparser's evaluator, which published GA values such as Zhu et al., ICSE'19 come from,
    groups the ground truth by ``EventId``; Loghub-2.0's by template string). PA and FTA always
    compare template strings.

    - **GA** (grouping accuracy): the share of messages whose predicted group — the messages
      with the same predicted template — is exactly their true group, as a set of messages.
    - **FGA**: with k the number of true groups that are predicted exactly in that sense, the
      harmonic mean of PGA = k / (distinct predicted templates) and RGA = k / (distinct true
      groups).
    - **PA** (parsing accuracy): the share of messages whose predicted template string equals
      the true one.
    - **FTA**: a predicted template is correct when every message it covers has one and the same
      true template and that template is the predicted string; the harmonic mean of PTA =
      correct / (distinct predicted templates) and RTA = correct / (distinct true templates).
      As in Loghub-2.0's code, a correct predicted template need not cover *all* the messages
      of its true template: for truth ``[t, t, t]`` and prediction ``[t, t, u]``, ``t`` is a
      correct template (FTA 2/3) though GA is 0. (On the Drain reference predictions this
      reading and the stricter "covers the whole true group" give the same values.)

    Strings are compared exactly as given, as the reference evaluators do: no stripping or
    whitespace folding (apply :func:`rlog_env.tasks.parsing_metric.normalise_template` to both
    sides first if that is wanted). A predicted ``None`` (no answer) counts as the empty
    template ``""``, as Loghub-2.0 fills missing predictions. A true ``None`` marks an
    unlabelled message: like both reference evaluators, GA, FGA and FTA leave it out (and so
    does GA for a ``None`` in ``truth_groups``), while PA keeps it in its denominator and
    counts it wrong, as Loghub-2.0's PA does.

    Returns a dict with ``GA``, ``FGA``, ``PA``, ``FTA`` (fractions in [0, 1]), the parts
    ``PGA``, ``RGA``, ``PTA``, ``RTA``, and the counts ``messages``, ``predicted_templates``
    and ``true_templates`` (distinct templates over the labelled messages). Every ratio whose
    denominator is zero is 0.0.
    """
    _check_lengths("predicted", predicted, "truth", truth)
    if truth_groups is not None and len(truth_groups) != len(truth):
        raise ValueError(
            "expects truth_groups with one key per message like truth, "
            f"got {len(truth_groups)} keys for {len(truth)} messages"
        )
    pred = ["" if p is None else p for p in predicted]
    n = len(pred)

    # PA: every message in the denominator, an unlabelled one is never right.
    pa = sum(1 for p, t in zip(pred, truth) if t is not None and p == t) / n

    # GA and FGA over the messages whose grouping key is known.
    keys = truth if truth_groups is None else truth_groups
    ga_rows = [i for i in range(n) if keys[i] is not None]
    true_members: dict[Hashable, list[int]] = defaultdict(list)
    for i in ga_rows:
        true_members[keys[i]].append(i)
    predicted_sizes = Counter(pred[i] for i in ga_rows)
    correct_messages = correct_groups = 0
    for members in true_members.values():
        first = pred[members[0]]
        # The group is right when all its messages share one predicted template and that
        # template covers no other (labelled) message.
        if predicted_sizes[first] == len(members) and all(pred[i] == first for i in members):
            correct_messages += len(members)
            correct_groups += 1
    ga = correct_messages / len(ga_rows) if ga_rows else 0.0
    pga = correct_groups / len(predicted_sizes) if predicted_sizes else 0.0
    rga = correct_groups / len(true_members) if true_members else 0.0

    # FTA over the messages with a true template.
    labelled = [i for i in range(n) if truth[i] is not None]
    truths_under: dict[str, set[str]] = defaultdict(set)
    for i in labelled:
        truths_under[pred[i]].add(truth[i])
    correct_templates = sum(1 for template, seen in truths_under.items() if seen == {template})
    n_true_templates = len({truth[i] for i in labelled})
    pta = correct_templates / len(truths_under) if truths_under else 0.0
    rta = correct_templates / n_true_templates if n_true_templates else 0.0

    return {
        "GA": ga,
        "FGA": _harmonic(pga, rga),
        "PA": pa,
        "FTA": _harmonic(pta, rta),
        "PGA": pga,
        "RGA": rga,
        "PTA": pta,
        "RTA": rta,
        "messages": n,
        "predicted_templates": len(truths_under),
        "true_templates": n_true_templates,
    }


# -- anomaly detection ------------------------------------------------------------------------
def anomaly_metrics(
    predicted_labels: Sequence[str | None],
    true_labels: Sequence[str],
) -> dict[str, float | int]:
    """Precision, recall and F1 of the ``abnormal`` class, and accuracy, over a split.

    Labels are compared after stripping and lower-casing, as the task's reward does. A true
    label must be ``normal`` or ``abnormal``. A predicted label that is neither (an invalid or
    missing answer, ``None`` included) is treated as *not abnormal* for precision, recall and
    F1 — it can miss an abnormal message but never raise a false alarm — and as wrong for
    accuracy whatever the true label. Zero divisions give 0.0: precision is 0.0 when nothing is
    predicted abnormal, recall is 0.0 when nothing is truly abnormal, F1 is 0.0 when precision
    and recall are both 0.0 (scikit-learn's ``zero_division=0``).

    Returns ``precision``, ``recall``, ``F1``, ``accuracy`` (fractions in [0, 1]) and the counts
    ``tp``, ``fp``, ``fn``, ``tn``, ``invalid`` and ``messages``; ``tn`` counts valid
    ``normal`` predictions of normal messages only, so
    ``tp + fp + fn + tn + (invalid predictions of normal messages) == messages``.
    """
    _check_lengths("predicted_labels", predicted_labels, "true_labels", true_labels)
    tp = fp = fn = tn = invalid = correct = 0
    for raw_pred, raw_true in zip(predicted_labels, true_labels):
        true = str(raw_true).strip().lower()
        if true not in (NORMAL, ABNORMAL):
            raise ValueError(
                f"expects every true label to be {NORMAL!r} or {ABNORMAL!r}, got {raw_true!r}"
            )
        pred = "" if raw_pred is None else str(raw_pred).strip().lower()
        if pred not in (NORMAL, ABNORMAL):
            invalid += 1
        if pred == true:
            correct += 1
        if pred == ABNORMAL:
            if true == ABNORMAL:
                tp += 1
            else:
                fp += 1
        elif true == ABNORMAL:
            fn += 1
        elif pred == NORMAL:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "F1": _harmonic(precision, recall),
        "accuracy": correct / len(true_labels),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "invalid": invalid,
        "messages": len(true_labels),
    }


# -- text -------------------------------------------------------------------------------------
def text_metrics(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU-4 (sacrebleu) and mean ROUGE-1/2/L F-measure (rouge-score), in per cent.

    - ``bleu4``: ``sacrebleu.corpus_bleu(predictions, [references])`` with its defaults — the
      ``13a`` tokenizer, case kept, ``smooth_method="exp"`` (an n-gram order with no match
      counts 1 / (2^k · total) instead of zeroing the score), one reference per prediction.
      A corpus score (n-gram counts pooled over the split), not the mean of sentence scores.
    - ``rouge1``, ``rouge2``, ``rougeL``: ``rouge_scorer.RougeScorer(['rouge1', 'rouge2',
      'rougeL'], use_stemmer=False)``, the F-measure of each (reference, prediction) pair,
      averaged over the pairs. rouge-score's tokenizer lower-cases and keeps only ``[a-z0-9]``
      runs, so text without such characters scores 0.

    These are the literature's implementations and differ from the R-Log reward's whitespace
    BLEU/ROUGE (:mod:`rlog_env.tasks.text_metrics`). A ``None`` prediction counts as ``""``.
    Needs the optional extra ``eval``; raises :class:`ImportError` naming it otherwise.
    """
    _check_lengths("predictions", predictions, "references", references)
    text = TextMetrics()
    for prediction, reference in zip(predictions, references):
        text.add(prediction, reference)
    return text.result()


class TextMetrics:
    """:func:`text_metrics` gathered one (prediction, reference) pair at a time, in constant
    memory: sacrebleu's per-sentence n-gram statistics are summed (corpus BLEU is computed
    from those sums, exactly as ``corpus_bleu`` does) and so are the ROUGE F-measures."""

    def __init__(self) -> None:
        try:
            import sacrebleu
            from rouge_score import rouge_scorer
        except ImportError as error:
            self._missing: ImportError | None = ImportError(
                f"text_metrics needs sacrebleu and rouge-score: {_EVAL_EXTRA_HINT} ({error})")
            return
        self._missing = None
        self._bleu = sacrebleu.BLEU()  # corpus_bleu's defaults: 13a tokens, case kept, exp smoothing
        self._rouge = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
        self._stats: list[int] | None = None
        self._totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
        self._n = 0

    def add(self, prediction: str | None, reference: str) -> None:
        """Count one pair (a ``None`` prediction counts as ``""``)."""
        if self._missing is not None:
            return
        hypothesis, reference = "" if prediction is None else str(prediction), str(reference)
        stats = self._bleu._extract_corpus_statistics([hypothesis], [[reference]])[0]
        self._stats = list(stats) if self._stats is None else [a + b for a, b in zip(self._stats, stats)]
        scores = self._rouge.score(reference, hypothesis)  # (target, prediction)
        for name in self._totals:
            self._totals[name] += scores[name].fmeasure
        self._n += 1

    def result(self) -> dict[str, float]:
        """``bleu4``, ``rouge1``, ``rouge2``, ``rougeL`` in per cent, as :func:`text_metrics`."""
        if self._missing is not None:
            raise self._missing
        if not self._n:
            raise ValueError("expects at least one (prediction, reference) pair, got none")
        bleu = self._bleu._compute_score_from_stats(self._stats).score
        return {"bleu4": float(bleu), **{name: 100.0 * total / self._n for name, total in self._totals.items()}}


# -- bootstrap --------------------------------------------------------------------------------
def _check_bootstrap(n_resamples: int, confidence: float) -> None:
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"expects n_resamples to be a positive integer, got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(
            f"expects confidence strictly between 0 and 1 (e.g. 0.95), got {confidence!r}"
        )


def _percentile_interval(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(stats, [alpha / 2, 1.0 - alpha / 2])
    return float(low), float(high)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[..., Any] = np.mean,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``statistic(values)``, e.g. a mean reward.

    Draws ``n_resamples`` resamples of ``values`` with replacement from
    ``np.random.default_rng(seed)``, computes the statistic on each and returns its
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles (numpy's default linear
    interpolation). The same seed and inputs always give the same interval. ``statistic`` is
    first called on a whole ``(resamples, n)`` matrix with ``axis=-1`` (fast for numpy
    reductions); if it does not take ``axis`` or returns another shape, it is called per
    resample. Resamples are drawn in blocks of at most 256 Ki indices (one block, the whole
    matrix, below that), so memory stays bounded however long the split.
    """
    _check_bootstrap(n_resamples, confidence)
    data = np.asarray(values, dtype=float)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(f"expects a non-empty 1-D sequence of values, got shape {data.shape}")
    stats = np.concatenate([_statistics(statistic, data[rows])
                            for rows in _resampled_rows(seed, data.size, n_resamples)])
    return _percentile_interval(stats, confidence)


def _statistics(statistic: Callable[..., Any], samples: np.ndarray) -> np.ndarray:
    """``statistic`` of each row of ``samples``: once on the whole matrix with ``axis=-1`` when
    it takes that, else row by row."""
    try:
        stats = np.asarray(statistic(samples, axis=-1), dtype=float)
        if stats.shape == (len(samples),):
            return stats
    except TypeError:
        pass
    return np.array([float(statistic(row)) for row in samples])


# Resample indices are drawn in blocks of at most this many (2 MB): a split of 100,000
# episodes would otherwise take 800 MB of indices for 1,000 resamples, and the peak memory of
# an evaluation would follow its length. A split small enough for one block (up to 262
# episodes at 1,000 resamples) gets exactly the indices of one
# ``integers(0, n, size=(n_resamples, n))`` call.
_BLOCK = 1 << 18


def _resampled_rows(seed: int, n: int, n_resamples: int):
    """The bootstrap's resamples of ``range(n)``, as blocks of index rows, from ``seed``."""
    rng = np.random.default_rng(seed)
    per_block = max(1, _BLOCK // n)
    for start in range(0, n_resamples, per_block):
        yield rng.integers(0, n, size=(min(per_block, n_resamples - start), n))


def _take(column: Sequence[Any], index: np.ndarray) -> Sequence[Any]:
    if isinstance(column, np.ndarray):
        return column[index]
    if hasattr(column, "iloc"):  # a pandas Series: by position, not by label
        return column.iloc[index].tolist()
    return [column[i] for i in index]


def bootstrap_metric(
    fn: Callable[..., Any],
    *columns: Sequence[Any],
    key: str | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of a metric of a whole split, such as GA or F1.

    Resamples row indices with replacement — the same indices for every column, so pairs stay
    paired — and recomputes ``fn(*resampled_columns)`` on each resample. When ``fn`` returns a
    mapping (as :func:`parsing_metrics` and :func:`anomaly_metrics` do), ``key`` picks the value.
    Seeding and the interval are as in :func:`bootstrap_ci`. For example::

        bootstrap_metric(parsing_metrics, predicted, truth, key="GA")
        bootstrap_metric(anomaly_metrics, predicted_labels, true_labels, key="F1")

    A message drawn twice counts twice (in GA it joins its own group twice), the usual
    treatment of a resampled split.
    """
    _check_bootstrap(n_resamples, confidence)
    if not columns:
        raise ValueError("expects at least one column to resample, got none")
    n = len(columns[0])
    if n == 0 or any(len(column) != n for column in columns):
        raise ValueError(
            "expects non-empty columns of one length, got lengths "
            f"{[len(column) for column in columns]}"
        )
    stats = []
    for rows in _resampled_rows(seed, n, n_resamples):
        for index in rows:
            result = fn(*(_take(column, index) for column in columns))
            if isinstance(result, Mapping):
                if key is None:
                    raise ValueError(
                        f"expects key= to pick one of {sorted(result)} from the mapping fn returns"
                    )
                result = result[key]
            stats.append(float(result))
    return _percentile_interval(np.array(stats), confidence)
