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


def _clipped_overlap(hyp: Counter, ref: Counter) -> int:
    if len(hyp) > len(ref):
        hyp, ref = ref, hyp
    return sum(min(count, ref[gram]) for gram, count in hyp.items() if gram in ref)


class TextReference:
    """A reference text analysed once for scoring many answers against it."""

    __slots__ = ("text", "words", "ngrams", "_masks", "_full", "_self_score")

    def __init__(self, text: str):
        self.text = text
        self.words = text.split()
        self.ngrams = tuple(_ngrams(self.words, n) for n in (1, 2, 3, 4))
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
        """Length of the longest common subsequence of ``words`` and the reference words."""
        if not self._full:
            return 0
        masks, full = self._masks, self._full
        v = full
        for word in words:
            m = masks.get(word)
            if m is not None:
                u = v & m
                v = ((v + u) | (v - u)) & full
        return len(self.words) - v.bit_count()

    def score(self, answer: str) -> TextScores:
        """BLEU-4 and ROUGE-1/2/L of ``answer`` against this reference."""
        hyp = answer.split()
        h, r = len(hyp), len(self.words)
        if h == 0 or r == 0:
            return TextScores(0.0, 0.0, 0.0, 0.0)
        hyp_ngrams = [_ngrams(hyp, n) for n in (1, 2)]
        overlaps = [_clipped_overlap(hyp_ngrams[0], self.ngrams[0]),
                    _clipped_overlap(hyp_ngrams[1], self.ngrams[1])]
        rouge1 = _f1(overlaps[0], h, r)
        rouge2 = _f1(overlaps[1], h - 1, r - 1)
        lcs = self.lcs_length(hyp)
        rouge_l = _f1(lcs, h, r)
        bleu = 0.0
        if h >= 4 and overlaps[1] > 0:
            log_precision = math.log(overlaps[0] / h) + math.log(overlaps[1] / (h - 1))
            for n in (3, 4):
                overlap = _clipped_overlap(_ngrams(hyp, n), self.ngrams[n - 1])
                if overlap == 0:
                    log_precision = None
                    break
                log_precision += math.log(overlap / (h - n + 1))
            if log_precision is not None:
                brevity = 1.0 if h >= r else math.exp(1 - r / h)
                bleu = brevity * math.exp(log_precision / 4)
        return TextScores(100 * bleu, 100 * rouge1, 100 * rouge2, 100 * rouge_l)


@lru_cache(maxsize=4096)
def text_reference(text: str) -> TextReference:
    """The analysed reference for ``text``, cached: a GRPO group analyses its reference once."""
    return TextReference(text)


def text_scores(answer: str, reference: str) -> TextScores:
    """BLEU-4 and ROUGE-1/2/L (per cent) of ``answer`` against ``reference``."""
    return text_reference(reference).score(answer)
