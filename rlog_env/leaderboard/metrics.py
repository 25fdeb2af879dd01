"""The field's own metrics over a whole split, and bootstrap confidence intervals for them.

The environments score one answer at a time with the R-Log reward. The literature reports other
numbers, computed over a whole split; this module computes those, as pure functions:

- :func:`parsing_metrics` — the four Loghub-2.0 log-parsing metrics GA, FGA, PA and FTA
  (Jiang et al., ISSTA'24; GA from Zhu et al., ICSE'19). Checked against the values that
  logpai's own evaluators give Drain's predictions (``reference/drain_metrics.tsv``).
- :func:`anomaly_metrics` — precision, recall and F1 of ``abnormal``, and accuracy.
- :func:`text_metrics` — sacrebleu corpus BLEU-4 and rouge-score ROUGE-1/2/L, the
  implementations the literature reports with (the optional extra ``eval``).
- :func:`bootstrap_ci` and :func:`bootstrap_metric` — seeded percentile intervals of the
  Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012, "Estimating uncertainty
  for massive data streams"), for a mean of per-episode values or for a metric of a whole split
  (GA, F1, ...); :class:`MeanBootstrap` and :class:`PairBootstrap` compute the same intervals
  streamed, in memory that does not follow the number of episodes (the leaderboard's).

Nothing here imports sacrebleu or rouge-score until :func:`text_metrics` is called.
"""

from __future__ import annotations

import hashlib
import json
import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from rlog_env.tasks.anomaly_detection import ABNORMAL, NORMAL

