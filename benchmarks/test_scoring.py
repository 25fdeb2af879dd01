"""Scoring throughput under the ``rlog`` scheme, one core: answers scored per second per task,
and two ratios measured in one process (the machine is shared and noisy, so only ratios are
asserted; the absolute figures go into BENCHMARKS.md):

- the fast text scorer against a straightforward implementation of the same formulas (answer
  by answer, Counter n-grams, the plain O(n·m) LCS table), with identical scores;
- a GRPO group scored as a batch (``Task.score_group``) against one ``score`` call per answer.

Answers are realistic completions: ``<think>…</think><answer>…</answer>`` whose answers are
~100-word perturbations (chunk shuffles, repeats, substitutions) of real LogLM root-cause
references (the simulator's when ``RLOG_DATA_DIR`` lacks LogLM), real LogHub templates and their
variants, and normal/abnormal labels.

Run: ``pytest benchmarks/test_scoring.py --benchmark-only`` (figures), or
``pytest benchmarks --benchmark-disable -q`` (the ratio tests only, quick).
"""

from __future__ import annotations

import gc
import math
import random
import time
from collections import Counter
from functools import lru_cache

import pytest

from rlog_env.datasets import load_source
from rlog_env.tasks import get_task
from rlog_env.tasks.base import Reward
from rlog_env.tasks.text_metrics import TextScores
from rlog_env.tasks.text_tasks import rlog_text_reward

ANSWERS = 2000
GROUP = 8


# -- realistic completions -----------------------------------------------------------------------
def _text_references() -> list[str]:
    try:
        samples = load_source("loglm", "root_cause_analysis", split="test").samples
    except Exception:  # no LogLM under RLOG_DATA_DIR: the simulator's references
        source = load_source("sim", "root_cause_analysis")
        samples = [source.sample(i) for i in range(50)]
    return [s.reference for s in samples if len(s.reference.split()) >= 4]


def _perturbed(words: list[str], rng: random.Random, pool: list[str], size: int = 100) -> str:
    """~``size`` words: the reference and repeats of its phrases and other words, shuffled in
    chunks of 3-8 words, with five words replaced."""
    out = list(words)
    while len(out) < size:
        k, start = rng.randint(3, 10), rng.randrange(len(words))
        out.extend(words[start:start + k] if rng.random() < 0.6 else rng.sample(pool, k))
    chunks = [out[i:i + rng.randint(3, 8)] for i in range(0, len(out), 6)]
    rng.shuffle(chunks)
    out = [w for chunk in chunks for w in chunk]
    for _ in range(5):
        out[rng.randrange(len(out))] = rng.choice(pool)
    return " ".join(out[:size])


