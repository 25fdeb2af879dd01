"""Retrieval for the free-text tasks: the reference of the most similar training sample.

:class:`RetrievalAgent` indexes the logs of the training samples of every task of kind ``text``
with TF-IDF (sublinear term frequency, smoothed idf, cosine similarity; numpy, no scikit-learn),
one index per task. For an observation it finds the most similar training logs of the same task
— among the same system's samples when there are any — and answers with that sample's reference.

It must be fitted on the **training** split of the task and source it is evaluated on, never on
the split being evaluated (the evaluation runner passes ``train``); ``fit`` refuses samples whose
``meta["split"]`` is ``"test"``. Words are lower-cased letter-led tokens with at most two digits
(so ids, addresses and numbers do not count as shared vocabulary), minus English stop words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from rlog_env.agents.base import Observation
from rlog_env.agents.baselines._common import Baseline, NotFittedError, check_kinds, clip, task_kind
from rlog_env.agents.baselines.anomaly import inspect_logs
from rlog_env.tasks import TASKS, TEXT, THINK_FIRST, Sample

_WORD = re.compile(r"[a-z][a-z0-9]*")
STOP_WORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have he her his how i if
in into is it its me my no not of on or our she so than that the their them then there these they
this to was we were what when where which while who why will with would you your
""".split())


def terms(text: str) -> list[str]:
    """The words TF-IDF counts in ``text``."""
    out = []
    for word in _WORD.findall(text.lower()):
        if len(word) < 2 or word in STOP_WORDS:
            continue
        if not word.isalpha() and sum(map(str.isdigit, word)) > 2:
            continue
        out.append(word)
    return out


@dataclass(frozen=True)
class _Index:
    """A TF-IDF index of one task's training samples (postings as numpy arrays)."""

    idf: dict[str, float]
    vectors: tuple[dict[str, float], ...]  # unit-length TF-IDF vectors
    postings: dict[str, tuple[np.ndarray, np.ndarray]]  # term -> (sample positions, weights)
    samples: tuple[Sample, ...]
    by_domain: dict[str, np.ndarray]  # domain -> boolean mask over the samples

    @classmethod
    def build(cls, samples: Sequence[Sample]) -> "_Index":
        counts = [Counter(terms(s.logs)) for s in samples]
        df: Counter = Counter()
        for c in counts:
            df.update(c.keys())
        n = len(samples)
        idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
        vectors = tuple(_unit({t: (1.0 + math.log(k)) * idf[t] for t, k in c.items()}) for c in counts)
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for i, vector in enumerate(vectors):
            for t, w in vector.items():
                ids, weights = postings.setdefault(t, ([], []))
                ids.append(i)
                weights.append(w)
        by_domain: dict[str, np.ndarray] = {}
        for i, s in enumerate(samples):
            by_domain.setdefault(s.domain, np.zeros(n, dtype=bool))[i] = True
        return cls(idf, vectors,
                   {t: (np.asarray(ids, dtype=np.int64), np.asarray(ws)) for t, (ids, ws) in postings.items()},
                   tuple(samples), by_domain)

    def query(self, text: str) -> dict[str, float]:
        c = Counter(t for t in terms(text) if t in self.idf)
        return _unit({t: (1.0 + math.log(k)) * self.idf[t] for t, k in c.items()})

    def nearest(self, vector: dict[str, float], domain: str | None) -> tuple[int | None, float]:
        """The most similar sample (ties: the earliest) and its cosine similarity."""
        scores = np.zeros(len(self.samples))
        for t in sorted(vector):  # a fixed order: the same sums, bit for bit, every time
            ids, weights = self.postings[t]
            scores[ids] += vector[t] * weights
        if domain is not None:
            scores[~self.by_domain[domain]] = 0.0
        best = int(np.argmax(np.round(scores, 12)))
        return (best, float(scores[best])) if scores[best] > 0 else (None, 0.0)


def _unit(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in vector.values()))
    return {t: w / norm for t, w in vector.items()} if norm else {}