__all__ = [
    "anomaly_metrics",
    "anomaly_metrics_of_pairs",
    "bootstrap_ci",
    "bootstrap_key",
    "bootstrap_metric",
    "MeanBootstrap",
    "PairBootstrap",
    "parsing_metrics",
    "parsing_metrics_of_pairs",
    "poisson_weights",
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
    return anomaly_metrics_of_pairs(Counter(zip(predicted_labels, true_labels)))


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


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """The length of the longest common subsequence of token sequences ``a`` and ``b``: the last
    cell of rouge-score's ``_lcs_table``, computed bit-parallel (Allison & Dix 1986; Hyyrö 2004):
    one bit per token of ``b`` in a Python integer, one addition, subtraction and two masks per
    token of ``a`` — O(len(a) · len(b) / 64) machine words instead of a table of Python ints."""
    if not a or not b:
        return 0
    matches: dict[str, int] = {}
    for position, token in enumerate(b):
        matches[token] = matches.get(token, 0) | (1 << position)
    full = (1 << len(b)) - 1
    v = full  # a 0 bit marks a position where the LCS grew
    for token in a:
        u = v & matches.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - bin(v).count("1")


def rouge_n(target_tokens: Sequence[str], prediction_tokens: Sequence[str], n: int) -> float:
    """rouge-score's ROUGE-N F-measure of tokenised texts (``rouge_scorer._score_ngrams``: the
    n-grams both share, counted with their multiplicity, over each side's n-gram count, at least 1)."""
    target = Counter(zip(*(target_tokens[i:] for i in range(n))))
    prediction = Counter(zip(*(prediction_tokens[i:] for i in range(n))))
    overlap = sum((target & prediction).values())
    precision = overlap / max(sum(prediction.values()), 1)
    recall = overlap / max(sum(target.values()), 1)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def rouge_l(target_tokens: Sequence[str], prediction_tokens: Sequence[str]) -> float:
    """rouge-score's ROUGE-L F-measure of tokenised texts (``rouge_scorer._score_lcs``: 0 when
    either is empty, else the harmonic mean of LCS / prediction and LCS / target)."""
    if not target_tokens or not prediction_tokens:
        return 0.0
    lcs = lcs_length(target_tokens, prediction_tokens)
    precision, recall = lcs / len(prediction_tokens), lcs / len(target_tokens)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


_TOKENIZER_CACHE_EVERY = 1024  # pairs between two clearings of sacrebleu's tokenizer caches


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
        from rouge_score import tokenizers
        self._bleu = sacrebleu.BLEU()  # corpus_bleu's defaults: 13a tokens, case kept, exp smoothing
        # RougeScorer.score's F-measures with each text tokenised once, n-grams counted in C, and
        # ROUGE-L's LCS length computed bit-parallel — its own dynamic-programming table, in pure
        # Python, was two thirds of a text leaderboard's time. Equal to RougeScorer's (a test).
        self._tokenizer = tokenizers.DefaultTokenizer(use_stemmer=False)  # RougeScorer's, use_stemmer=False
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
        target, tokens = self._tokenizer.tokenize(reference), self._tokenizer.tokenize(hypothesis)
        self._totals["rouge1"] += rouge_n(target, tokens, 1)
        self._totals["rouge2"] += rouge_n(target, tokens, 2)
        self._totals["rougeL"] += rouge_l(target, tokens)
        self._n += 1
        if self._n % _TOKENIZER_CACHE_EVERY == 0:
            self._clear_tokenizer_caches()

    def _clear_tokenizer_caches(self) -> None:
        """Empty sacrebleu's tokenizer caches (``lru_cache(maxsize=2**16)`` on each tokenizer's
        ``__call__``, shared by every instance): filled by a long split's distinct sentences
        they reach tens of megabytes, so a leaderboard's memory would follow its episodes up to
        65,536 of them. Cleared every few thousand sentences, they cost nothing but a re-tokenised
        repeated reference; the scores are the same."""
        tokenizer = getattr(self._bleu, "tokenizer", None)
        for part in (tokenizer, getattr(tokenizer, "_post_tokenizer", None)):
            cached = getattr(type(part), "__call__", None) if part is not None else None
            if hasattr(cached, "cache_clear"):
                cached.cache_clear()

    def result(self) -> dict[str, float]:
        """``bleu4``, ``rouge1``, ``rouge2``, ``rougeL`` in per cent, as :func:`text_metrics`."""
        if self._missing is not None:
            raise self._missing
        if not self._n:
            raise ValueError("expects at least one (prediction, reference) pair, got none")
        bleu = self._bleu._compute_score_from_stats(self._stats).score
        return {"bleu4": float(bleu), **{name: 100.0 * total / self._n for name, total in self._totals.items()}}


# -- metrics of counted (prediction, truth) pairs ------------------------------------------------
# GA, FGA, PA and FTA, like precision, recall and F1, depend only on how many messages carry each
# distinct (predicted, true) pair: a split is summed up by its distinct pairs and their counts,
# which a streamed leaderboard keeps instead of one entry per message.
def parsing_metrics_of_pairs(pairs: Mapping[tuple[str, str | None], int]) -> dict[str, float | int]:
    """:func:`parsing_metrics` of the messages that ``pairs`` counts: ``{(predicted, truth):
    messages}`` (a predicted ``None`` counted as ``""`` beforehand; a true ``None`` is an
    unlabelled message). The same numbers as :func:`parsing_metrics` over the messages listed
    one by one, bit for bit (the same integer counts, divided the same way)."""
    n = sum(pairs.values())
    if not pairs or n <= 0:
        raise ValueError("expects at least one message, got no (predicted, truth) pairs")
    pa = sum(c for (p, t), c in pairs.items() if t is not None and p == t) / n
    labelled = {pt: c for pt, c in pairs.items() if pt[1] is not None and c > 0}
    messages = sum(labelled.values())
    group_size: dict[str, int] = defaultdict(int)
    predicted_size: dict[str, int] = defaultdict(int)
    predictions_of: dict[str, set[str]] = defaultdict(set)
    truths_under: dict[str, set[str]] = defaultdict(set)
    for (p, t), c in labelled.items():
        group_size[t] += c
        predicted_size[p] += c
        predictions_of[t].add(p)
        truths_under[p].add(t)
    correct_messages = correct_groups = 0
    for t, size in group_size.items():
        (p, *others) = predictions_of[t]
        # Right when all the group's messages share one predicted template that covers no other.
        if not others and predicted_size[p] == size:
            correct_messages += size
            correct_groups += 1
    ga = correct_messages / messages if messages else 0.0
    pga = correct_groups / len(predicted_size) if predicted_size else 0.0
    rga = correct_groups / len(group_size) if group_size else 0.0
    correct_templates = sum(1 for template, seen in truths_under.items() if seen == {template})
    pta = correct_templates / len(truths_under) if truths_under else 0.0
    rta = correct_templates / len(group_size) if group_size else 0.0
    return {"GA": ga, "FGA": _harmonic(pga, rga), "PA": pa, "FTA": _harmonic(pta, rta), "PGA": pga,
            "RGA": rga, "PTA": pta, "RTA": rta, "messages": n, "predicted_templates": len(truths_under),
            "true_templates": len(group_size)}


def anomaly_label(label: str | None) -> str:
    """A predicted label as :func:`anomaly_metrics` reads it: ``normal``, ``abnormal``, or ``""``
    for anything else (an invalid or missing answer)."""
    pred = "" if label is None else str(label).strip().lower()
    return pred if pred in (NORMAL, ABNORMAL) else ""


def true_anomaly_label(label: str) -> str:
    """A true label, stripped and lower-cased; a :class:`ValueError` when it is neither class."""
    true = str(label).strip().lower()
    if true not in (NORMAL, ABNORMAL):
        raise ValueError(f"expects every true label to be {NORMAL!r} or {ABNORMAL!r}, got {label!r}")
    return true


def anomaly_metrics_of_pairs(pairs: Mapping[tuple[str, str], int]) -> dict[str, float | int]:
    """:func:`anomaly_metrics` of the messages that ``pairs`` counts: ``{(predicted, true):
    messages}``, labels read by :func:`anomaly_label` and :func:`true_anomaly_label`. The same
    numbers as :func:`anomaly_metrics` over the messages listed one by one."""
    counts = dict.fromkeys(("tp", "fp", "fn", "tn", "invalid", "correct"), 0)
    for (raw_pred, raw_true), c in pairs.items():
        pred, true = anomaly_label(raw_pred), true_anomaly_label(raw_true)
        counts["invalid"] += c if not pred else 0
        counts["correct"] += c if pred == true else 0
        kind = (("tp" if true == ABNORMAL else "fp") if pred == ABNORMAL
                else "fn" if true == ABNORMAL else "tn" if pred == NORMAL else None)
        if kind:
            counts[kind] += c
    n = sum(pairs.values())
    if n <= 0:
        raise ValueError("expects at least one message, got no (predicted, true) pairs")
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": precision, "recall": recall, "F1": _harmonic(precision, recall),
            "accuracy": counts["correct"] / n, "tp": tp, "fp": fp, "fn": fn, "tn": counts["tn"],
            "invalid": counts["invalid"], "messages": n}