@lru_cache(maxsize=None)
def text_cases(count: int = ANSWERS) -> tuple[tuple[str, str, str], ...]:
    """(completion, reference, logs): GROUP answers per reference, consecutively (GRPO's order)."""
    refs = _text_references()
    pool = [w for r in refs for w in r.split()]
    rng = random.Random(0)
    cases = []
    for i in range(count):
        ref = refs[(i // GROUP) % len(refs)]
        answer = _perturbed(ref.split(), rng, pool)
        cases.append((f"<think>Step {i}: the errors start after the restart, so the cause "
                      f"comes before it.</think><answer>{answer}</answer>", ref, ""))
    return tuple(cases)


@lru_cache(maxsize=None)
def parsing_cases(count: int = ANSWERS) -> tuple[tuple[str, str, str], ...]:
    samples = load_source("loghub", "log_parsing", split="test").samples
    rng = random.Random(0)
    cases = []
    for i in range(count):
        s = samples[((i // GROUP) * 7) % len(samples)]
        k = rng.random()
        answer = (s.reference if k < 0.4 else s.logs if k < 0.5
                  else s.reference.replace("<*>", "<*> <*>", 1) if k < 0.7 else s.reference.lower())
        cases.append((f"<think>Numbers and ids are variables.</think><answer>{answer}</answer>",
                      s.reference, s.logs))
    return tuple(cases)


@lru_cache(maxsize=None)
def anomaly_cases(count: int = ANSWERS) -> tuple[tuple[str, str, str], ...]:
    rng = random.Random(0)
    labels = ("normal", "abnormal")
    cases = []
    for i in range(count):
        label = labels[(i // GROUP) % 2]
        cases.append((f"<think>Line {i} reports {'a retry' if i % 3 else 'a fatal error'}."
                      f"</think><answer>{rng.choice(labels)}</answer>", label, ""))
    return tuple(cases)


CASES = {"anomaly_detection": anomaly_cases, "log_parsing": parsing_cases,
         "root_cause_analysis": text_cases}


# -- the straightforward implementation of the same formulas -------------------------------------
def _ngram_counts(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def _lcs_table(a: list[str], b: list[str]) -> int:
    """The textbook O(n·m) longest common subsequence."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _f1(overlap: int, hyp_total: int, ref_total: int) -> float:
    if overlap == 0 or hyp_total <= 0 or ref_total <= 0:
        return 0.0
    precision, recall = overlap / hyp_total, overlap / ref_total
    return 2 * precision * recall / (precision + recall)


def straightforward_scores(answer: str, reference: str) -> TextScores:
    """BLEU-4 and ROUGE-1/2/L as the R-Log text reward defines them, nothing precomputed."""
    hyp, ref = answer.split(), reference.split()
    h, r = len(hyp), len(ref)
    if h == 0 or r == 0:
        return TextScores(0.0, 0.0, 0.0, 0.0)
    overlaps = [sum((_ngram_counts(hyp, n) & _ngram_counts(ref, n)).values()) for n in (1, 2, 3, 4)]
    rouge1 = _f1(overlaps[0], h, r)
    rouge2 = _f1(overlaps[1], h - 1, r - 1)
    rouge_l = _f1(_lcs_table(hyp, ref), h, r)
    bleu = 0.0
    if h >= 4 and all(overlaps):  # unsmoothed: 0 as soon as one precision is 0
        log_precision = 0.0
        for n in (1, 2, 3, 4):
            log_precision += math.log(overlaps[n - 1] / (h - n + 1))
        brevity = 1.0 if h >= r else math.exp(1 - r / h)
        bleu = brevity * math.exp(log_precision / 4)
    return TextScores(100 * bleu, 100 * rouge1, 100 * rouge2, 100 * rouge_l)


def straightforward_reward(completion: str, reference: str) -> Reward:
    """The ``rlog`` reward of a think-first text completion, answer by answer."""
    task = get_task("root_cause_analysis")
    parsed = task.parse(completion)
    if not parsed.well_formed or not parsed.answer:
        fmt = 0.1 if parsed.well_formed else -1.0
        return Reward(fmt - 1.0, fmt, -1.0, {"well_formed": parsed.well_formed,
                                             "answer_empty": True})
    s = straightforward_scores(parsed.answer, reference)
    answer = rlog_text_reward(s.mean_fraction)
    return Reward(0.1 + answer, 0.1, answer,
                  {"well_formed": True, "answer_empty": False, "bleu4": s.bleu4,
                   "rouge1": s.rouge1, "rouge2": s.rouge2, "rougeL": s.rougeL})


# -- timing helpers ------------------------------------------------------------------------------
def best_seconds(fn, rounds: int) -> float:
    """The fastest of ``rounds`` runs of ``fn()`` (the least disturbed by other processes)."""
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def interleaved_best(fns: dict, rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` seconds of each function, the functions taking turns each round, so a
    burst of load elsewhere slows them alike. The garbage collector is off while they run, as
    ``timeit`` does: its collections fall at fixed allocation counts, so they can land in every
    round of one function, and in a process that has loaded a model (CI's quick mode runs every
    benchmark in one process) a full collection costs more than a round."""
    best = dict.fromkeys(fns, math.inf)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in fns.items():
                start = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - start)
    finally:
        if was_enabled:
            gc.enable()
    return best


# -- throughput (pytest-benchmark) ---------------------------------------------------------------
def _record(benchmark, answers: int) -> None:
    if benchmark.stats is None:  # --benchmark-disable: run once, nothing timed
        return
    benchmark.extra_info["per_second"] = answers / benchmark.stats.stats.mean
    benchmark.extra_info["best_per_second"] = answers / benchmark.stats.stats.min


@pytest.mark.parametrize("task_name", list(CASES))
def test_answers_per_second(benchmark, task_name):
    task = get_task(task_name)
    cases = CASES[task_name]()

    def run():
        for completion, reference, logs in cases:
            task.score(completion, reference, logs)

    benchmark.pedantic(run, rounds=7, warmup_rounds=1)
    _record(benchmark, len(cases))


@pytest.mark.parametrize("task_name", list(CASES))
def test_group_answers_per_second(benchmark, task_name):
    task = get_task(task_name)
    cases = CASES[task_name]()
    groups = [cases[i:i + GROUP] for i in range(0, len(cases), GROUP)]
    groups = [([c for c, _, _ in g], g[0][1], g[0][2]) for g in groups]

    def run():
        for completions, reference, logs in groups:
            task.score_group(completions, reference, logs)

    benchmark.pedantic(run, rounds=7, warmup_rounds=1)
    _record(benchmark, len(cases))


# -- ratios (no benchmark fixture: these run in quick mode too) ----------------------------------
def test_fast_text_scores_equal_the_straightforward_ones():
    task = get_task("root_cause_analysis")
    cases = text_cases()
    assert len(cases) >= 2000
    for completion, reference, _ in cases:
        fast = task.score(completion, reference)
        slow = straightforward_reward(completion, reference)
        assert fast == slow, (completion, reference)  # every float, bit for bit


def test_fast_text_scorer_is_5x_the_straightforward_one():
    task = get_task("root_cause_analysis")
    cases = text_cases()[:200]

    def fast():
        for completion, reference, _ in cases:
            task.score(completion, reference)

    def slow():
        for completion, reference, _ in cases:
            straightforward_reward(completion, reference)

    best = interleaved_best({"fast": fast, "slow": slow}, rounds=5)
    ratio = best["slow"] / best["fast"]
    print(f"\nfast {len(cases) / best['fast']:,.0f}/s, straightforward "
          f"{len(cases) / best['slow']:,.0f}/s: {ratio:.1f}x")
    assert ratio >= 5.0


@pytest.mark.parametrize("task_name", list(CASES))
def test_group_scoring_is_at_least_one_by_one(task_name):
    task = get_task(task_name)
    # Short rounds, many of them, taking turns: the best round of each is the least disturbed.
    text = task_name == "root_cause_analysis"
    cases = CASES[task_name]()[:80 if text else 400]
    groups = [cases[i:i + GROUP] for i in range(0, len(cases), GROUP)]
    groups = [([c for c, _, _ in g], g[0][1], g[0][2]) for g in groups]
    for completions, reference, logs in groups:
        assert task.score_group(completions, reference, logs) == [
            task.score(c, reference, logs) for c in completions]

    def one_by_one():
        for completion, reference, logs in cases:
            task.score(completion, reference, logs)

    def grouped():
        for completions, reference, logs in groups:
            task.score_group(completions, reference, logs)

    best = interleaved_best({"one": one_by_one, "group": grouped}, rounds=60 if text else 40)
    ratio = best["one"] / best["group"]
    print(f"\n{task_name}: one by one {len(cases) / best['one']:,.0f}/s, grouped "
          f"{len(cases) / best['group']:,.0f}/s: {ratio:.2f}x")
    if text:
        # One by one, the cached analysis is found again for each answer, and the answers of a
        # group are all different: the same work either way (that the analysis happens once per
        # group is tests/tasks/test_score_group.py's to show). Measured 0.87-1.45x on the shared
        # 2-core machine for equal work: this only guards against a grouped path markedly slower.
        assert ratio >= 0.8
    else:
        # Labels and templates recur within a group: each distinct answer is judged once.
        assert ratio >= 1.0


@pytest.mark.parametrize("task_name", list(CASES))
def test_trl_pair_shares_its_judgement(task_name):
    """TRL calls the format function, then the answer function, on one batch: the pair made by
    ``trl_reward_functions`` shares the group's judgement, so it costs less than two functions
    that each judge the batch (what they did before), and about one scoring pass."""
    from rlog_env.tasks import AnswerReward, FormatReward, trl_reward_functions

    text = task_name == "root_cause_analysis"
    cases = CASES[task_name]()[:80 if text else 400]
    columns = {"reference": [r for _, r, _ in cases], "logs": [lg for _, _, lg in cases]}
    completions = [c for c, _, _ in cases]

    def shared():
        for fn in trl_reward_functions(task_name):  # a fresh pair: nothing cached from before
            fn(completions=completions, **columns)

    def separate():
        for fn in (FormatReward(task_name), AnswerReward(task_name)):  # a cache each
            fn(completions=completions, **columns)

    best = interleaved_best({"shared": shared, "separate": separate}, rounds=40)
    ratio = best["separate"] / best["shared"]
    print(f"\n{task_name}: two judging functions / the sharing pair {ratio:.2f}x")
    # Judging twice is 2x (measured 1.9-2.0x for every task); generous for the shared machine.
    assert ratio >= 1.5
