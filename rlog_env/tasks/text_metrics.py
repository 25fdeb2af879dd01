"""BLEU-4, ROUGE-1/2/L on whitespace-split words, as the R-Log text reward defines them.

Words are ``str.split()`` tokens with case kept. BLEU-4 is the brevity penalty times the
geometric mean of the clipped 1- to 4-gram precisions, unsmoothed (0 as soon as one precision
is 0). ROUGE-1/2 are the F1 of clipped n-gram overlap; ROUGE-L the F1 of the longest common
subsequence. All are in per cent.

Everything is computed from one bit mask per reference word (bit ``i`` set where reference word
``i`` is that word), built by a :class:`TextReference`, which analyses a reference once so that a
GRPO group of answers to one reference shares that work. The masks are cheap to build, because
most references are scored once (each simulated episode has a new one):

- an answer word's mask is the set of reference positions where it occurs; shifting the mask of
  answer word ``k`` by one and and-ing it with that of word ``k + 1`` gives the reference
  positions where the answer bigram at ``k`` ends, and so on for trigrams and 4-grams. The
  clipped overlaps follow from these masks (:func:`_clipped_overlap`), with no n-gram tuples
  built on either side and every loop in C (``map``);
- the longest common subsequence is computed bit-parallel (Hyyrö 2004) on the same masks, so it
  costs O(len(answer) · len(reference) / 64) word operations instead of the O(n·m) table.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache, reduce
from itertools import repeat
from operator import and_, lshift, or_


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


def _f1(overlap: int, hyp_total: int, ref_total: int) -> float:
    if overlap == 0 or hyp_total <= 0 or ref_total <= 0:
        return 0.0
    precision = overlap / hyp_total
    recall = overlap / ref_total
    return 2 * precision * recall / (precision + recall)


def _word_masks(words: list[str]) -> dict[str, int]:
    """Each distinct word of ``words`` -> the bit mask of its positions (bit ``i`` for word ``i``).

    A plain loop: measured (valgrind) cheaper than building the masks of unique words in C and
    patching the repeated ones, whose detection costs more than the loop saves.
    """
    masks: dict[str, int] = {}
    get = masks.get
    for i, word in enumerate(words):
        masks[word] = get(word, 0) | (1 << i)
    return masks


def _next_order(ends: list[int], masks_of_words: list[int], n: int) -> list[int]:
    """The end masks of the answer's ``n``-grams from those of its ``(n - 1)``-grams.

    ``ends[k]``: the reference positions where the answer's (n-1)-gram starting at ``k`` ends;
    shifted by one and and-ed with the mask of answer word ``k + n - 1``, the positions where
    the n-gram starting at ``k`` ends. ``map`` stops at the shorter input: ``h - n + 1`` n-grams.
    """
    return list(map(and_, map(lshift, ends, repeat(1)), masks_of_words[n - 1:]))


def _clipped_overlap(ends: list[int]) -> int:
    """``sum(min(hyp[g], ref[g]))`` over the n-grams ``g``, from the answer's n-gram end masks.

    All occurrences of one reference n-gram end at the same set of positions, and different
    n-grams at disjoint ones: a nonzero mask *is* a reference n-gram, its bit count is how often
    the reference has it, and how often the mask recurs in ``ends`` is how often the answer has
    it. Two shortcuts avoid counting: when no matched n-gram recurs in the answer, or none
    recurs in the reference (their masks are single bits), each matched n-gram adds exactly 1.
    """
    matched = set(ends)
    matched.discard(0)
    if len(ends) - ends.count(0) == len(matched):  # the answer has each matched n-gram once
        return len(matched)
    if reduce(or_, matched, 0).bit_count() == len(matched):  # the reference has each once
        return len(matched)
    return _counted_overlap(ends)


def _counted_overlap(ends: list[int]) -> int:
    """:func:`_clipped_overlap` by counting each mask: the way for words, which recur on both
    sides (``the``, ``of``), so that the shortcuts would only add work."""
    counts = Counter(ends)  # the mask 0 (no match) has bit count 0: it adds nothing
    return sum(map(min, counts.values(), map(int.bit_count, counts)))


class TextReference:
    """A reference text analysed once for scoring many answers against it.

    The analysis is the bit mask of each word's positions (:func:`_word_masks`): all that
    scoring needs.
    """

    __slots__ = ("text", "words", "_masks", "_full", "_self_score")

    def __init__(self, text: str):
        self.text = text
        self.words = text.split()
        self._masks = _word_masks(self.words)
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
        return self._lcs_of_masks(list(map(self._masks.get, words, repeat(0))))

    def _lcs_of_masks(self, word_masks: list[int]) -> int:
        """:meth:`lcs_length` from the answer words' masks (0 for a word the reference lacks).

        Hyyrö's bit-vector recurrence: bit i of ``v`` is 0 where the LCS grows at reference
        word i. A word absent from the reference (mask 0) leaves ``v`` unchanged, so only the
        masks of present words are visited. ``v`` is not cut back to the reference's width in
        the loop: a carry out of the top bit only ever moves bits above that width, which never
        reach the bits below (``u`` has none above), so masking once at the end is the same.
        """
        if not self._full:
            return 0
        v = self._full
        for m in filter(None, word_masks):
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
        # the reference positions of each answer word: its unigram end masks
        unigram_ends = list(map(self._masks.get, hyp, repeat(0)))
        overlap1 = _counted_overlap(unigram_ends)
        if overlap1 == 0:  # no word in common: no n-gram nor subsequence either, every score 0
            return TextScores(0.0, 0.0, 0.0, 0.0)
        bigram_ends = _next_order(unigram_ends, unigram_ends, 2)
        overlap2 = _clipped_overlap(bigram_ends)
        rouge1 = _f1(overlap1, h, r)
        rouge2 = _f1(overlap2, h - 1, r - 1)
        rouge_l = _f1(self._lcs_of_masks(unigram_ends), h, r)
        bleu = 0.0
        if h >= 4 and overlap2 > 0:
            log_precision = math.log(overlap1 / h) + math.log(overlap2 / (h - 1))
            ends = bigram_ends
            for n in (3, 4):
                ends = _next_order(ends, unigram_ends, n)
                overlap = _clipped_overlap(ends)
                if overlap == 0:
                    log_precision = None
                    break
                log_precision += math.log(overlap / (h - n + 1))
            if log_precision is not None:
                brevity = 1.0 if h >= r else math.exp(1 - r / h)
                bleu = brevity * math.exp(log_precision / 4)
        return TextScores(100 * bleu, 100 * rouge1, 100 * rouge2, 100 * rouge_l)


# Bounded small: a GRPO group or an evaluation batch reuses a reference at once, and an
# analysed reference (a bit mask per distinct word) weighs kilobytes.
@lru_cache(maxsize=256)
def text_reference(text: str) -> TextReference:
    """The analysed reference for ``text``, cached: a GRPO group analyses its reference once."""
    return TextReference(text)


def text_scores(answer: str, reference: str) -> TextScores:
    """BLEU-4 and ROUGE-1/2/L (per cent) of ``answer`` against ``reference``."""
    return text_reference(reference).score(answer)