# -- bootstrap --------------------------------------------------------------------------------
# The Poisson bootstrap (Hanley & MacGibbon, "Creating non-parametric bootstrap samples using
# Poisson frequencies", Comput. Methods Programs Biomed. 2006; Chamandy, Muralidharan, Najmi &
# Naik, "Estimating uncertainty for massive data streams", Google, 2012): instead of drawing n
# indices with replacement (a multinomial, which needs all n values at once), each observation
# enters each resample w times, w ~ Poisson(1) independently. A resample's statistic is then a
# weighted statistic, computed from sums a stream can keep: O(resamples) numbers per statistic,
# whatever the number of observations. As n grows it is the ordinary bootstrap (the multinomial
# counts tend to independent Poisson(1)).
#
# An observation's weights are a pure function of (seed, its key, the resample number): a
# splitmix64 hash split into two 32-bit uniforms per hash, each turned into a Poisson(1) count by
# its inverse distribution function. No random state is carried from one observation to the
# next, so the weights are the same in any process, in any order, and for a block of
# observations they are one vectorised computation.

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)


def _poisson_thresholds() -> np.ndarray:
    """``T[k] = floor(P(Poisson(1) <= k) * 2**32)``, those below 2**32: a 32-bit uniform ``v``
    gives the count ``#{k: T[k] <= v}``, Poisson(1) to 2**-32."""
    thresholds, term, total, k = [], math.exp(-1.0), 0.0, 0
    while True:
        total += term
        k += 1
        term /= k
        threshold = int(total * 2**32)
        if threshold >= 2**32 or term * 2**32 < 0.5:
            thresholds += [threshold] if threshold < 2**32 else []
            return np.array(thresholds, dtype=np.uint32)
        thresholds.append(threshold)


