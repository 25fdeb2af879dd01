"""Golden values of the text-task reward: BLEU-4, ROUGE-1/2/L and the R-Log answer reward.

The reference values in ``reference/rlog_text_reward_cases.tsv`` come from R-Log's released
scorer; the small cases below are computed by hand in the comments.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from rlog_env.tasks import get_task
from rlog_env.tasks.text_metrics import TextReference, text_scores

TOL = 1e-9


def _answer_reward(hypothesis: str, reference: str, task: str = "log_interpretation") -> float:
    return get_task(task).score(f"<think>x</think><answer>{hypothesis}</answer>", reference).answer


# -- the reference cases ------------------------------------------------------------------------
def _perturb(words: list[str], perturbation: str, seed: int) -> list[str]:
    """The hypothesis recipe of the TSV header, word for word."""
    rng = random.Random(seed)
    if perturbation == "identity":
        return words
    if perturbation == "prefix_10":
        return words[:10]
    if perturbation == "shuffle_third":
        k = len(words) // 3
        head = words[:k]
        rng.shuffle(head)
        return head + words[k:]
    if perturbation == "drop_half":
        return [x for x in words if rng.random() < 0.5]
    raise AssertionError(f"unknown perturbation {perturbation!r} in the reference TSV")


@pytest.fixture(scope="module")
def reference_cases(data_dir):
    path = data_dir / "reference" / "rlog_text_reward_cases.tsv"
    if not path.is_file():
        pytest.fail(f"missing {path}: RLOG_DATA_DIR must be laid out like shared/data")
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                continue
            index, perturbation, seed, *values = line.rstrip("\n").split("\t")
            assert len(values) == 5, line
            rows.append((int(index), perturbation, int(seed), [float(v) for v in values]))
    return rows


def test_reference_file_has_every_perturbation(reference_cases):
    # 100 LogLM outputs x 4 perturbations; guards against a silently truncated file.
    assert len(reference_cases) == 400
    assert {p for _, p, _, _ in reference_cases} == {"identity", "prefix_10", "shuffle_third",
                                                     "drop_half"}


def test_every_reference_case_is_reproduced(reference_cases, loglm):
    task = get_task("log_interpretation")
    failures = []
    for index, perturbation, seed, expected in reference_cases:
        reference = loglm[index]["output"]
        hypothesis = " ".join(_perturb(reference.split(), perturbation, seed))
        scores = text_scores(hypothesis, reference)
        answer = task.score(f"<think>x</think><answer>{hypothesis}</answer>", reference).answer
        got = [scores.bleu4, scores.rouge1, scores.rouge2, scores.rougeL, answer]
        names = ["BLEU4", "ROUGE1", "ROUGE2", "ROUGEL", "answer_reward"]
        for name, g, e in zip(names, got, expected):
            if not abs(g - e) <= TOL:
                failures.append(f"row {index} {perturbation} seed {seed}: {name} {g!r} != {e!r}")
    assert not failures, "\n".join(failures[:20]) + f"\n({len(failures)} mismatches)"


@pytest.mark.parametrize("task", ["log_interpretation", "root_cause_analysis",
                                  "solution_recommendation"])
def test_three_text_tasks_share_the_reward(reference_cases, loglm, task):
    # Every text task scores with the same function: spot-check the first 20 rows on each.
    for index, perturbation, seed, expected in reference_cases[:20]:
        reference = loglm[index]["output"]
        hypothesis = " ".join(_perturb(reference.split(), perturbation, seed))
        assert abs(_answer_reward(hypothesis, reference, task) - expected[4]) <= TOL


# -- hand-checked cases -------------------------------------------------------------------------
def test_identical_text_of_four_words_or_more_earns_1_25():
    # Every precision and recall is 1: BLEU = ROUGE-1 = ROUGE-2 = ROUGE-L = 100,
    # answer = 400 / 400 / 0.8 = 1.25, total = 0.1 + 1.25.
    reference = "disk quota exceeded on node seven"
    scores = text_scores(reference, reference)
    assert (scores.bleu4, scores.rouge1, scores.rouge2, scores.rougeL) == (100.0,) * 4
    assert _answer_reward(reference, reference) == 1.25
    reward = get_task("root_cause_analysis").score(
        f"<think>t</think><answer>{reference}</answer>", reference)
    assert reward.total == pytest.approx(1.35, abs=TOL)
    # exactly four words is enough for BLEU-4 (one 4-gram)
    assert text_scores("disk is full now", "disk is full now").bleu4 == 100.0


def test_fewer_than_four_words_have_no_bleu():
    # 3 words: no 4-gram, so BLEU-4 = 0 even for an identical answer.
    # ROUGE-1 = ROUGE-2 = ROUGE-L = 100 -> answer = 300 / 400 / 0.8 = 0.9375.
    scores = text_scores("disk is full", "disk is full")
    assert scores.bleu4 == 0.0
    assert (scores.rouge1, scores.rouge2, scores.rougeL) == (100.0, 100.0, 100.0)
    assert _answer_reward("disk is full", "disk is full") == pytest.approx(0.9375, abs=TOL)
    # one word: ROUGE-2 has no bigram on either side -> 0; R1 = RL = 100 -> 200/400/0.8 = 0.625
    one = text_scores("timeout", "timeout")
    assert (one.bleu4, one.rouge1, one.rouge2, one.rougeL) == (0.0, 100.0, 0.0, 100.0)
    assert _answer_reward("timeout", "timeout") == pytest.approx(0.625, abs=TOL)


def test_brevity_penalty_by_hand():
    reference = "the disk on node seven is full now"  # r = 8 words
    hypothesis = "the disk on node seven"  # h = 5 words, a prefix of the reference
    # Every n-gram precision is 1 (5/5, 4/4, 3/3, 2/2), so BLEU = BP = exp(1 - 8/5) = exp(-0.6).
    bleu = 100 * math.exp(-0.6)  # 54.8811636094...
    # ROUGE-1: P = 5/5, R = 5/8 -> F = 2*(5/8)/(1 + 5/8) = 10/13
    rouge1 = 100 * 10 / 13  # 76.923...
    # ROUGE-2: 4 of the 4 hypothesis bigrams, 7 reference bigrams -> F = 2*(4/7)/(1 + 4/7) = 8/11
    rouge2 = 100 * 8 / 11  # 72.727...
    # ROUGE-L: LCS = 5 -> same as ROUGE-1
    rouge_l = rouge1
    scores = text_scores(hypothesis, reference)
    assert scores.bleu4 == pytest.approx(bleu, abs=TOL)
    assert scores.rouge1 == pytest.approx(rouge1, abs=TOL)
    assert scores.rouge2 == pytest.approx(rouge2, abs=TOL)
    assert scores.rougeL == pytest.approx(rouge_l, abs=TOL)
    expected = (bleu + rouge1 + rouge2 + rouge_l) / 400 / 0.8  # 0.8883...
    assert _answer_reward(hypothesis, reference) == pytest.approx(expected, abs=TOL)
    # A longer hypothesis gets no brevity bonus: BP = 1 when h >= r.
    longer = text_scores(reference + " again", reference)
    # precisions 8/9, 7/8, 6/7, 5/6 -> geometric mean; BP = 1
    assert longer.bleu4 == pytest.approx(100 * (8 / 9 * 7 / 8 * 6 / 7 * 5 / 6) ** 0.25, abs=TOL)


def test_clipped_counts_by_hand():
    # "the" four times against a reference with "the" twice: unigram overlap clipped to 2.
    # ROUGE-1: P = 2/4, R = 2/6 -> F = 2*(1/2)*(1/3)/(1/2 + 1/3) = 0.4.
    # No shared bigram ("the the" is not in the reference): BLEU = 0, ROUGE-2 = 0.
    # ROUGE-L: LCS = 2 ("the ... the") -> 0.4.
    scores = text_scores("the the the the", "the cat is on the mat")
    assert scores.bleu4 == 0.0
    assert scores.rouge1 == pytest.approx(40.0, abs=TOL)
    assert scores.rouge2 == 0.0
    assert scores.rougeL == pytest.approx(40.0, abs=TOL)
    # answer = (0 + 40 + 0 + 40) / 400 / 0.8 = 0.25
    answer = _answer_reward("the the the the", "the cat is on the mat")
    assert answer == pytest.approx(0.25, abs=TOL)


def test_no_overlap_earns_zero_not_negative():
    assert _answer_reward("completely unrelated words here", "disk quota exceeded on node") == 0.0


def test_case_matters():
    # "Disk" and "disk" are different words.
    reference = "disk is full on node"
    hypothesis = "Disk is full on node"
    # unigrams 4/5, bigrams 3/4, trigrams 2/3, 4-grams 1/2, BP = 1
    # BLEU = (4/5 * 3/4 * 2/3 * 1/2) ** (1/4) = 0.2 ** 0.25
    # ROUGE-1 = 4/5, ROUGE-2 = 3/4, ROUGE-L = LCS 4 / 5 = 4/5
    scores = text_scores(hypothesis, reference)
    assert scores.bleu4 == pytest.approx(100 * 0.2 ** 0.25, abs=TOL)
    assert scores.rouge1 == pytest.approx(80.0, abs=TOL)
    assert scores.rouge2 == pytest.approx(75.0, abs=TOL)
    assert scores.rougeL == pytest.approx(80.0, abs=TOL)
    assert _answer_reward(hypothesis, reference) < 1.25
    assert text_scores("DISK IS FULL ON NODE", reference).rouge1 == 0.0


def test_empty_answer():
    reference = "disk is full on node seven"
    assert text_scores("", reference) == text_scores("   \n\t", reference)
    assert text_scores("", reference).bleu4 == 0.0
    assert text_scores("", reference).mean_fraction == 0.0
    # An empty reference scores nothing either (no division by zero).
    assert text_scores("disk is full", "").mean_fraction == 0.0
    task = get_task("log_interpretation")
    for completion in ("<think>x</think><answer></answer>",
                       "<think>x</think><answer>  \n</answer>"):
        reward = task.score(completion, reference)
        # well-formed but empty: format 0.1, answer -1.0, total -0.9
        assert (reward.format, reward.answer) == (0.1, -1.0)
        assert reward.total == pytest.approx(-0.9, abs=TOL)


def test_whitespace_is_only_a_separator():
    reference = "disk is full on node seven"
    assert text_scores("  disk\tis\n full on   node seven ", reference) == text_scores(reference,
                                                                                       reference)


# -- the bit-parallel LCS -----------------------------------------------------------------------
def _lcs_dp(a: list[str], b: list[str]) -> int:
    """The textbook O(n*m) longest common subsequence."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def test_lcs_hand_cases():
    assert TextReference("a b c d").lcs_length("a c d".split()) == 3
    assert TextReference("a b c d").lcs_length("d c b a".split()) == 1
    assert TextReference("a b a b").lcs_length("b a b a".split()) == 3
    assert TextReference("").lcs_length("a b".split()) == 0
    assert TextReference("a b").lcs_length([]) == 0


def test_bit_parallel_lcs_equals_dynamic_programming():
    rng = np.random.default_rng(20240611)
    vocabulary = [f"w{i}" for i in range(12)]
    checked = 0
    for trial in range(3000):
        # mostly short, some past 64 and 128 words to cross machine-word boundaries
        upper = 150 if trial % 10 == 0 else 40
        size = int(rng.integers(2, len(vocabulary) + 1))  # small vocabularies -> many matches
        ref = list(rng.choice(vocabulary[:size], size=int(rng.integers(0, upper))))
        hyp = list(rng.choice(vocabulary[:size], size=int(rng.integers(0, upper))))
        got = TextReference(" ".join(ref)).lcs_length(hyp)
        assert got == _lcs_dp(hyp, ref), (ref, hyp)
        checked += 1
    assert checked == 3000
