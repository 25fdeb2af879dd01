"""The format rule and the reward bounds, for every task x format x scheme, on real samples."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlog_env.tasks import FORMATS, TASKS, FormatReward, get_task, text_task_names
from rlog_env.tasks.anomaly_detection import AnomalyDetection
from rlog_env.tasks.log_parsing import LogParsing

# The schemes that score any sample; "grounded" needs key facts (tests/tasks/test_grounding.py).
SCHEMES = ("rlog", "unit")

TOL = 1e-12
COMBOS = list(itertools.product(TASKS, FORMATS, SCHEMES))
TAGGED = [f for f in FORMATS if f != "none"]

THINK, END_THINK, ANSWER, END_ANSWER = "<think>", "</think>", "<answer>", "</answer>"


def layout(reasoning: str, answer: str, think: str = "Because the logs say so.") -> str:
    """A well-formed completion of ``reasoning`` with this answer."""
    if reasoning == "think-first":
        return f"{THINK}{think}{END_THINK}{ANSWER}{answer}{END_ANSWER}"
    if reasoning == "answer-first":
        return f"{ANSWER}{answer}{END_ANSWER}{THINK}{think}{END_THINK}"
    return answer


def top_reward(task_name: str, scheme: str) -> float:
    if scheme == "unit":
        return 1.0
    return 0.1 + TASKS[task_name].rlog_answer_range[1]  # the task's own answer range


def bottom_reward(scheme: str) -> float:
    return -2.0 if scheme == "rlog" else 0.0


def format_penalty(scheme: str) -> tuple[float, float, float]:
    """(total, format, answer) of a malformed completion."""
    return (-2.0, -1.0, -1.0) if scheme == "rlog" else (0.0, 0.0, 0.0)


def expect_well_formed(completion: str, reasoning: str) -> tuple[bool, str | None]:
    """Independent statement of the R-Log rule: (well formed, stripped answer)."""
    if reasoning == "none":
        answer = completion.strip()
        return bool(answer), answer or None
    order = [THINK, END_THINK, ANSWER, END_ANSWER]
    if reasoning == "answer-first":
        order = [ANSWER, END_ANSWER, THINK, END_THINK]
    if any(completion.count(tag) != 1 for tag in order):
        return False, None
    starts = [completion.find(tag) for tag in order]
    if not all(a < b for a, b in zip(starts, starts[1:])):
        return False, None
    i = order.index(ANSWER)
    return True, completion[starts[i] + len(ANSWER): starts[i + 1]].strip()


def check_invariants(task, completion: str, reference: str, logs: str):
    """Score and check what holds for every completion; return the reward."""
    reward = task.score(completion, reference, logs)
    low, high = task.reward_range
    for value in (reward.total, reward.format, reward.answer):
        assert isinstance(value, float) and math.isfinite(value)
    assert low <= reward.total <= high
    assert reward.total == reward.format + reward.answer  # exactly, no rounding slack
    well_formed, answer = expect_well_formed(completion, task.reasoning)
    if task.reward == "rlog":
        assert reward.format == (0.1 if well_formed else -1.0)
        if not answer:
            assert reward.answer == -1.0
    else:
        assert reward.format == (0.1 if well_formed else 0.0)
        if not answer:
            assert reward.answer == 0.0
    assert task.parse(completion).well_formed == well_formed
    assert task.parse(completion).answer == (answer if well_formed else None)
    return reward


@pytest.fixture(scope="module")
def one_sample(real_samples):
    return {name: samples[0] for name, samples in real_samples.items()}


# -- top and bottom -----------------------------------------------------------------------------
@pytest.mark.parametrize("task_name, reasoning, scheme", COMBOS)
def test_reference_earns_top_and_empty_earns_bottom(real_samples, task_name, reasoning, scheme):
    task = get_task(task_name, reasoning, scheme)
    top, bottom = top_reward(task_name, scheme), bottom_reward(scheme)
    assert task.reward_range == pytest.approx((bottom, top), abs=TOL)
    for sample in real_samples[task_name]:
        reward = task.reward_for(task.reference_completion(sample), sample)
        assert reward.total == pytest.approx(top, abs=TOL), sample
        assert reward.total == task.reward_range[1]
        assert reward.format == 0.1
        empty = task.reward_for("", sample)
        assert (empty.total, empty.format, empty.answer) == format_penalty(scheme)
        assert task.reward_for(" \n\t ", sample).total == bottom
        if reasoning != "none":
            # the right answer without tags is a format error
            bare = task.reward_for(sample.reference, sample)
            assert (bare.total, bare.format, bare.answer) == format_penalty(scheme)
            assert bare.total == bottom


# -- the format rule ----------------------------------------------------------------------------
def _malformed(reasoning: str, answer: str) -> dict[str, str]:
    """Completions that break the rule, for a tagged format."""
    other = "answer-first" if reasoning == "think-first" else "think-first"
    good = layout(reasoning, answer)
    return {
        "wrong order": layout(other, answer),
        "answer twice, two answers": good + f"{ANSWER}something else{END_ANSWER}",
        "same answer twice": good + f"{ANSWER}{answer}{END_ANSWER}",
        "think twice": good + f"{THINK}more{END_THINK}",
        "nested answer in think": f"{THINK}t {ANSWER}{answer}{END_ANSWER}{END_THINK}",
        "nested think in answer": f"{ANSWER}{answer} {THINK}t{END_THINK}{END_ANSWER}",
        "capitalised": good.replace("answer>", "ANSWER>").replace("think>", "THINK>"),
        "capitalised answer only": good.replace("<answer>", "<ANSWER>").replace(
            "</answer>", "</ANSWER>"),
        "title case": good.replace("<answer>", "<Answer>"),
        "unclosed answer": good.replace(END_ANSWER, ""),
        "unclosed think": good.replace(END_THINK, ""),
        "no think": f"{ANSWER}{answer}{END_ANSWER}",
        "no answer": f"{THINK}t{END_THINK}",
        "spaced tag": good.replace("<answer>", "<answer >"),
        "closing tags swapped": good.replace(END_ANSWER, "\0").replace(END_THINK, END_ANSWER)
                                    .replace("\0", END_THINK),
        "closing before opening": good.replace(ANSWER, "\0").replace(END_ANSWER, ANSWER)
                                      .replace("\0", END_ANSWER),
    }


@pytest.mark.parametrize("task_name, reasoning, scheme",
                         [c for c in COMBOS if c[1] != "none"])
def test_format_rule(one_sample, task_name, reasoning, scheme):
    sample = one_sample[task_name]
    task = get_task(task_name, reasoning, scheme)
    ref = sample.reference
    top = top_reward(task_name, scheme)
    # each tag exactly once and in order; text around the tags and whitespace are allowed
    for completion in (layout(reasoning, ref), "Sure. " + layout(reasoning, ref) + " Done.",
                       layout(reasoning, f"\n  {ref}\n"), layout(reasoning, ref, think=""),
                       layout(reasoning, ref).replace(END_THINK, END_THINK + "\n\n")):
        reward = check_invariants(task, completion, ref, sample.logs)
        assert reward.total == pytest.approx(top, abs=TOL), completion
    for name, completion in _malformed(reasoning, ref).items():
        reward = check_invariants(task, completion, ref, sample.logs)
        assert (reward.total, reward.format, reward.answer) == format_penalty(scheme), name
    # an empty answer inside well-formed tags: the format is right, the answer is not
    for blank in ("", "   ", "\n\t"):
        reward = check_invariants(task, layout(reasoning, blank), ref, sample.logs)
        if scheme == "rlog":
            assert (reward.format, reward.answer) == (0.1, -1.0)
            assert reward.total == pytest.approx(-0.9, abs=TOL)
        else:
            assert (reward.format, reward.answer, reward.total) == (0.1, 0.0, 0.1)


def test_none_format_takes_the_whole_completion():
    task = get_task("anomaly_detection", "none")
    assert task.score("  abnormal \n", "abnormal").total == pytest.approx(1.1, abs=TOL)
    # tags are just text there: the answer is not the word "abnormal"
    reward = task.score("<answer>abnormal</answer>", "abnormal")
    assert (reward.format, reward.answer) == (0.1, -1.0)


# -- anomaly-detection labels -------------------------------------------------------------------
@pytest.mark.parametrize("reasoning", FORMATS)
def test_anomaly_labels(reasoning):
    rlog = get_task("anomaly_detection", reasoning)
    unit = get_task("anomaly_detection", reasoning, "unit")
    for answer in ("abnormal", "Abnormal ", "ABNORMAL", "\n abnormal\t"):
        assert rlog.score(layout(reasoning, answer), "abnormal").answer == 1.0
        unit_total = unit.score(layout(reasoning, answer), "abnormal").total
        assert unit_total == pytest.approx(1.0, abs=TOL)
    assert rlog.score(layout(reasoning, "Normal"), "normal").answer == 1.0
    for answer in ("normal abnormal", "abnormal.", "not normal", "anomalous", "normal",
                   "abnormal abnormal", "ab normal"):
        reward = rlog.score(layout(reasoning, answer), "abnormal")
        assert (reward.format, reward.answer) == (0.1, -1.0), answer
        assert unit.score(layout(reasoning, answer), "abnormal").total == 0.1
    # the reference label is compared the same way
    assert rlog.score(layout(reasoning, "abnormal"), " Abnormal\n").answer == 1.0


# -- hostile answers ----------------------------------------------------------------------------
HOSTILE_ANSWERS = {
    "NUL bytes": "abnormal\x00\x00 normal \x00<*>\x00",
    "only NUL": "\x00" * 64,
    "unpaired surrogates": "\ud800 ab\udfffcd \udbff<*>\udc00",
    "control characters": "".join(chr(i) for i in range(32)) + "\x7f\x85\x9f abnormal",
    "RTL marks": "\u202eabnormal\u202c \u200f<*>\u200e \u2066x\u2069",
    "zero-width and BOM": "\ufeff\u200b\u200c\u200d abnormal \u2060",
    "replacement and private use": "\ufffd\ue000\U0010ffff \U0001f4a5",
    "combining marks": "a\u0301\u0302\u0303" * 50,
    "lone punctuation": "<<<>>>***(((]]]",
    "lookalike tags": "<answer\u200b>x</answer\u200b> ＜answer＞x＜/answer＞",
    "long line": "x" * 100_000,
    "many short words": "a " * 50_000,
}


@pytest.mark.parametrize("task_name, reasoning, scheme", COMBOS)
def test_hostile_answers_never_raise(one_sample, task_name, reasoning, scheme):
    sample = one_sample[task_name]
    task = get_task(task_name, reasoning, scheme)
    for name, answer in HOSTILE_ANSWERS.items():
        # inside well-formed tags, and as the whole completion
        for completion in (layout(reasoning, answer), answer):
            check_invariants(task, completion, sample.reference, sample.logs)
    if reasoning != "none":
        # two answers, and tags hidden in the hostile text: format penalty
        for completion in (layout(reasoning, "normal") + f"{ANSWER}abnormal{END_ANSWER}",
                           layout(reasoning, "\x00" + END_ANSWER + "\ud800"),
                           layout(reasoning, "\u202e" + THINK + "x")):
            reward = check_invariants(task, completion, sample.reference, sample.logs)
            assert (reward.total, reward.format, reward.answer) == format_penalty(scheme)


def _fill(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


@pytest.mark.parametrize("task_name", list(TASKS))
def test_two_megabyte_answers(one_sample, task_name):
    # ~2 MB answers (the parsing tokeniser walks them character by character: ~1 s each, so
    # each answer runs under one scheme only).
    sample = one_sample[task_name]
    size = 2_000_000
    answers = [
        ("rlog", _fill(sample.reference + " ", size)),
        ("unit", _fill("\x00 \ud800 abnormal <*> \u202e, blk_<*>(x=1) ", size)),
    ]
    for scheme, answer in answers:
        assert len(answer) == size
        task = get_task(task_name, "think-first", scheme)
        check_invariants(task, layout("think-first", answer), sample.reference, sample.logs)
        # malformed, megabytes long: the penalty
        for completion in (layout("think-first", answer) + END_ANSWER, answer):
            reward = check_invariants(task, completion, sample.reference, sample.logs)
            assert (reward.total, reward.format, reward.answer) == format_penalty(scheme)


# -- properties ---------------------------------------------------------------------------------
ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates included
PIECES = st.sampled_from([THINK, END_THINK, ANSWER, END_ANSWER, "<ANSWER>", "</Think>", "<*>",
                          "abnormal", "normal", " ", "\n", "x", "<", ">", "/", "\x00", "\ud800",
                          "\u202e"])
SOUP = st.lists(st.one_of(PIECES, st.text(ANY_CHAR, max_size=8)), max_size=14).map("".join)


def _all_tasks(one_sample):
    return [(get_task(name, reasoning, scheme), one_sample[name])
            for name, reasoning, scheme in COMBOS]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(ANY_CHAR, max_size=200))
def test_any_text_is_scored_within_range(one_sample, text):
    for task, sample in _all_tasks(one_sample):
        check_invariants(task, text, sample.reference, sample.logs)
        check_invariants(task, layout(task.reasoning, text), sample.reference, sample.logs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(soup=SOUP)
def test_tag_soup_is_scored_within_range(one_sample, soup):
    for task, sample in _all_tasks(one_sample):
        check_invariants(task, soup, sample.reference, sample.logs)


@settings(max_examples=100, deadline=None)
@given(answer=st.text(ANY_CHAR, max_size=60), reference=st.text(ANY_CHAR, max_size=60),
       logs=st.text(ANY_CHAR, max_size=60))
def test_arbitrary_references_and_logs(answer, reference, logs):
    # references and logs from a source are data, but scoring must not fall over on odd ones
    for name, reasoning, scheme in COMBOS:
        task = get_task(name, reasoning, scheme)
        check_invariants(task, layout(reasoning, answer), reference, logs)


# -- bad configuration --------------------------------------------------------------------------
def test_unknown_task_names_the_tasks():
    with pytest.raises(ValueError) as error:
        get_task("x")
    for name in TASKS:
        assert name in str(error.value)
    assert "'x'" in str(error.value)


@pytest.mark.parametrize("factory", [
    lambda **kw: get_task("log_parsing", **kw),
    lambda **kw: LogParsing(**kw),
    lambda **kw: AnomalyDetection(**kw),
    lambda **kw: FormatReward("anomaly_detection", **kw),
])
def test_bad_reasoning_and_reward_name_the_valid_values(factory):
    with pytest.raises(ValueError) as error:
        factory(reasoning="cot")
    for value in FORMATS:
        assert repr(value) in str(error.value)
    assert "'cot'" in str(error.value)
    with pytest.raises(ValueError) as error:
        factory(reward="foo")
    for value in SCHEMES:
        assert repr(value) in str(error.value)
    assert "'foo'" in str(error.value)


def test_non_string_completion_is_a_type_error():
    with pytest.raises(TypeError):
        get_task("anomaly_detection").score(None, "abnormal")  # type: ignore[arg-type]


@pytest.mark.parametrize("task_name", text_task_names())
def test_unit_scheme_tops_short_text_references(task_name):
    # Under "unit" the reference earns 1.0 whatever its length; under "rlog" a reference of fewer
    # than four words has no BLEU-4: "disk full" earns (0 + 100 + 100 + 100) / 400 / 0.8 = 0.9375.
    for reasoning in FORMATS:
        unit = get_task(task_name, reasoning, "unit")
        rlog = get_task(task_name, reasoning, "rlog")
        for reference in ("disk full", "timeout", "disk is full"):
            assert unit.score(layout(reasoning, reference), reference).total == 1.0
        assert rlog.score(layout(reasoning, "disk full"), "disk full").answer == pytest.approx(
            0.9375, abs=TOL)