_THRESHOLDS = _poisson_thresholds()


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def bootstrap_key(*parts: Any) -> int:
    """A 64-bit key of an observation from its identity (strings, numbers: ``json``-encoded),
    stable across processes and platforms, for :func:`poisson_weights`."""
    data = json.dumps(parts, ensure_ascii=True, separators=(",", ":"), default=str).encode("ascii")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


# The last call's arguments and weights, as one tuple (read and replaced whole, so a thread never
# sees the arguments of one call with the weights of another): a leaderboard cell's reward and
# metric bootstraps flush the same block of keys one after the other.
_last_weights: tuple | None = None


def poisson_weights(keys: Sequence[int] | np.ndarray, n_resamples: int, seed: int = 0,
                    start: int = 0) -> np.ndarray:
    """The Poisson(1) weights of observations ``keys`` (64-bit integers) in resamples ``start``
    to ``start + n_resamples - 1``: a read-only ``(len(keys), n_resamples)`` uint8 array. Each
    weight depends only on ``(seed, key, resample)``: resamples can be drawn a few at a time,
    and the weights of a key do not depend on the other keys."""
    global _last_weights
    keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
    arguments = (int(n_resamples), int(seed), int(start), keys.tobytes())
    last = _last_weights
    if last is not None and last[0] == arguments:
        return last[1]
    first, stop = start // 2, (start + n_resamples + 1) // 2  # two resamples per 64-bit hash
    with np.errstate(over="ignore"):
        salt = _mix64(np.array([seed % 2**64], dtype=np.uint64) + _GOLDEN)
        base = _mix64(keys + salt)
        counters = (np.arange(first, stop, dtype=np.uint64) + np.uint64(1)) * _GOLDEN
        hashed = _mix64(base[:, None] + counters[None, :])
    halves = np.empty((len(keys), stop - first, 2), dtype=np.uint32)
    halves[:, :, 0] = (hashed & _LOW32).astype(np.uint32)
    halves[:, :, 1] = (hashed >> np.uint64(32)).astype(np.uint32)
    offset = start - 2 * first
    uniforms = halves.reshape(len(keys), -1)[:, offset:offset + n_resamples]
    weights = np.zeros(uniforms.shape, dtype=np.uint8)
    for threshold in _THRESHOLDS:  # the inverse distribution function, one step at a time
        weights += uniforms >= threshold
    weights.flags.writeable = False
    _last_weights = (arguments, weights)
    return weights


def _check_bootstrap(n_resamples: int, confidence: float) -> None:
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"expects n_resamples to be a positive integer, got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(
            f"expects confidence strictly between 0 and 1 (e.g. 0.95), got {confidence!r}"
        )