class RetrievalAgent(Baseline):
    """The reference answer of the most similar training sample (TF-IDF, cosine similarity),
    for tasks of kind ``text``.

    Arguments:
        reasoning: the output format (``think-first``, ``answer-first`` or ``none``).
        same_domain: look only among training samples of the observation's system when the
            training split has any.
        name: the agent's name on the leaderboard.

    Fitted attributes: ``indexes_`` (task -> TF-IDF index of its training samples),
    ``fallback_`` (task -> the commonest training reference, for logs that share no word with
    any training sample).
    """

    kind: ClassVar[str] = TEXT

    def __init__(self, reasoning: str = THINK_FIRST, same_domain: bool = True, name: str = "retrieval"):
        self.reasoning = reasoning
        self.same_domain = same_domain
        self.name = name

    def fit(self, samples: Sequence[Sample]) -> "RetrievalAgent":
        """Index the training samples of each task of kind ``text``; other tasks are ignored.

        Raises ``ValueError`` for samples of a test split: retrieval must never see the split it
        is evaluated on.
        """
        self._check_params()
        grouped: dict[str, list[Sample]] = {}
        for sample in samples:
            if task_kind(sample.task) != self.kind:
                continue
            if str(sample.meta.get("split", "")).lower() == "test":
                raise ValueError(
                    f"RetrievalAgent.fit got a sample of the test split ({sample.meta.get('id', '?')}); "
                    "fit it on the training split: it answers with training references and must "
                    "never see the split it is evaluated on"
                )
            grouped.setdefault(sample.task, []).append(sample)
        self.indexes_ = {task: _Index.build(group) for task, group in grouped.items()}
        self.fallback_ = {task: _commonest(group) for task, group in grouped.items()}
        return self

    def retrieve(self, observation: Observation) -> dict:
        """The training sample chosen for ``observation``, with its similarity and shared terms."""
        indexes = getattr(self, "indexes_", None)
        if indexes is None or observation.task not in indexes:
            raise NotFittedError(
                f"RetrievalAgent has no training samples of {observation.task!r}: call "
                "fit(train_samples) with the training split of the task and source first"
            )
        index = indexes[observation.task]
        vector = index.query(observation.logs)
        domain = observation.domain if self.same_domain and observation.domain in index.by_domain else None
        best, score = index.nearest(vector, domain)
        if best is None and domain is not None:
            best, score = index.nearest(vector, None)
            domain = None
        if best is None:
            return {"sample": None, "reference": self.fallback_[observation.task], "similarity": 0.0,
                    "shared": [], "pool": len(index.samples), "domain": None}
        shared = sorted(((vector[t] * w, t) for t, w in index.vectors[best].items() if t in vector),
                        key=lambda p: (-p[0], p[1]))
        pool = int(index.by_domain[domain].sum()) if domain is not None else len(index.samples)
        return {"sample": index.samples[best], "reference": index.samples[best].reference,
                "similarity": score, "shared": [t for _, t in shared[:8]], "pool": pool,
                "domain": domain}

    def act(self, observations: Sequence[Observation]) -> list[str]:
        self._check_params()
        check_kinds(self.name, observations, (self.kind,))
        answers = []
        for observation in observations:
            found = self.retrieve(observation)
            answers.append(self._complete(found["reference"], _trace(observation, found)))
        return answers


def _commonest(samples: Sequence[Sample]) -> str:
    counts = Counter(s.reference for s in samples)
    first = {}
    for i, s in enumerate(samples):
        first.setdefault(s.reference, i)
    return min(counts, key=lambda r: (-counts[r], first[r]))


def _trace(observation: Observation, found: dict) -> str:
    what = TASKS[observation.task].answer_noun
    inspection = inspect_logs(observation.logs)
    steps = []
    if inspection.fired:
        shown = "; ".join(f"line {f.number} \"{clip(f.line, 110)}\" ({f.rule}: '{f.evidence}')"
                          for f in inspection.fired[:3])
        more = f" and {len(inspection.fired) - 3} more" if len(inspection.fired) > 3 else ""
        steps.append(f"Step 1, key lines: {shown}{more}.")
    else:
        steps.append(f"Step 1, key lines: none of the {inspection.lines} lines carries a failure word "
                     "or an error severity, so the whole text is the evidence.")
    sample = found["sample"]
    if sample is None:
        steps.append("Step 2, similar cases: the logs share no indexed word with any training case, "
                      f"so the commonest training {what} stands in.")
    else:
        where = (f"among the {found['pool']} training cases of {found['domain']}" if found["domain"]
                 else f"among all {found['pool']} training cases")
        ident = sample.meta.get("id", "?")
        steps.append(f"Step 2, similar cases: the closest match {where} is {ident} "
                     f"(TF-IDF cosine similarity {found['similarity']:.3f}), sharing the salient terms "
                     + ", ".join(f"'{t}'" for t in found["shared"]) + ".")
        steps.append(f"Step 3, answer: that case's {what} fits these logs best, so it is reused: "
                     f"\"{clip(sample.reference, 200)}\"")
    return "\n".join(steps)
