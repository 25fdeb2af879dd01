"""BLEU-4, ROUGE-1/2/L on whitespace-split words, as the R-Log text reward defines them.

Words are ``str.split()`` tokens with case kept. BLEU-4 is the brevity penalty times the
geometric mean of the clipped 1- to 4-gram precisions, unsmoothed (0 as soon as one precision
is 0). ROUGE-1/2 are the F1 of clipped n-gram overlap; ROUGE-L the F1 of the longest common
subsequence. All are in per cent.

A :class:`TextReference` analyses a reference once (n-gram counts, the bit masks of its words)
so that a GRPO group of answers to one reference is scored without repeating that work. The
longest common subsequence is computed bit-parallel (Hyyrö 2004) on Python integers, so it costs
O(len(answer) · len(reference) / 64) word operations instead of the O(n·m) table.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class TextScores:
    """BLEU-4 and ROUGE-1/2/L of one answer against one reference, each in per cent."""

    bleu4: float
    rouge1: float
    rouge2: float
    rougeL: float

    @property
    def mean_fraction(self) -> float:
        """(BLEU + R1 + R2 + RL) / 400: the R-Log answer reward before its 0.8 rescaling."""
        return (self.bleu4 + self.rouge1 + self.rouge2 + self.rougeL) / 400.0


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(zip(*(words[i:] for i in range(n)))) if len(words) >= n else Counter()


def _f1(overlap: int, hyp_total: int, ref_total: int) -> float:
    if overlap == 0 or hyp_total <= 0 or ref_total <= 0:
        return 0.0
    precision = overlap / hyp_total
    recall = overlap / ref_total
    return 2 * precision * recall / (precision + recall)


class _GramIndex:
    """The n-grams of one order of the reference, split for a fast clipped overlap.

    The clipped overlap is ``sum(min(hyp[g], ref[g]))`` over the n-grams ``g``. Most reference
    n-grams occur once, and each of those adds 1 when the answer has it at all: their share is
    the size of a set intersection, which runs in C without counting the answer's n-grams. Only
    the few repeated reference n-grams (``the``, ``of the``) are counted in the answer.
    """

    __slots__ = ("once", "repeated")

    def __init__(self, counts: Counter):
        self.once = frozenset(gram for gram, count in counts.items() if count == 1)
        self.repeated = tuple((gram, count) for gram, count in counts.items() if count > 1)

    def overlap(self, grams: list) -> int:
        """The clipped overlap of the answer's n-grams ``grams`` (a list, in order)."""
        total = len(self.once.intersection(grams))
        for gram, ref_count in self.repeated:
            count = grams.count(gram)
            total += count if count < ref_count else ref_count
        return total

    def overlap_counted(self, counts: Counter) -> int:
        """The same from the answer's n-gram counts: cheaper when many are repeated (words)."""
        total = len(self.once.intersection(counts))
        get = counts.get
        for gram, ref_count in self.repeated:
            count = get(gram, 0)
            total += count if count < ref_count else ref_count
        return total


class TextReference:
    """A reference text analysed once for scoring many answers against it."""

    __slots__ = ("text", "words", "ngrams", "_index", "_masks", "_full", "_self_score")

    def __init__(self, text: str):
        self.text = text
        self.words = text.split()
        self.ngrams = tuple(_ngrams(self.words, n) for n in (1, 2, 3, 4))
        # Unigrams are indexed by the word itself, not by a 1-tuple: an answer's words are then
        # its unigrams as they are, with no tuple to build.
        unigrams = Counter(self.words)
        self._index = (_GramIndex(unigrams),) + tuple(_GramIndex(g) for g in self.ngrams[1:])
        masks: dict[str, int] = {}
        for i, word in enumerate(self.words):
            masks[word] = masks.get(word, 0) | (1 << i)
        self._masks = masks
        self._full = (1 << len(self.words)) - 1
        self._self_score: TextScores | None = None

    @property
    def self_score(self) -> "TextScores":
        """What the reference scores against itself (computed once)."""
        if self._self_score is None:
            self._self_score = self.score(self.text)
        return self._self_score

    def lcs_length(self, words: list[str]) -> int:
        """Length of the longest common subsequence of ``words`` and the reference words.

        Hyyrö's bit-vector recurrence: bit i of ``v`` is 0 where the LCS grows at reference
        word i. A word absent from the reference (mask 0) leaves ``v`` unchanged, so only the
        masks of present words are visited. ``v`` is not cut back to the reference's width in
        the loop: a carry out of the top bit only ever moves bits above that width, which never
        reach the bits below (``u`` has none above), so masking once at the end is the same.
        """
        if not self._full:
            return 0
        v = self._full
        for m in filter(None, map(self._masks.get, words)):
            u = v & m
            v = (v + u) | (v - u)
        return len(self.words) - (v & self._full).bit_count()

    def score(self, answer: str) -> TextScores:
        """BLEU-4 and ROUGE-1/2/L of ``answer`` against this reference."""
        return self.score_words(answer.split())

    def score_words(self, hyp: list[str]) -> TextScores:
        """:meth:`score` of an answer already split into words (``answer.split()``)."""
        h, r = len(hyp), len(self.words)
        if h == 0 or r == 0:
            return TextScores(0.0, 0.0, 0.0, 0.0)
        index = self._index
        bigrams = list(zip(hyp, hyp[1:]))
        # a reference repeats some ten words: counting the answer's words once beats ten list scans
        overlaps = [index[0].overlap_counted(Counter(hyp)), index[1].overlap(bigrams)]
        rouge1 = _f1(overlaps[0], h, r)
        rouge2 = _f1(overlaps[1], h - 1, r - 1)
        lcs = self.lcs_length(hyp)
        rouge_l = _f1(lcs, h, r)
        bleu = 0.0
        if h >= 4 and overlaps[1] > 0:
            log_precision = math.log(overlaps[0] / h) + math.log(overlaps[1] / (h - 1))
            for n in (3, 4):
                overlap = index[n - 1].overlap(list(zip(*(hyp[i:] for i in range(n)))))
                if overlap == 0:
                    log_precision = None
                    break
                log_precision += math.log(overlap / (h - n + 1))
            if log_precision is not None:
                brevity = 1.0 if h >= r else math.exp(1 - r / h)
                bleu = brevity * math.exp(log_precision / 4)
        return TextScores(100 * bleu, 100 * rouge1, 100 * rouge2, 100 * rouge_l)


# Bounded small: a GRPO group or an evaluation batch reuses a reference at once, and an
# analysed reference (n-gram indexes, LCS bit masks) weighs tens of kilobytes.
@lru_cache(maxsize=256)
def text_reference(text: str) -> TextReference:
    """The analysed reference for ``text``, cached: a GRPO group analyses its reference once."""
    return TextReference(text)


def text_scores(answer: str, reference: str) -> TextScores:
    """BLEU-4 and ROUGE-1/2/L (per cent) of ``answer`` against ``reference``."""
    return text_reference(reference).score(answer)