def _percentile_interval(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of the resamples' statistics (NaN: an empty resample, left out)."""
    stats = np.asarray(stats, dtype=float)
    stats = stats[~np.isnan(stats)]
    if stats.size == 0:
        return math.nan, math.nan
    alpha = 1.0 - confidence
    low, high = np.quantile(stats, [alpha / 2, 1.0 - alpha / 2])
    return float(low), float(high)


# Observations are weighted a block at a time: a block's weights are BLOCK x resamples bytes
# (256 KB at 1,000 resamples).
BLOCK = 256
# The most (pair, resample) cells :class:`PairBootstrap` computes at once: 1 MB per float array,
# whatever the number of distinct pairs or of observations a pair holds as keys.
WEIGHT_CELLS = 1 << 17


class MeanBootstrap:
    """A Poisson-bootstrap interval of a mean, streamed: ``add(key, value)`` observation by
    observation, ``interval()`` at any point. Keeps per resample the weighted sum of the values
    (less the first value, so that equal values give exactly that value) and the total weight:
    O(resamples) memory, plus a block of :data:`BLOCK` pending observations."""

    def __init__(self, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0):
        _check_bootstrap(n_resamples, confidence)
        self.n_resamples, self.confidence, self.seed = n_resamples, confidence, seed
        self._sums = np.zeros(n_resamples)
        self._weights = np.zeros(n_resamples)
        self._keys: list[int] = []
        self._values: list[float] = []
        self._origin: float | None = None
        self.count = 0

    def add(self, key: int, value: float) -> None:
        if self._origin is None:
            self._origin = float(value)
        self._keys.append(key)
        self._values.append(float(value) - self._origin)
        self.count += 1
        if len(self._keys) >= BLOCK:
            self._flush()

    def _flush(self) -> None:
        if not self._keys:
            return
        weights = poisson_weights(self._keys, self.n_resamples, self.seed).astype(float)
        self._sums += np.asarray(self._values) @ weights
        self._weights += weights.sum(axis=0)
        self._keys, self._values = [], []

    def means(self) -> np.ndarray:
        """Each resample's mean (NaN for a resample that drew nothing)."""
        self._flush()
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self._origin + self._sums / self._weights if self._origin is not None else self._sums * np.nan
        means[self._weights == 0] = np.nan
        return means

    def interval(self) -> tuple[float, float]:
        """The percentile interval of the resamples' means (as :func:`bootstrap_ci`)."""
        return _percentile_interval(self.means(), self.confidence)


def _default_keys(keys, n: int) -> np.ndarray:
    if keys is None:
        return np.arange(n, dtype=np.uint64)
    keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
    if keys.size != n:
        raise ValueError(f"expects one key per value, got {keys.size} keys for {n} values")
    return keys


def _weight_columns(keys: np.ndarray, n_resamples: int, seed: int):
    """The Poisson weights of ``keys``, a few resamples at a time (at most ~4 MB at once)."""
    per_chunk = max(1, (1 << 22) // max(1, keys.size))
    for start in range(0, n_resamples, per_chunk):
        yield poisson_weights(keys, min(per_chunk, n_resamples - start), seed, start)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[..., Any] = np.mean,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    keys: Sequence[int] | np.ndarray | None = None,
) -> tuple[float, float]:
    """Poisson-bootstrap percentile interval of ``statistic(values)``, e.g. a mean reward.

    Each of ``n_resamples`` resamples takes value ``i`` ``w`` times, ``w ~ Poisson(1)`` drawn by
    :func:`poisson_weights` from ``(seed, keys[i], resample)`` (``keys`` defaults to the
    positions ``0..n-1``; the leaderboard passes each episode's :func:`bootstrap_key`). The
    interval is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the
    resamples' statistics (numpy's default linear interpolation); a resample that drew nothing
    is left out. The same seed, keys and values always give the same interval.

    For the mean (the default) this is :class:`MeanBootstrap`, streamed, in memory that does not
    follow ``len(values)``. Another statistic is called on each resample (``values`` repeated by
    their weights), drawn a few resamples at a time.
    """
    _check_bootstrap(n_resamples, confidence)
    data = np.asarray(values, dtype=float)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(f"expects a non-empty 1-D sequence of values, got shape {data.shape}")
    keys = _default_keys(keys, data.size)
    if statistic is np.mean:
        stream = MeanBootstrap(n_resamples, confidence, seed)
        for key, value in zip(keys.tolist(), data.tolist()):
            stream.add(key, value)
        return stream.interval()
    stats = []
    for weights in _weight_columns(keys, n_resamples, seed):
        for column in weights.T:
            sample = np.repeat(data, column)
            stats.append(float(statistic(sample)) if sample.size else math.nan)
    return _percentile_interval(np.array(stats), confidence)


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
    keys: Sequence[int] | np.ndarray | None = None,
) -> tuple[float, float]:
    """Poisson-bootstrap percentile interval of a metric of a whole split, such as GA or F1.

    Each resample repeats row ``i`` ``w`` times (``w ~ Poisson(1)``, as in :func:`bootstrap_ci`)
    — the same rows for every column, so pairs stay paired — and recomputes
    ``fn(*resampled_columns)``. When ``fn`` returns a mapping (as :func:`parsing_metrics` and
    :func:`anomaly_metrics` do), ``key`` picks the value. For example::

        bootstrap_metric(parsing_metrics, predicted, truth, key="GA")
        bootstrap_metric(anomaly_metrics, predicted_labels, true_labels, key="F1")

    A message drawn twice counts twice (in GA it joins its own group twice), the usual
    treatment of a resampled split. The leaderboard computes the same intervals for GA and F1
    streamed (:class:`PairBootstrap`).
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
    keys = _default_keys(keys, n)

    def metric(*sample) -> float:
        result = fn(*sample)
        if isinstance(result, Mapping):
            if key is None:
                raise ValueError(
                    f"expects key= to pick one of {sorted(result)} from the mapping fn returns"
                )
            result = result[key]
        return float(result)

    metric(*columns)  # the whole split first: a wrong key fails whatever the resamples draw
    stats = []
    positions = np.arange(n)
    for weights in _weight_columns(keys, n_resamples, seed):
        for column in weights.T:
            index = np.repeat(positions, column)
            stats.append(metric(*(_take(c, index) for c in columns)) if index.size else math.nan)
    return _percentile_interval(np.array(stats), confidence)


class PairBootstrap:
    """GA (log parsing) or F1 (anomaly detection) of a streamed split, with its Poisson-bootstrap
    interval: :func:`bootstrap_metric` of :func:`parsing_metrics` ``GA`` or
    :func:`anomaly_metrics` ``F1``, the same numbers, without the split in memory.

    Both metrics depend only on the distinct (predicted, truth) pairs, their counts and, per
    resample, their weights (a weighted GA: a true group is right in a resample when one
    drawn pair holds all its drawn weight and its predicted template no other). So the state is
    per distinct pair: its count and its weight in each resample — kept as the keys of its
    observations while it has few (8 bytes each; weights recomputed at the end), as a row of
    per-resample weights once it has more than ``n_resamples / 2``. Memory follows the distinct
    pairs (templates, labels), at most 8 bytes an observation for pairs seen once; never the
    split's length times the resamples.
    """

    def __init__(self, metric: str, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0):
        if metric not in ("GA", "F1"):
            raise ValueError(f"expects metric 'GA' (log parsing) or 'F1' (anomaly detection), got {metric!r}")
        _check_bootstrap(n_resamples, confidence)
        self.metric, self.n_resamples, self.confidence, self.seed = metric, n_resamples, confidence, seed
        self.counts: dict[tuple[str, str], int] = {}
        self._index: dict[tuple[str, str], int] = {}
        self._keys: list[array] = []  # per pair, while it is sparse
        self._rows: list[np.ndarray | None] = []  # per pair, once dense
        self._pending: list[tuple[int, int]] = []  # (pair, key) of the current block
        self._dense_after = max(1, n_resamples // 2)

    def add(self, key: int, predicted: str | None, truth: str) -> None:
        if self.metric == "F1":
            pair = (anomaly_label(predicted), true_anomaly_label(truth))
        else:
            pair = ("" if predicted is None else predicted, truth)
        at = self._index.get(pair)
        if at is None:
            at = self._index[pair] = len(self._rows)
            self.counts[pair] = 0
            self._keys.append(array("Q"))
            self._rows.append(None)
        self.counts[pair] += 1
        self._pending.append((at, key))
        if len(self._pending) >= BLOCK:
            self._flush()

    def _flush(self) -> None:
        """Move the pending observations to their pairs: a dense pair adds their weights."""
        if not self._pending:
            return
        weights = None
        for k, (at, key) in enumerate(self._pending):
            row = self._rows[at]
            if row is not None:
                if weights is None:  # drawn once per block, when a dense pair needs them
                    weights = poisson_weights([k for _, k in self._pending], self.n_resamples, self.seed)
                row += weights[k]
                continue
            keys = self._keys[at]
            keys.append(key)
            if len(keys) > self._dense_after:  # now cheaper as a row of weights
                self._rows[at] = self._summed_weights(keys, 0, self.n_resamples).astype(np.uint32)
                self._keys[at] = array("Q")
        self._pending = []

    def point(self) -> float:
        """The metric of the whole split (:func:`parsing_metrics_of_pairs` or
        :func:`anomaly_metrics_of_pairs`)."""
        of_pairs = parsing_metrics_of_pairs if self.metric == "GA" else anomaly_metrics_of_pairs
        return float(of_pairs(self.counts)[self.metric])

    def _summed_weights(self, keys, start: int, n: int) -> np.ndarray:
        """The total weight of the observations ``keys`` in each of resamples ``start..start+n-1``
        (a uint64 array of ``n``), drawn a few resamples at a time: :func:`poisson_weights`'
        temporaries (16 bytes per key and resample) stay under :data:`WEIGHT_CELLS` cells."""
        out = np.empty(n, dtype=np.uint64)
        step = max(1, WEIGHT_CELLS // max(1, len(keys)))
        for first in range(0, n, step):
            count = min(step, n - first)
            out[first:first + count] = poisson_weights(keys, count, self.seed, start + first).sum(axis=0)
        return out

    def _sparse_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """The keys of every sparse pair end to end, and the pair each belongs to (a pair's keys
        are contiguous)."""
        owners = [at for at, row in enumerate(self._rows) if row is None and len(self._keys[at])]
        if not owners:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.intp)
        keys = np.concatenate([np.asarray(self._keys[at], dtype=np.uint64) for at in owners])
        return keys, np.repeat(np.array(owners, dtype=np.intp), [len(self._keys[at]) for at in owners])

    def _weights(self, start: int, n: int, sparse: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Each pair's weight in resamples ``start..start+n-1``: a (pairs, n) float array.
        ``sparse``: :meth:`_sparse_keys`, weighted a batch of keys at a time (at most
        :data:`WEIGHT_CELLS` cells per batch, few calls however many pairs are sparse)."""
        out = np.zeros((len(self._rows), n))
        for at, row in enumerate(self._rows):
            if row is not None:
                out[at] = row[start:start + n]
        keys, owners = sparse
        step = max(1, WEIGHT_CELLS // n)
        for first in range(0, len(keys), step):
            batch = owners[first:first + step]
            # Where each pair's run of keys begins in the batch: one sum per pair.
            begins = np.flatnonzero(np.r_[True, batch[1:] != batch[:-1]])
            weights = poisson_weights(keys[first:first + step], n, self.seed, start)
            out[batch[begins]] += np.add.reduceat(weights, begins, axis=0, dtype=np.uint64)
        return out

    def resamples(self) -> np.ndarray:
        """The metric in each resample (NaN for a resample that drew nothing)."""
        self._flush()
        pairs = list(self._index)
        if self.metric == "GA":
            pred_ids = _codes([p for p, _ in pairs])
            truth_ids = _codes([t for _, t in pairs])
        else:
            abnormal_pred = np.array([p == ABNORMAL for p, _ in pairs])
            abnormal_true = np.array([t == ABNORMAL for _, t in pairs])
        stats = np.empty(self.n_resamples)
        # A few resamples at a time: each step holds several (pairs, resamples) float arrays at
        # once (the weights, their sums by truth and by prediction, those gathered back, the
        # masks), so the number of cells, not the weights alone, is what is bounded. Computed
        # over all the resamples at once they would make the peak follow the distinct pairs,
        # which keep growing with the episodes. Every value is a sum of integer weights (exact
        # in floating point), so the chunking changes no result.
        per_chunk = max(1, WEIGHT_CELLS // max(1, len(pairs)))
        sparse = self._sparse_keys()
        for start in range(0, self.n_resamples, per_chunk):
            n = min(per_chunk, self.n_resamples - start)
            w = self._weights(start, n, sparse)
            total = w.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                if self.metric == "GA":
                    by_truth = np.zeros((truth_ids.max() + 1, n))
                    np.add.at(by_truth, truth_ids, w)
                    by_pred = np.zeros((pred_ids.max() + 1, n))
                    np.add.at(by_pred, pred_ids, w)
                    whole = (w > 0) & (w == by_truth[truth_ids]) & (w == by_pred[pred_ids])
                    value = (w * whole).sum(axis=0) / total
                else:
                    tp = w[abnormal_pred & abnormal_true].sum(axis=0)
                    fp = w[abnormal_pred & ~abnormal_true].sum(axis=0)
                    fn = w[~abnormal_pred & abnormal_true].sum(axis=0)
                    precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
                    recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
                    value = np.where(precision + recall > 0,
                                     2 * precision * recall / (precision + recall), 0.0)
            value[total == 0] = np.nan
            stats[start:start + n] = value
        return stats

    def interval(self) -> tuple[float, float]:
        """The percentile interval of the resamples' metric (as :func:`bootstrap_metric`)."""
        return _percentile_interval(self.resamples(), self.confidence)


def _codes(values: Sequence[Any]) -> np.ndarray:
    codes: dict[Any, int] = {}
    return np.array([codes.setdefault(v, len(codes)) for v in values], dtype=np.intp)
