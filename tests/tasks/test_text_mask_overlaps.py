"""The mask-based n-gram overlaps of :mod:`rlog_env.tasks.text_metrics` against Counter
intersections, on small vocabularies (many repeats on both sides, so every shortcut and the
counting fallback of ``_clipped_overlap`` are taken)."""

from __future__ import annotations

import random
from collections import Counter
from itertools import repeat

from rlog_env.tasks.text_metrics import (
    TextReference,
    _clipped_overlap,
    _counted_overlap,
    _next_order,
    _word_masks,
)


def _counter_overlap(hyp: list[str], ref: list[str], n: int) -> int:
    def grams(words):
        return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return sum((grams(hyp) & grams(ref)).values())


def test_word_masks_hold_every_position():
    words = "a b a c a b".split()
    assert _word_masks(words) == {"a": 0b10101, "b": 0b100010, "c": 0b1000}
    assert _word_masks([]) == {}


def test_mask_overlaps_equal_counter_intersection():
    rng = random.Random(11)
    for trial in range(3000):
        vocabulary = [f"w{i}" for i in range(rng.randint(1, 9))]
        ref = [rng.choice(vocabulary) for _ in range(rng.randint(1, 90))]
        hyp = [rng.choice(vocabulary) for _ in range(rng.randint(1, 90))]
        masks = _word_masks(ref)
        unigram_ends = list(map(masks.get, hyp, repeat(0)))
        assert _counted_overlap(unigram_ends) == _counter_overlap(hyp, ref, 1)
        assert _clipped_overlap(unigram_ends) == _counter_overlap(hyp, ref, 1)
        ends = unigram_ends
        for n in (2, 3, 4):
            ends = _next_order(ends, unigram_ends, n)
            assert len(ends) == max(0, len(hyp) - n + 1)
            assert _clipped_overlap(ends) == _counter_overlap(hyp, ref, n), (ref, hyp, n)


def test_reference_analysis_is_the_word_masks():
    analysed = TextReference("the cat sat on the mat")
    assert analysed.words == ["the", "cat", "sat", "on", "the", "mat"]
    assert analysed._masks == {"the": 0b10001, "cat": 0b10, "sat": 0b100, "on": 0b1000, "mat": 0b100000}
    assert analysed.lcs_length("the cat on the mat".split()) == 5
    assert analysed.score("the cat sat on the mat") == analysed.self_score
